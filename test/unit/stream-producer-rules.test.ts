import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { decideProducer, type ProducerMark } from '../../src/streams/producer-rules.ts'

const MAX = Number.MAX_SAFE_INTEGER

describe('idempotent producer rules (PROTOCOL.md §5.2.1)', () => {
  test('a new producer starts at seq 0, at any epoch', () => {
    expect(decideProducer(undefined, { epoch: 0, seq: 0 })).toEqual({ kind: 'append', mark: { epoch: 0, seq: 0 } })
    expect(decideProducer(undefined, { epoch: 7, seq: 0 })).toEqual({ kind: 'append', mark: { epoch: 7, seq: 0 } })
  })
  test('a new producer past seq 0 has a gap from 0', () => {
    expect(decideProducer(undefined, { epoch: 0, seq: 3 })).toEqual({ kind: 'gap', expectedSeq: 0, receivedSeq: 3 })
  })
  test('the next seq is appended', () => {
    expect(decideProducer({ epoch: 0, seq: 0 }, { epoch: 0, seq: 1 })).toEqual({ kind: 'append', mark: { epoch: 0, seq: 1 } })
  })
  test('a seq already accepted is a duplicate answered with the highest accepted, not the request’s', () => {
    expect(decideProducer({ epoch: 0, seq: 5 }, { epoch: 0, seq: 5 })).toEqual({ kind: 'duplicate', highestSeq: 5 })
    expect(decideProducer({ epoch: 0, seq: 5 }, { epoch: 0, seq: 0 })).toEqual({ kind: 'duplicate', highestSeq: 5 })
  })
  test('a skipped seq is a gap naming the expected and the received', () => {
    expect(decideProducer({ epoch: 2, seq: 1 }, { epoch: 2, seq: 3 })).toEqual({ kind: 'gap', expectedSeq: 2, receivedSeq: 3 })
  })
  test('an older epoch is fenced with the current one', () => {
    expect(decideProducer({ epoch: 1, seq: 0 }, { epoch: 0, seq: 9 })).toEqual({ kind: 'stale-epoch', currentEpoch: 1 })
  })
  test('a newer epoch must start at seq 0', () => {
    expect(decideProducer({ epoch: 0, seq: 4 }, { epoch: 1, seq: 0 })).toEqual({ kind: 'append', mark: { epoch: 1, seq: 0 } })
    expect(decideProducer({ epoch: 0, seq: 4 }, { epoch: 1, seq: 5 })).toEqual({ kind: 'epoch-needs-seq-0' })
  })
  test('the bounds of the protocol: seq and epoch up to 2^53-1', () => {
    expect(decideProducer({ epoch: MAX, seq: MAX - 1 }, { epoch: MAX, seq: MAX })).toEqual({
      kind: 'append',
      mark: { epoch: MAX, seq: MAX },
    })
    expect(decideProducer({ epoch: MAX, seq: MAX }, { epoch: MAX, seq: MAX })).toEqual({ kind: 'duplicate', highestSeq: MAX })
  })
  test('replaying any accepted request later never appends it twice', () => {
    // A producer sends 0..n-1 in one epoch; every request is retried at random points; the stored seqs stay 0..n-1.
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 30 }), { maxLength: 60 }), (retries) => {
        let kept: ProducerMark | undefined
        const stored: number[] = []
        let next = 0
        for (const retry of retries) {
          const seq = Math.min(retry, next)
          const decision = decideProducer(kept, { epoch: 0, seq })
          if (decision.kind === 'append') {
            kept = decision.mark
            stored.push(seq)
            next++
          } else expect(decision.kind).toBe('duplicate')
        }
        expect(stored).toEqual([...Array(next).keys()])
      }),
    )
  })
})

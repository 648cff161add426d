import { accept, type Parsed, refuse } from './parsed.ts'

/**
 * Durable Streams offsets, from a log's seqs. The offset of a position is `0000000000000000_` then the seq of the
 * entry before it, both 16 decimal digits: the start is `0000000000000000_0000000000000000` and the tail is the head's.
 * That is the reference server's shape, which the conformance suite hard-codes (a fork at the start, and
 * `9999999999999999_9999999999999999` for "beyond the stream"); the first part is reserved and always 0. Fixed width
 * makes lexicographic order the order of the stream (the protocol lets clients compare offsets as strings), and
 * accepting only this canonical form gives each position exactly one offset.
 */

/** The reserved first part of every offset, with its separator. */
const OFFSET_HEAD = '0000000000000000_'
/** Digits of the seq part. */
const SEQ_DIGITS = 16
const OFFSET = /^([0-9]{16})_([0-9]{16})$/

/** The offset after the entry `seq` (0: the start of the stream). A programming error for anything but a safe seq. */
export function encodeOffset(seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`no offset for seq ${seq}`)
  return OFFSET_HEAD + String(seq).padStart(SEQ_DIGITS, '0')
}

/** The offset of the start of every stream. */
export const START_OFFSET = encodeOffset(0)

/** The seq an offset stands after, for an offset this server could have handed out; a 400 for anything else. */
export function decodeOffset(text: string, field = 'offset'): Parsed<number> {
  const match = OFFSET.exec(text)
  if (!match) {
    return refuse(field, `${describe(text)} is not an offset: use one a response gave in Stream-Next-Offset, or -1 for the start.`)
  }
  const seq = Number(match[2])
  if (match[1] !== '0000000000000000' || !Number.isSafeInteger(seq)) {
    return refuse(field, `${describe(text)} is no position this server hands out: use one a response gave in Stream-Next-Offset.`)
  }
  return accept(seq)
}

/** Where a read starts: the start of the stream (`-1` or no offset), its tail when the request came (`now`), or after a seq. */
export type ReadFrom = { kind: 'start' } | { kind: 'now' } | { kind: 'after'; seq: number }

/**
 * The `offset` query parameter of a read. Missing means the start for a catch-up read, but is refused for a live one
 * (long-poll, SSE: the protocol requires it there); empty or repeated is refused.
 */
export function readFrom(params: URLSearchParams, live: boolean): Parsed<ReadFrom> {
  const values = params.getAll('offset')
  if (values.length > 1) return refuse('offset', 'Give one offset parameter, not several.')
  const [value] = values
  if (value === undefined) {
    return live
      ? refuse('offset', 'A live read needs an offset: -1 for the start, now for the tail, or a Stream-Next-Offset.')
      : accept({ kind: 'start' })
  }
  if (value === '')
    return refuse('offset', 'The offset parameter is empty: use -1 for the start, now for the tail, or a Stream-Next-Offset.')
  if (value === '-1') return accept({ kind: 'start' })
  if (value === 'now') return accept({ kind: 'now' })
  const seq = decodeOffset(value)
  return seq.ok ? accept({ kind: 'after', seq: seq.value }) : seq
}

/** Orders two offsets as the protocol lets a client do: as strings, which for canonical offsets is stream order. */
export function compareOffsets(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** A value as a sentence quotes it: JSON-quoted (control characters escaped) and cut to 40 characters. */
function describe(text: string): string {
  return text.length > 40 ? `${JSON.stringify(text.slice(0, 40))}…` : JSON.stringify(text)
}

import { describe, expect, test } from 'bun:test'
import { LineSplitter, type NdjsonLine, ndjsonLines, parseLine } from '../../src/publish/ndjson-lines.ts'

const bytes = (text: string) => new TextEncoder().encode(text)

/** Feeds `input` to a splitter `size` bytes at a time; the lines it gave, then what the stream ended with. */
function split(input: Uint8Array, size: number, maxBytes = 1 << 20) {
  const splitter = new LineSplitter(maxBytes)
  const lines: string[] = []
  for (let i = 0; i < input.length; i += size) lines.push(...splitter.push(input.subarray(i, i + size)))
  return { lines, last: splitter.end(), splitter }
}

describe('NDJSON lines', () => {
  test('the same lines whatever the chunking, a character cut between chunks decoded whole', () => {
    const text = '{"a":"é"}\n\n{"b":"😀 日本"}\r\n{"c":1}'
    for (const size of [1, 2, 3, 5, 7, 1000]) {
      expect(split(bytes(text), size)).toMatchObject({ lines: ['{"a":"é"}', '', '{"b":"😀 日本"}\r'], last: '{"c":1}' })
    }
    expect(split(bytes('x\n'), 1).last).toBeUndefined()
  })

  test('a long line sent a byte at a time is scanned once: the work is linear in its length', () => {
    const line = `{"delta":"${'x'.repeat(200_000)}"}`
    const { lines, splitter } = split(bytes(`${line}\n`), 1)
    expect(lines).toEqual([line])
    // Every byte looked at once; re-splitting what is pending on every chunk would look at ~n²/2 bytes.
    expect(splitter.scannedBytes).toBe(line.length + 1)
  })

  test('a line longer than the cap is refused as soon as it is, finished or not', () => {
    expect(() => split(bytes(`${'x'.repeat(11)}\n`), 3, 10)).toThrow(expect.objectContaining({ status: 413 }))
    expect(() => split(bytes('x'.repeat(11)), 3, 10)).toThrow(expect.objectContaining({ status: 413 }))
    expect(split(bytes(`${'é'.repeat(5)}\n`), 3, 10).lines).toEqual(['é'.repeat(5)])
  })

  test('a body yields its non-blank lines, numbered as an editor numbers them, the last one without a newline included', async () => {
    const body = new Response('{"a":1}\n  \n\n{"b":2}\n{"c":3}').body
    const lines: NdjsonLine[] = []
    for await (const line of ndjsonLines(body, 1000)) lines.push(line)
    expect(lines).toEqual([
      { number: 1, text: '{"a":1}' },
      { number: 4, text: '{"b":2}' },
      { number: 5, text: '{"c":3}' },
    ])
  })

  test('a line over the cap is named by its number', async () => {
    const body = new Response(`{"a":1}\n\n${'x'.repeat(20)}\n`).body
    const read = async () => {
      for await (const _ of ndjsonLines(body, 10));
    }
    await expect(read()).rejects.toMatchObject({
      status: 413,
      message: 'Line 3 of the body is over the limit of 10 bytes a line: send a long text as several events.',
    })
  })

  test('a line that is not JSON is named by its number, with what is wrong with it', () => {
    expect(() => parseLine({ number: 7, text: '{"type":"partial","delta":nul}' })).toThrow(
      expect.objectContaining({ status: 422, message: 'Line 7 of the body is not JSON: unexpected identifier "nul".' }),
    )
    // What the parser says is cut short, whatever the line.
    const long = (() => {
      try {
        parseLine({ number: 1, text: 'x'.repeat(100_000) })
      } catch (error) {
        return (error as Error).message
      }
    })()
    expect(long!.length).toBeLessThan(300)
    expect(parseLine({ number: 1, text: '{"a":1}' })).toEqual({ a: 1 })
  })
})

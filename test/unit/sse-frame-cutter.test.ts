import { expect, test } from 'bun:test'
import { FrameTooLarge, SseFrameCutter } from '../../src/steps/sse-frame-cutter.ts'

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array) => new TextDecoder().decode(data)

test('hands over whole frames only, however the stream is cut, and the unfinished rest at the end', () => {
  const stream = 'data: {"a":1}\n\ndata: {"b":2}\n\n: ping\n\ndata: {"c"'
  for (const size of [1, 2, 3, 7, 16, stream.length]) {
    const cutter = new SseFrameCutter(1024)
    const out: string[] = []
    for (let at = 0; at < stream.length; at += size) {
      const frames = text(cutter.push(bytes(stream.slice(at, at + size))))
      if (frames) {
        expect(frames.endsWith('\n\n')).toBe(true)
        out.push(frames)
      }
    }
    expect(out.join('')).toBe('data: {"a":1}\n\ndata: {"b":2}\n\n: ping\n\n')
    expect(text(cutter.rest())).toBe('data: {"c"')
  }
})

test('a frame of a megabyte sent a byte at a time is scanned once, byte by byte, and handed over whole', () => {
  const cutter = new SseFrameCutter(2 * 1024 * 1024)
  const frame = `data: "${'x'.repeat(1024 * 1024)}"\n\n`
  let handed = 0
  for (let at = 0; at < frame.length; at += 64) handed += cutter.push(bytes(frame.slice(at, at + 64))).length
  expect(handed).toBe(frame.length)
  expect(cutter.scanned).toBe(frame.length)
})

test('a frame that never ends is refused once it passes the bound', () => {
  const cutter = new SseFrameCutter(1000)
  let pushed = 0
  expect(() => {
    for (;;) {
      cutter.push(bytes('x'.repeat(100)))
      pushed += 100
    }
  }).toThrow(FrameTooLarge)
  expect(pushed).toBe(1000)
})

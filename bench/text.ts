/**
 * The text the echo step streams back: plain prose of an exact length. Letters, spaces, commas and full stops only,
 * so HTML escaping changes nothing and a character is a byte, which keeps the byte arithmetic of the answer-bytes
 * scenario exact.
 */
const PROSE =
  'A small robot woke up in a quiet workshop, counted the tools on the wall, and decided that today it would learn ' +
  'to paint. It mixed blue with yellow, made a green that looked like spring, and painted a field for the cat. '

/** `length` characters of prose; ASCII. */
export function proseOf(length: number): string {
  return PROSE.repeat(Math.ceil(length / PROSE.length)).slice(0, length)
}

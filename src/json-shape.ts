import { EVENT_TEXT_MAX_CHARS, MAX_EVENT_BYTES, MAX_EVENT_DEPTH, MAX_EVENT_NODES } from './limits.ts'

/** How far a JSON value may go. */
export interface JsonBounds {
  /** Levels of arrays and objects; the outermost counts as one. */
  depth: number
  /** Values of any kind. */
  nodes: number
  /** Characters (UTF-16 code units) of any one string, keys included. */
  stringChars: number
  /** Bytes of the value's JSON in UTF-8. */
  bytes: number
}

/** The bounds of one event (limits.ts). */
export const EVENT_BOUNDS: JsonBounds = {
  depth: MAX_EVENT_DEPTH,
  nodes: MAX_EVENT_NODES,
  stringChars: EVENT_TEXT_MAX_CHARS,
  bytes: MAX_EVENT_BYTES,
}

/** The first bound a value passes: `status` 413 for a size (a string, the bytes), 422 for a shape (depth, nodes). */
export interface JsonProblem {
  bound: keyof JsonBounds
  status: 413 | 422
  /** Says what passed which limit, as the end of a sentence: "is nested more than 64 levels deep (the limit)". */
  detail: string
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters JSON escapes are what it looks for.
const needsEscape = /["\\\u0000-\u001f\ud800-\udfff]/

/** Bytes of a string's JSON in UTF-8 (quotes and escapes included). Short strings (keys, mostly) are counted here. */
function jsonStringBytes(s: string): number {
  if (s.length > 32) return needsEscape.test(s) ? Buffer.byteLength(JSON.stringify(s)) : Buffer.byteLength(s) + 2
  let bytes = 2
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x20 && c < 0x80) bytes += c === 0x22 || c === 0x5c ? 2 : 1
    else if (c < 0x20) bytes += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4
      i++
    } else bytes += c >= 0xd800 && c < 0xe000 ? 6 : 3
  }
  return bytes
}

const n = (value: number) => value.toLocaleString('en')

/** What a value weighs, as measured: its bytes of JSON, its values, its levels; `problem` once a bound is passed. */
export interface JsonMeasure {
  bytes: number
  nodes: number
  depth: number
  problem?: JsonProblem
}

/**
 * Measures `value` against `bounds` and returns the first it passes, or undefined. Iterative, with a stack of its
 * own: a value nested 60,000 deep (JSON.parse makes one from 120 KB) must not overflow the call stack, as
 * JSON.stringify and structuredClone do. It stops as soon as a bound is passed, so it costs at most about
 * `bounds.bytes` of work whatever it is given (a cycle, which JSON cannot make, ends at the node bound).
 */
export function jsonProblem(value: unknown, bounds: JsonBounds = EVENT_BOUNDS): JsonProblem | undefined {
  return measureJson(value, bounds).problem
}

/**
 * jsonProblem's answer, and with it the value's JSON when that was made to measure it: an event is mostly a flat
 * object of short strings (a token: `type`, `delta`, `step_id`, `ts`), whose size is read from the JSON it is
 * stored as rather than walked for (the walk cost more than the stringify in the many-runs profile). Anything else,
 * and anything that passes a bound, is walked, so a problem is the one jsonProblem finds.
 */
export function measuredJson(value: unknown, bounds: JsonBounds = EVENT_BOUNDS): { problem?: JsonProblem; json?: string } {
  const json = flatJson(value, bounds)
  return json !== undefined ? { json } : { problem: jsonProblem(value, bounds) }
}

/** Members a flat object may have for flatJson: more than any event type has. */
const FLAT_MEMBERS = 16

/**
 * The JSON of a plain object whose members are all strings, numbers, booleans or null, when it passes every bound;
 * undefined for anything else. Its strings together are at most a sixth of the byte bound (a character is at most 6
 * bytes of JSON), so the stringify costs no more than the walk would.
 */
function flatJson(value: unknown, bounds: JsonBounds): string | undefined {
  if (typeof value !== 'object' || value === null || bounds.depth < 1) return undefined
  const prototype = Object.getPrototypeOf(value)
  // A class's toJSON (a Date's, say) would change the JSON the walk measures: plain objects only.
  if (prototype !== Object.prototype && prototype !== null) return undefined
  let nodes = 1
  let chars = 0
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    const child = (value as Record<string, unknown>)[key] // object-key-ok: an own member, read to be measured
    if (child === undefined) continue
    const kind = typeof child
    if (kind === 'string') chars += (child as string).length
    else if (kind !== 'number' && kind !== 'boolean' && child !== null) return undefined
    chars += key.length
    if (++nodes > FLAT_MEMBERS + 1 || chars > bounds.bytes / 6) return undefined
    if (key.length > bounds.stringChars || (kind === 'string' && (child as string).length > bounds.stringChars)) return undefined
  }
  if (nodes > bounds.nodes) return undefined
  const json = JSON.stringify(value)
  return Buffer.byteLength(json) <= bounds.bytes ? json : undefined
}

/** jsonProblem's walk, with what it counted: bytes of the value's JSON in UTF-8, values, levels. */
export function measureJson(value: unknown, bounds: JsonBounds = EVENT_BOUNDS): JsonMeasure {
  // Two stacks side by side (values, and the depth of the container each sits in): no pair allocated per value.
  const values: unknown[] = [value]
  const depths: number[] = [0]
  const m: JsonMeasure = { bytes: 0, nodes: 0, depth: 0 }
  while (values.length > 0) {
    const current = values.pop()
    const parentDepth = depths.pop()!
    if (++m.nodes > bounds.nodes) return fail(m, 'nodes', 422, `holds more than ${n(bounds.nodes)} values (the limit)`)
    if (typeof current === 'string') {
      if (current.length > bounds.stringChars) {
        return fail(m, 'stringChars', 413, `holds a string longer than ${n(bounds.stringChars)} characters (the limit)`)
      }
      m.bytes += jsonStringBytes(current)
    } else if (current === null || typeof current !== 'object') {
      m.bytes += primitiveBytes(current)
    } else {
      const depth = parentDepth + 1
      if (depth > bounds.depth) return fail(m, 'depth', 422, `is nested more than ${n(bounds.depth)} levels deep (the limit)`)
      if (depth > m.depth) m.depth = depth
      if (Array.isArray(current)) {
        m.bytes += 2 + Math.max(0, current.length - 1)
        for (let i = current.length - 1; i >= 0; i--) {
          values.push(current[i])
          depths.push(depth)
        }
      } else {
        // Each member's comma is counted with its key, and the first has none.
        let members = 0
        for (const key in current) {
          if (!Object.hasOwn(current, key)) continue
          const child = (current as Record<string, unknown>)[key] // object-key-ok: an own member, read to be measured
          if (child === undefined) continue
          if (key.length > bounds.stringChars) {
            return fail(m, 'stringChars', 413, `holds a key longer than ${n(bounds.stringChars)} characters (the limit)`)
          }
          m.bytes += keyBytes(key)
          members++
          values.push(child)
          depths.push(depth)
        }
        m.bytes += members > 0 ? 1 : 2
      }
    }
    if (m.bytes > bounds.bytes) return fail(m, 'bytes', 413, `is more than ${n(bounds.bytes)} bytes of JSON (the limit)`)
  }
  return m
}

/** What a member's key adds to an object's JSON: `"key":` and its comma. */
export const keyBytes = (key: string): number => jsonStringBytes(key) + 2

/** A number as JSON writes it (NaN and the infinities as null), a boolean, null; anything else (undefined) as null. */
function primitiveBytes(value: unknown): number {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value).length : 4
  return value === false ? 5 : 4
}

function fail(m: JsonMeasure, bound: keyof JsonBounds, status: 413 | 422, detail: string): JsonMeasure {
  m.problem = { bound, status, detail }
  return m
}

import { RENDERED_JSON_MAX_BYTES, RENDERED_JSON_MAX_DEPTH } from './limits.ts'

/** How much of a JSON value to print. */
export interface JsonBudget {
  /** Bytes of UTF-8 printed before the value is cut; defaults to RENDERED_JSON_MAX_BYTES (64 KiB). */
  maxBytes: number
  /** Levels of nesting printed; a deeper container is summarised. Defaults to RENDERED_JSON_MAX_DEPTH (64). */
  maxDepth: number
}

/** The budget of a value printed on a page or in a live fragment: 64 KiB and 64 levels (see src/limits.ts). */
export const PAGE_JSON_BUDGET: JsonBudget = { maxBytes: RENDERED_JSON_MAX_BYTES, maxDepth: RENDERED_JSON_MAX_DEPTH }

export interface PrettyJson {
  text: string
  /** True when something was left out (the text then holds a `… N more …` marker and is not JSON). */
  cut: boolean
}

type Container = unknown[] | Record<string, unknown>

/** An open array or object: its items (an object's entries, already filtered as JSON.stringify filters them). */
interface Frame {
  items: unknown[] | [string, unknown][]
  isArray: boolean
  next: number
  depth: number
}

const count = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`

/** What JSON.stringify would write for `value` as the member `key`: its toJSON, and nothing for what JSON has not. */
function jsonValue(value: unknown, key: string): unknown {
  const converted =
    typeof (value as { toJSON?: unknown } | null)?.toJSON === 'function' ? (value as { toJSON(key: string): unknown }).toJSON(key) : value
  const kind = typeof converted
  return kind === 'undefined' || kind === 'function' || kind === 'symbol' ? undefined : converted
}

const isContainer = (value: unknown): value is Container => typeof value === 'object' && value !== null

function frameOf(value: Container, depth: number): Frame {
  if (Array.isArray(value)) return { items: value, isArray: true, next: 0, depth }
  const entries: [string, unknown][] = []
  for (const [key, raw] of Object.entries(value)) {
    const member = jsonValue(raw, key)
    if (member !== undefined) entries.push([key, member])
  }
  return { items: entries, isArray: false, next: 0, depth }
}

/** Bytes of UTF-8 that JSON.stringify writes for the UTF-16 code unit `code` inside a string (its escape, if any). */
function escapedBytes(code: number): number {
  if (code === 0x22 || code === 0x5c || code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) return 2
  if (code < 0x20) return 6
  if (code < 0x80) return 1
  if (code < 0x800) return 2
  return 3
}

/**
 * The longest start of `text` whose JSON string (quotes included) takes at most `maxBytes` bytes, never ending inside
 * a surrogate pair: a cut string is still whole characters. Linear in the part kept.
 */
function fittingPrefix(text: string, maxBytes: number): number {
  let bytes = 2
  let i = 0
  while (i < text.length) {
    const code = text.charCodeAt(i)
    const low = i + 1 < text.length ? text.charCodeAt(i + 1) : 0
    const pair = code >= 0xd800 && code <= 0xdbff && low >= 0xdc00 && low <= 0xdfff
    // A lone surrogate is written as a six-byte escape (`\udc00`).
    const cost = pair ? 4 : code >= 0xd800 && code <= 0xdfff ? 6 : escapedBytes(code)
    if (bytes + cost > maxBytes) break
    bytes += cost
    i += pair ? 2 : 1
  }
  return i
}

/** Collects the printed pieces, counting their bytes against the budget. */
class Printer {
  readonly parts: string[] = []
  bytes = 0
  constructor(readonly maxBytes: number) {}

  /** Writes `text` if it fits in what is left of the budget; false, writing nothing, when it does not. */
  fits(text: string): boolean {
    const size = Buffer.byteLength(text)
    if (this.bytes + size > this.maxBytes) return false
    this.parts.push(text)
    this.bytes += size
    return true
  }

  /** Writes a marker or a closing line, which the budget does not stop: what was cut must still be said. */
  force(text: string): void {
    this.parts.push(text)
    this.bytes += Buffer.byteLength(text)
  }
}

/**
 * `value` as `JSON.stringify(value, null, 2)` prints it (`null` for nothing), up to a budget of bytes and of nesting
 * depth, starting at `indentLevel` levels of indentation (two spaces each). Within budget the text is exactly
 * JSON.stringify's. Past it, the print stops where it is: a long string ends with `… N more bytes`, each container
 * left open closes on a line saying `… N more items` (or keys), and a container deeper than the depth budget prints
 * as `[… N items nested deeper than 64 levels]`. Iterative, so no depth of value can overflow the stack; linear in
 * what it prints (plus the keys of the objects it opens). Pure.
 */
export function prettyJson(value: unknown, budget: JsonBudget = PAGE_JSON_BUDGET, indentLevel = 0): PrettyJson {
  const out = new Printer(budget.maxBytes)
  const stack: Frame[] = []
  const indent = (depth: number) => '  '.repeat(indentLevel + depth)
  let cut = false

  /** Writes `prefix` then `item` (a container is opened: pushed on the stack), whole, in part, or not at all. */
  const write = (prefix: string, item: unknown, depth: number): 'whole' | 'part' | 'none' => {
    if (typeof item === 'string') {
      const room = budget.maxBytes - out.bytes - Buffer.byteLength(prefix)
      // Escaping never shortens a string: one longer than the room cannot fit, and is not escaped whole to find out.
      if (item.length + 2 <= room && out.fits(prefix + JSON.stringify(item))) return 'whole'
      const kept = room > 2 ? fittingPrefix(item, room) : 0
      if (kept === 0) return 'none'
      out.force(`${prefix}${JSON.stringify(item.slice(0, kept))} … ${count(Buffer.byteLength(item.slice(kept)), 'more byte')}`)
      return 'part'
    }
    if (!isContainer(item)) {
      return out.fits(prefix + (typeof item === 'bigint' ? String(item) : (JSON.stringify(item) ?? 'null'))) ? 'whole' : 'none'
    }
    const frame = frameOf(item, depth + 1)
    const [open, close] = frame.isArray ? ['[', ']'] : ['{', '}']
    if (frame.items.length === 0) return out.fits(prefix + open + close) ? 'whole' : 'none'
    if (depth >= budget.maxDepth) {
      const what = count(frame.items.length, frame.isArray ? 'item' : 'key')
      if (!out.fits(`${prefix}${open}… ${what} nested deeper than ${budget.maxDepth} levels${close}`)) return 'none'
      cut = true
      return 'whole'
    }
    if (!out.fits(prefix + open)) return 'none'
    stack.push(frame)
    return 'whole'
  }

  const top = jsonValue(value, '')
  let wrote = write('', top, 0)
  // Not even the value's first token fits: say only what it is.
  if (wrote === 'none') out.force(isContainer(top) ? (Array.isArray(top) ? '[…]' : '{…}') : '…')
  while (wrote === 'whole' && stack.length > 0) {
    const frame = stack.at(-1)!
    if (frame.next === frame.items.length) {
      stack.pop()
      out.force(`\n${indent(frame.depth - 1)}${frame.isArray ? ']' : '}'}`)
      continue
    }
    const at = frame.next++
    const comma = at > 0 ? ',' : ''
    if (frame.isArray) {
      wrote = write(`${comma}\n${indent(frame.depth)}`, jsonValue(frame.items[at], String(at)) ?? null, frame.depth)
    } else {
      const [key, member] = (frame.items as [string, unknown][])[at]!
      wrote = write(`${comma}\n${indent(frame.depth)}${JSON.stringify(key)}: `, member, frame.depth)
    }
    // An item that did not fit at all is one of those left out.
    if (wrote === 'none') frame.next--
  }
  // Close what is still open, innermost first, each saying how much of it was left out.
  for (let frame = stack.pop(); frame; frame = stack.pop()) {
    const left = frame.items.length - frame.next
    if (left > 0) out.force(`\n${indent(frame.depth)}… ${count(left, frame.isArray ? 'more item' : 'more key')}`)
    out.force(`\n${indent(frame.depth - 1)}${frame.isArray ? ']' : '}'}`)
  }
  return { text: out.parts.join(''), cut: cut || wrote !== 'whole' }
}

/** Whether `value` holds containers nested deeper than `maxDepth` levels; iterative, so any depth is safe to ask. */
export function nestedDeeperThan(value: unknown, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[value, 0]]
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [item, depth] = top
    if (!isContainer(item)) continue
    // An empty container prints as `[]` or `{}` at any depth.
    if (depth >= maxDepth && (Array.isArray(item) ? item.length : Object.keys(item).length) > 0) return true
    for (const child of Array.isArray(item) ? item : Object.values(item)) if (isContainer(child)) stack.push([child, depth + 1])
  }
  return false
}

/**
 * About how many bytes `value` takes as compact JSON, counted up to `cap` and no further: a cheap measure of a value
 * of any size or depth (strings by their length in UTF-16 units, other scalars as 5). Iterative.
 */
export function jsonSizeUpTo(value: unknown, cap: number): number {
  let size = 0
  const stack: unknown[] = [value]
  for (let item = stack.pop(); size < cap && (item !== undefined || stack.length > 0); item = stack.pop()) {
    if (typeof item === 'string') size += item.length + 2
    else if (!isContainer(item)) size += 5
    else if (Array.isArray(item)) {
      size += 1 + item.length
      // Past the cap, a long array's items are not even looked at.
      for (let i = 0; i < item.length && size < cap; i++) stack.push(item[i])
    } else {
      size += 1
      for (const [key, child] of Object.entries(item)) {
        size += key.length + 4
        stack.push(child)
      }
    }
  }
  return Math.min(size, cap)
}

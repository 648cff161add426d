import { applyOperation, type Operation } from 'fast-json-patch'
import { EVENT_BOUNDS, type JsonBounds, keyBytes, measureJson } from '../json-shape.ts'
import { MAX_AGENT_STATE_BYTES, MAX_PATCH_OPERATIONS } from '../limits.ts'

/**
 * How big an agent's state may grow: an event's bounds, with MAX_AGENT_STATE_BYTES for its bytes and one level less
 * (the `agent-state` event that carries it is one).
 */
export const STATE_BOUNDS: JsonBounds = { ...EVENT_BOUNDS, depth: EVENT_BOUNDS.depth - 1, bytes: MAX_AGENT_STATE_BYTES }

/** A patch refused: `status` 413 when it makes the state too big, 422 otherwise; `detail` ends a sentence. */
export class PatchRefusal extends Error {
  constructor(
    readonly status: 413 | 422,
    readonly detail: string,
  ) {
    super(detail)
  }
}

const n = (value: number) => value.toLocaleString('en')

/** A state's size as measured (measureJson): what a patch starts counting from, so it need not walk the state again. */
export interface StateMeasure {
  bytes: number
  nodes: number
}

/**
 * Applies an RFC 6902 patch to `state`, one operation at a time, and refuses it (PatchRefusal) at the first operation
 * that takes the state past STATE_BOUNDS: a `copy` of the root doubles the state, so 22 of them made 4 million times
 * the state before a size checked after the whole patch could say no. Sizes are counted to within a byte an operation
 * (a comma more or less), so the state ends at most a byte an operation past `bounds.bytes`.
 *
 * `state` is never changed: states are shared (every `agent-state` event stored holds one), so the patch copies only
 * the arrays and objects on the way to what it changes, each once a patch, and the rest of the new state is the old
 * one's. A patch that leaves the state as it was returns `state` itself, having copied nothing when it has no
 * operation: an empty STATE_DELTA costs nothing, whatever the state's size.
 * @param size `state`'s size when the caller measured it already; measured here otherwise.
 * @param bounds how big the state may grow; STATE_BOUNDS unless a test asks for smaller.
 */
export function applyStatePatch(
  state: unknown,
  patch: readonly Operation[],
  bounds: JsonBounds = STATE_BOUNDS,
  size?: StateMeasure,
): unknown {
  if (patch.length > MAX_PATCH_OPERATIONS) {
    throw new PatchRefusal(422, `holds ${n(patch.length)} operations, more than the ${n(MAX_PATCH_OPERATIONS)} a patch may hold`)
  }
  if (patch.length === 0) return state
  const counted = new StateSize(size ?? measureJson(state, bounds), bounds)
  const fresh = new Set<object>()
  let doc = state
  for (const [i, op] of patch.entries()) {
    const where = `operation ${i + 1} (${op.op} ${JSON.stringify(op.path)})`
    counted.count(doc, op, where)
    if (op.op !== 'test' && op.op !== '_get') doc = own(doc, op.path, fresh)
    if (op.op === 'move') doc = own(doc, op.from, fresh)
    doc = apply(doc, op, i, where)
  }
  // What the patch did not touch is the old state's own: the comparison walks only what was copied or written.
  return sameJson(state, doc) ? state : doc
}

/**
 * `doc` with every array and object on the way to the parent of `pointer` replaced by a shallow copy the patch owns
 * (`fresh`), so the operation may change them in place. A container is copied once a patch, however many operations
 * touch it. Stops where the way ends (a missing member, a number): the operation then fails in fast-json-patch.
 */
function own(doc: unknown, pointer: string, fresh: Set<object>): unknown {
  const keys = pointer.split('/').slice(1, -1)
  if (pointer === '' || typeof doc !== 'object' || doc === null) return doc
  const root = fresh.has(doc) ? doc : shallow(doc, fresh)
  let parent = root as Record<string, unknown>
  for (const raw of keys) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    // fast-json-patch refuses the prototype keys; nothing is copied under one.
    if (key === '__proto__' || !Object.hasOwn(parent, key)) break
    const child = parent[key] // object-key-ok: an own member (Object.hasOwn)
    if (typeof child !== 'object' || child === null) break
    const owned = fresh.has(child) ? child : shallow(child, fresh)
    parent[key] = owned // object-key-ok: replaces an own member, never __proto__ (above)
    parent = owned as Record<string, unknown>
  }
  return root
}

/** A copy of an array or object's own members (spread defines them: an own `__proto__` key stays a key). */
function shallow(value: object, fresh: Set<object>): object {
  const copy = Array.isArray(value) ? value.slice() : { ...value }
  fresh.add(copy)
  return copy
}

/** Whether two JSON values are equal; iterative, and a value shared by both is not walked. */
function sameJson(a: unknown, b: unknown): boolean {
  const stack: unknown[] = [a, b]
  while (stack.length > 0) {
    const y = stack.pop()
    const x = stack.pop()
    if (x === y) continue
    if (typeof x !== 'object' || typeof y !== 'object' || x === null || y === null) return false
    if (Array.isArray(x) !== Array.isArray(y)) return false
    if (Array.isArray(x)) {
      const other = y as unknown[]
      if (x.length !== other.length) return false
      // Only members that differ are pushed: a copied array's shared members cost one comparison each.
      for (let i = 0; i < x.length; i++) if (x[i] !== other[i]) stack.push(x[i], other[i])
      continue
    }
    const keys = Object.keys(x)
    if (keys.length !== Object.keys(y).length) return false
    for (const key of keys) {
      if (!Object.hasOwn(y, key)) return false
      const [xv, yv] = [(x as Record<string, unknown>)[key], (y as Record<string, unknown>)[key]] // object-key-ok: own members
      if (xv !== yv) stack.push(xv, yv)
    }
  }
  return true
}

/**
 * The state's size as a patch changes it, counted from the values each operation writes and removes (measured, not
 * the whole state again), with what copies and moves carry in all: a patch costs about as much work as the bytes
 * it is allowed to write.
 */
class StateSize {
  bytes: number
  nodes: number
  carried = 0

  constructor(
    start: StateMeasure,
    private readonly bounds: JsonBounds,
  ) {
    this.bytes = start.bytes
    this.nodes = start.nodes
  }

  /** Counts what `op` will do to `doc`, and refuses it if that passes a bound. */
  count(doc: unknown, op: Operation, where: string): void {
    const target = locate(doc, op.path)
    const from = op.op === 'copy' || op.op === 'move' ? op.from : undefined
    const source = from === undefined ? undefined : locate(doc, from)
    // RFC 6902 §4.4-4.5: `from` must exist (fast-json-patch would copy nothing, making the state undefined).
    if (source && !source.exists) {
      throw new PatchRefusal(422, `${where} copies or moves from ${JSON.stringify(from)}, which is not in the agent's state`)
    }
    // RFC 6902 §4.4: a value cannot move into itself (fast-json-patch lets the root through, making a cycle).
    if (op.op === 'move' && op.path.startsWith(`${op.from}/`)) {
      throw new PatchRefusal(422, `${where} moves ${JSON.stringify(op.from)} into itself`)
    }
    // fast-json-patch lets a member be added to a number or a string (and does nothing): refused here.
    if (op.path !== '' && (typeof target.parent !== 'object' || target.parent === null)) {
      throw new PatchRefusal(422, `${where} does not apply to the agent's state: ${JSON.stringify(op.path)} is inside no object or array`)
    }
    if (op.op === 'add' || op.op === 'replace') this.#write(op.value, target, op.op === 'replace', where)
    else if (op.op === 'copy') this.#write(source!.value, target, false, where, true)
    else if (op.op === 'move' && op.from !== op.path) this.#move(source!, target, op.from.startsWith(`${op.path}/`), where)
    if (op.op === 'remove') this.#remove(target)
    const { bounds } = this
    if (this.bytes > bounds.bytes) throw new PatchRefusal(413, `${where} makes the agent's state ${tooMuch('bytes', bounds)}`)
    if (this.nodes > bounds.nodes) throw new PatchRefusal(422, `${where} makes the agent's state ${tooMuch('nodes', bounds)}`)
    if (this.carried > bounds.bytes) {
      throw new PatchRefusal(413, `${where} copies or moves more than ${n(bounds.bytes)} bytes of JSON in all, the limit for one patch`)
    }
  }

  #write(value: unknown, target: Place, replace: boolean, where: string, carried = false): void {
    const added = measureJson(value, { ...this.bounds, depth: this.bounds.depth - target.depth })
    if (added.problem)
      throw new PatchRefusal(added.problem.status, `${where} makes the agent's state ${tooMuch(added.problem.bound, this.bounds)}`)
    if (carried) this.carried += added.bytes
    // An add into an array inserts; everywhere else a value already there is replaced.
    const replaces = target.exists && (replace || !Array.isArray(target.parent))
    const old = replaces ? measureJson(target.value, this.bounds) : undefined
    this.bytes += added.bytes - (old?.bytes ?? 0) + (replaces ? 0 : target.keyBytes)
    this.nodes += added.nodes - (old?.nodes ?? 0)
  }

  /** A move is a remove and an add; when the value leaves from inside the place it goes to, that place's old value held it. */
  #move(source: Place, target: Place, fromInside: boolean, where: string): void {
    this.#write(source.value, target, false, where, true)
    if (fromInside) return
    this.#remove(source)
  }

  #remove(place: Place): void {
    if (!place.exists) return
    const old = measureJson(place.value, this.bounds)
    this.bytes -= old.bytes + place.keyBytes
    this.nodes -= old.nodes
  }
}

/** The words for a bound the state passed, with the state's own limits (a value's room is less than the state's). */
function tooMuch(bound: keyof JsonBounds, bounds: JsonBounds): string {
  switch (bound) {
    case 'depth':
      return `nest more than ${n(bounds.depth)} levels deep, the limit`
    case 'nodes':
      return `hold more than ${n(bounds.nodes)} values, the limit`
    case 'bytes':
      return `more than ${n(bounds.bytes)} bytes of JSON, the limit`
    case 'stringChars':
      return `hold a string longer than ${n(bounds.stringChars)} characters, the limit`
  }
}

function apply(doc: unknown, op: Operation, index: number, where: string): unknown {
  try {
    // Validated against the document; prototype keys (__proto__, constructor/prototype) are refused.
    return applyOperation(doc, op, true, true, true, index).newDocument
  } catch (error) {
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error)
    throw new PatchRefusal(422, `${where} does not apply to the agent's state: ${why}`)
  }
}

/** Where a JSON Pointer leads in `doc`: its parent, the value there if any, its depth and what its key weighs. */
interface Place {
  parent: unknown
  exists: boolean
  value: unknown
  /** Levels of arrays and objects above the place (a value put there nests this much deeper). */
  depth: number
  /** What the member's key adds to its parent's JSON (an array element: its comma). */
  keyBytes: number
}

/** Follows a JSON Pointer (RFC 6901) through own members only; a missing step makes a place that does not exist. */
function locate(doc: unknown, pointer: string | undefined): Place {
  const keys = pointer ? pointer.split('/').slice(1) : []
  let parent: unknown
  let value: unknown = doc
  let exists = true
  let key = ''
  for (const raw of keys) {
    key = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    parent = value
    exists = typeof parent === 'object' && parent !== null && Object.hasOwn(parent, key)
    value = exists ? (parent as Record<string, unknown>)[key] : undefined // object-key-ok: an own member (Object.hasOwn)
    if (!exists) break
  }
  return { parent, exists, value, depth: keys.length, keyBytes: Array.isArray(parent) ? 1 : keys.length ? keyBytes(key) : 0 }
}

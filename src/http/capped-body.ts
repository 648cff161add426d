import { AppError, bodyTooLarge } from '../errors.ts'
import { jsonProblem } from '../json-shape.ts'
import { MAX_EVENT_DEPTH } from '../limits.ts'
import { type NdjsonLine, ndjsonLines } from '../publish/ndjson-lines.ts'

/**
 * Reads a request body whole, counting bytes as they arrive and giving up at `maxBytes` (bytes): a chunked body
 * has no Content-Length to refuse up front, so the count is the only limit it meets.
 */
export async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  if (!body) return new Uint8Array(0)
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    total += next.value.byteLength
    if (total > maxBytes) {
      // Stop reading now; the rest of the body is never buffered.
      reader.cancel().catch(() => {})
      throw bodyTooLarge(maxBytes)
    }
    chunks.push(next.value)
  }
  return Buffer.concat(chunks)
}

/** Form fields as an object: one value as is, a repeated name as an array (what Elysia's own form parser gives). */
function fieldsOf(entries: Iterable<[string, FormDataEntryValue]>): Record<string, FormDataEntryValue | FormDataEntryValue[]> {
  const fields = new Map<string, FormDataEntryValue[]>()
  for (const [name, value] of entries) {
    // Pushed, not copied: a body repeating one name 100,000 times copied the array each time (quadratic: 17 s).
    const values = fields.get(name)
    if (values) values.push(value)
    else fields.set(name, [value])
  }
  // Object.fromEntries defines own properties, so a field named __proto__ cannot reach the prototype.
  return Object.fromEntries([...fields].map(([name, values]) => [name, values.length === 1 ? values[0]! : values]))
}

/**
 * Elysia's parse hook for every route with a body: the body read with a cap of `maxBytes` (bytes), then parsed
 * as Elysia would (JSON, form, multipart, text), so the routes' `t.Object` schemas validate it as before. An empty
 * body is `null`, which a route's schema refuses with its own sentence. Errors thrown here reach `onError` as
 * Elysia's `PARSE` error, with ours as its cause.
 */
export async function parseCappedBody(request: Request, contentType: string, maxBytes: number): Promise<unknown> {
  // A streamed body of lines is read by its route a line at a time, each line under the cap, for as long as it lasts.
  if (contentType === NDJSON) return { ndjson: ndjsonLines(request.body, maxBytes) } satisfies NdjsonBody
  const bytes = await readCapped(request.body, maxBytes)
  const text = () => new TextDecoder().decode(bytes)
  switch (contentType) {
    case 'application/json':
      return bytes.length === 0 ? null : shallowJson(JSON.parse(text()))
    case 'application/x-www-form-urlencoded':
      return fieldsOf(new URLSearchParams(text()))
    case 'multipart/form-data':
      return fieldsOf(await new Response(bytes, { headers: { 'content-type': request.headers.get('content-type') ?? '' } }).formData())
    case 'text/plain':
      return text()
    default:
      return bytes.length === 0 ? null : bytes
  }
}

/** The content type of a body of newline-delimited JSON (the publish API's streamed events). */
export const NDJSON = 'application/x-ndjson'

/** A body of newline-delimited JSON, handed to its route unread. */
export interface NdjsonBody {
  ndjson: AsyncIterable<NdjsonLine>
}

export const isNdjsonBody = (body: unknown): body is NdjsonBody =>
  typeof body === 'object' && body !== null && Symbol.asyncIterator in Object((body as Partial<NdjsonBody>).ndjson)

/**
 * The bounds of a JSON body as a whole, before any route looks at it: a body is at most an array of events, so one
 * level deeper than an event. A body nested 32,000 deep (64 KB) held the event loop for most of a second in
 * JSON.stringify, and deeper overflowed its stack; the other bounds are the body's byte cap's.
 */
const BODY_BOUNDS = {
  depth: MAX_EVENT_DEPTH + 1,
  nodes: Number.POSITIVE_INFINITY,
  stringChars: Number.POSITIVE_INFINITY,
  bytes: Number.POSITIVE_INFINITY,
}

function shallowJson(value: unknown): unknown {
  const problem = jsonProblem(value, BODY_BOUNDS)
  if (problem) throw new AppError('BODY_TOO_DEEP', `The JSON body ${problem.detail}: flatten it and send it again.`)
  return value
}

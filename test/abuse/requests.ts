import { rawRequest } from '../helpers/raw-request.ts'
import type { AbuseServer, Answer } from './harness.ts'
import { answerProblem } from './harness.ts'

/**
 * A hostile request as data: small enough for fast-check to print in a counterexample (a 1 MiB body is a recipe, not
 * its bytes), resolved against the fixture's live sessions only when sent.
 */
export interface AbuseRequest {
  /** The route template it was made for, for the report. */
  route: string
  method: string
  /** The request target: path segments (literal or a reference to a live id) and a query string. */
  target: Segment[]
  query?: string
  headers: [string, HeaderValue][]
  body?: BodyRecipe
  /** `raw`: over a bare socket, the target byte for byte, the body in `pieceBytes` pieces, Content-Length as given. */
  transport: { kind: 'fetch' } | { kind: 'raw'; pieceBytes?: number; framing: 'length' | 'chunked' | 'none'; lengthLie?: number }
}

/** A path segment: literal text (already encoded as wanted), or a live id from the fixture (`pool`, index). */
export type Segment = string | { pool: PoolName; index: number; encode?: 'component' | 'double' | 'upper' }

/**
 * A header value: literal, or a credential of the fixture resolved when sent; a publisher's token without an index is
 * the one of the publisher session the path names.
 */
export type HeaderValue =
  | string
  | { secret: 'bearer' | 'cookie' | 'publisher'; index?: number }
  | { repeat: string; times: number; prefix: string }

export type PoolName = 'owners' | 'viewers' | 'publishers' | 'publisherTokens' | 'publisherViewers' | 'runs' | 'doomed'

/** A body, built when sent: text, JSON, bytes, a very long run of one string, a deep nesting, NDJSON, a form. */
export type BodyRecipe =
  | { text: string }
  | { json: unknown }
  | { bytes: number[] }
  | { repeat: string; times: number; prefix?: string; suffix?: string }
  | { deep: 'array' | 'object'; depth: number; prefix?: string; suffix?: string }
  | { ndjson: BodyRecipe[] }
  | { form: [string, string | { repeat: string; times: number }][] }
  | { multipart: [string, string][] }
  | { sessionRef: PoolName; index: number; field: string; rest?: BodyRecipe }

/** The live ids and credentials a fixture holds; requests name them by pool and index. */
export interface Pools {
  owners: string[]
  viewers: string[]
  /** Publisher sessions, with their tokens at the same index. */
  publishers: string[]
  publisherTokens: string[]
  publisherViewers: string[]
  /** The open run of each publisher session, at the same index. */
  runs: string[]
  /** Chats the delete routes may take away: the other pools' chats stay for the other routes. */
  doomed: string[]
  authToken: string
  cookie: string
}

const encoder = new TextEncoder()

function pick(pools: Pools, pool: PoolName, index: number): string {
  const list = pools[pool]
  return list.length === 0 ? 'none' : list[index % list.length]!
}

function segmentText(pools: Pools, segment: Segment): string {
  if (typeof segment === 'string') return segment
  const id = pick(pools, segment.pool, segment.index)
  if (segment.encode === 'double') return encodeURIComponent(encodeURIComponent(id))
  if (segment.encode === 'upper') return id.toUpperCase()
  return encodeURIComponent(id)
}

/** `$owners.2` in a query string stands for the live id at index 2 of the owners' pool (any pool by its name). */
const POOL_REF = /\$(owners|viewers|publishers|publisherViewers|runs|doomed)\.(\d+)/g

/** The text with each `$<pool>.<index>` replaced by that live id. */
const withIds = (pools: Pools, text: string) =>
  text.replace(POOL_REF, (_, pool: PoolName, index: string) => pick(pools, pool, Number(index)))

export function targetOf(pools: Pools, request: AbuseRequest): string {
  const query = withIds(pools, request.query ?? '')
  return request.target.map((s) => segmentText(pools, s)).join('') + query
}

function headerText(pools: Pools, request: AbuseRequest, value: HeaderValue): string {
  if (typeof value === 'string') return value
  if ('repeat' in value) return value.prefix + value.repeat.repeat(value.times)
  if (value.secret === 'bearer') return `Bearer ${pools.authToken}`
  if (value.secret === 'cookie') return pools.cookie
  const named = request.target.find((s) => typeof s !== 'string' && s.pool === 'publishers')
  return `Bearer ${pick(pools, 'publisherTokens', value.index ?? (typeof named === 'object' ? named.index : 0))}`
}

export function bodyBytes(pools: Pools, recipe: BodyRecipe): Uint8Array {
  if ('text' in recipe) return encoder.encode(recipe.text)
  if ('json' in recipe) return encoder.encode(JSON.stringify(recipe.json) ?? 'null')
  if ('bytes' in recipe) return new Uint8Array(recipe.bytes)
  if ('repeat' in recipe) return encoder.encode(`${recipe.prefix ?? ''}${recipe.repeat.repeat(recipe.times)}${recipe.suffix ?? ''}`)
  if ('deep' in recipe) {
    const [open, close] = recipe.deep === 'array' ? ['[', ']'] : ['{"a":', '}']
    return encoder.encode(`${recipe.prefix ?? ''}${open.repeat(recipe.depth)}1${close.repeat(recipe.depth)}${recipe.suffix ?? ''}`)
  }
  if ('ndjson' in recipe) return Buffer.concat(recipe.ndjson.flatMap((line) => [bodyBytes(pools, line), encoder.encode('\n')]))
  if ('form' in recipe) {
    return encoder.encode(
      recipe.form
        .map(
          ([k, v]) =>
            `${encodeURIComponent(k)}=${encodeURIComponent(typeof v === 'string' ? withIds(pools, v) : v.repeat.repeat(v.times))}`,
        )
        .join('&'),
    )
  }
  if ('multipart' in recipe) {
    const parts = recipe.multipart.map(([k, v]) => `--abuse\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
    return encoder.encode(`${parts.join('')}--abuse--\r\n`)
  }
  // A live id inside a body: a form's client_id, say.
  const id = pick(pools, recipe.sessionRef, recipe.index)
  const head = encoder.encode(`${recipe.field}=${encodeURIComponent(id)}`)
  return recipe.rest ? Buffer.concat([head, bodyBytes(pools, recipe.rest)]) : head
}

/** A short description of a request for a failure message: method, target, content type and body size. */
export function describe(pools: Pools, request: AbuseRequest): string {
  const type = request.headers.find(([k]) => k.toLowerCase() === 'content-type')?.[1]
  const size = request.body ? bodyBytes(pools, request.body).length : 0
  return `${request.method} ${targetOf(pools, request).slice(0, 200)} [${request.route}; ${request.transport.kind}${
    type ? `; ${typeof type === 'string' ? type : 'secret'}` : ''
  }; ${size} bytes]`
}

/** Sends one request and returns its answer; a stream's answer is its head (the body is not waited for). */
export async function send(base: string, pools: Pools, request: AbuseRequest): Promise<Answer | { unanswered: string }> {
  const target = targetOf(pools, request)
  const headers = request.headers.map(([k, v]) => [k, headerText(pools, request, v)] as [string, string])
  const body = request.body ? bodyBytes(pools, request.body) : undefined
  if (request.transport.kind === 'fetch') {
    const abort = new AbortController()
    const timer = setTimeout(() => abort.abort(), 15_000)
    try {
      const res = await fetch(`${base}${target}`, {
        method: request.method,
        headers,
        body: body && request.method !== 'GET' && request.method !== 'HEAD' ? (body as Uint8Array<ArrayBuffer>) : undefined,
        redirect: 'manual',
        signal: abort.signal,
      })
      const contentType = res.headers.get('content-type') ?? ''
      // An event stream never ends: its status and head are the answer.
      const text = contentType.startsWith('text/event-stream') ? '' : await res.text()
      if (contentType.startsWith('text/event-stream')) abort.abort()
      return {
        status: res.status,
        contentType,
        body: text,
        fromApp: res.headers.has('x-request-id'),
        location: res.headers.get('location'),
      }
    } catch (error) {
      return { unanswered: `fetch failed: ${String(error)}` }
    } finally {
      clearTimeout(timer)
    }
  }
  const { framing, lengthLie = 0, pieceBytes } = request.transport
  const head = [
    `${request.method} ${target} HTTP/1.1`,
    `host: ${new URL(base).host}`,
    'connection: close',
    ...headers.map(([k, v]) => `${k}: ${v}`),
  ]
  let payload = body ?? new Uint8Array(0)
  if (framing === 'length') head.push(`content-length: ${Math.max(0, payload.length + lengthLie)}`)
  if (framing === 'chunked') {
    head.push('transfer-encoding: chunked')
    payload = chunked(payload, pieceBytes ?? 4096)
  }
  try {
    // A Content-Length longer than the body leaves the server waiting for bytes that never come: no answer is due.
    const answer = await rawRequest(base, { head, body: payload, pieceBytes, timeoutMs: lengthLie > 0 ? 1000 : 15_000 })
    if (answer.closedSilently) return { unanswered: 'the server closed the connection without a status line' }
    return {
      status: answer.status,
      contentType: answer.headers.get('content-type') ?? '',
      body: new TextDecoder().decode(answer.body),
      fromApp: answer.headers.has('x-request-id'),
      location: answer.headers.get('location'),
    }
  } catch (error) {
    return { unanswered: String(error) }
  }
}

/** `body` in chunked transfer coding, `size` bytes a chunk. */
function chunked(body: Uint8Array, size: number): Uint8Array {
  const parts: Uint8Array[] = []
  for (let at = 0; at < body.length; at += size) {
    const piece = body.subarray(at, at + size)
    parts.push(encoder.encode(`${piece.length.toString(16)}\r\n`), piece, encoder.encode('\r\n'))
  }
  parts.push(encoder.encode('0\r\n\r\n'))
  return Buffer.concat(parts)
}

/**
 * Sends a batch (a few at a time, as concurrent clients would) and notes on the server every answer that breaks a
 * promise. A request the server never answered is a problem only when it was well-formed HTTP (fetch): Bun may close
 * a connection whose bytes are not HTTP without a word.
 */
export async function sendBatch(server: AbuseServer, pools: Pools, requests: AbuseRequest[], concurrency = 4): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < requests.length) {
      const request = requests[next++]!
      const answer = await send(server.base, pools, request)
      const what = describe(pools, request)
      if ('unanswered' in answer) {
        if (request.transport.kind === 'fetch' || !request.transport.lengthLie) server.note(`${what} got no answer: ${answer.unanswered}`)
        continue
      }
      const problem = answerProblem(what, answer, request.method)
      if (problem) server.note(problem)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

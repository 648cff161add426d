import { createHash } from 'node:crypto'
import type { StopSignal } from '../bus/session-signal.ts'
import { sessionNotFound, viewerNotFound } from '../errors.ts'
import { type EventReader, eventJson } from '../events.ts'
import { recordOf } from '../log/chat-entries.ts'
import type { LogEntry, LogId, LogState } from '../log/log-backend.ts'
import type { LogCore } from '../log/log-core.ts'
import type { EventStore } from '../log/event-store.ts'
import type { WaitOutcome } from '../log/log-waits.ts'
import { isWellFormedId } from '../session-id.ts'
import { StreamRefusal } from './stream-answer.ts'
import type { StreamLog } from './stream-log.ts'
import { encodeMeta } from './stream-meta.ts'

/** Which chat a reserved name reads, and as whom: `sessions/<id>` its owner, `view/<viewer_id>` a read-only link. */
interface ChatName {
  reader: EventReader
  /** The session id, or the viewer id: never the log's id for a viewer until it is resolved. */
  id: string
}

const CHAT_NAME = /^(sessions|view)\/([^/]+)$/

/** The chat a stream name reads; undefined for a name under `sessions/` or `view/` that names no chat's shape. */
export function chatNameOf(name: string): ChatName | undefined {
  const match = CHAT_NAME.exec(name)
  if (!match || !isWellFormedId(match[2])) return undefined
  return { reader: match[1] === 'sessions' ? 'owner' : 'viewer', id: match[2] }
}

/** A write to a chat's stream (RFC 9110: a 405 says what the resource answers). */
export const chatStreamWrite = () =>
  new StreamRefusal(
    'METHOD_NOT_ALLOWED',
    'Streams under sessions/ and view/ are read-only views of chats: read them with GET. A chat takes messages at ' +
      '/api/sessions/<id>/messages, and a program publishes into it with the publish API.',
    { allow: 'GET, HEAD' },
  )

const noChatThere = () =>
  new StreamRefusal(
    'NOT_FOUND',
    'No chat has that name: a chat is read at /v1/stream/sessions/<session id> by its owner, or at ' +
      '/v1/stream/view/<viewer id> through its read-only link.',
  )

/**
 * The ETag token of a chat's stream (the stream's "internal id", src/streams/etag.ts): stable across requests and
 * instances, different for the owner's and the viewer's bytes, and a hash, so that no id is in it — the owner's least
 * of all, which a viewer's answer must never hold. A chat's id is never reused, so no other chat matches its tags.
 */
function etagToken(reader: EventReader, viewerId: string, createdAt: string): string {
  return createHash('sha256').update(`chat\n${reader}\n${viewerId}\n${createdAt}`).digest().subarray(0, 8).toString('base64url')
}

/**
 * A chat's log as a read-only StreamLog, so that the stream service's reads (catch-up, long-poll, SSE, HEAD, ETags)
 * serve chats as they serve streams: `sessions/<id>` and `view/<viewer_id>` map to the chat's LogId (the viewer id
 * through its alias), its state answers a synthesised meta (JSON mode, no expiry, never closed: a chat always takes
 * another message), and each entry is one event as the JSON API renders it for that reader — one JSON item, since a
 * JSON-mode entry is its items joined by `,` and an event is one object. Every write is refused (405).
 *
 * A chat that is not there is refused in the chat's own words (404) rather than answered undefined: the service's
 * refusal for that would speak of a stream.
 */
export class ChatStreamLog implements StreamLog {
  constructor(
    private readonly store: EventStore,
    private readonly core: LogCore,
  ) {}

  now(): number {
    return this.core.now()
  }

  async state(name: string): Promise<LogState> {
    const { chat, log } = await this.#open(name)
    const state = await this.core.state(log)
    // A chat deleted while branches of it live is gone for everyone but them (as the chat's own routes answer).
    if (!state || state.deletedAt !== undefined) throw notFound(chat)
    const record = recordOf(log, state)
    const meta = encodeMeta({
      contentType: 'application/json',
      expiry: undefined,
      etag: etagToken(chat.reader, record.viewer_id, record.created_at),
    })
    const { head, tail, count, bytes, createdAt, activeAt } = state
    // Only what the stream layer reads: never `forkedFrom`, which names another chat's (owner) id.
    return { head, tail, count, bytes, createdAt, activeAt, closed: false, forks: 0, meta }
  }

  async read(name: string, after: number, limit: number): Promise<LogEntry[]> {
    const { chat, log } = await this.#open(name)
    const events = await this.store.read(log, after, limit)
    return events.map((event) => ({ seq: event.seq, data: eventJson(event, chat.reader) }))
  }

  async waitFor(name: string, after: number, signal: StopSignal, timeoutMs: number): Promise<WaitOutcome> {
    return this.core.waitFor((await this.#open(name)).log, after, signal, timeoutMs)
  }

  /** The chat a name reads and its log: the session id itself, or the one a viewer id is an alias of. */
  async #open(name: string): Promise<{ chat: ChatName; log: LogId }> {
    const chat = chatNameOf(name)
    if (!chat) throw noChatThere()
    if (chat.reader === 'owner') return { chat, log: chat.id }
    const log = await this.core.resolveAlias(chat.id)
    if (log === undefined) throw notFound(chat)
    return { chat, log }
  }

  create(): Promise<boolean> {
    throw chatStreamWrite()
  }

  append(): Promise<never> {
    throw chatStreamWrite()
  }

  mark(): Promise<string | undefined> {
    throw chatStreamWrite()
  }

  markKeys(): Promise<string[]> {
    throw chatStreamWrite()
  }

  forgetMarks(): Promise<void> {
    throw chatStreamWrite()
  }

  touch(): Promise<boolean> {
    throw chatStreamWrite()
  }

  setMeta(): Promise<boolean> {
    throw chatStreamWrite()
  }

  delete(): Promise<'deleted' | 'soft' | undefined> {
    throw chatStreamWrite()
  }

  fork(): Promise<boolean> {
    throw chatStreamWrite()
  }
}

const notFound = (chat: ChatName) => (chat.reader === 'owner' ? sessionNotFound() : viewerNotFound())

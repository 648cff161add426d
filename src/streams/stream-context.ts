import type { LogState } from '../log/log-backend.ts'
import type { KeyedMutex } from './keyed-mutex.ts'
import { goneStream, noStream } from './stream-answer.ts'
import { decodeMeta, type StreamMeta } from './stream-meta.ts'
import type { StreamLog } from './stream-log.ts'
import { slidExpiry } from './sliding-ttl.ts'

/** What every operation of the stream service shares. */
export interface StreamContext {
  log: StreamLog
  /** Serialises a stream's check-then-write steps in this process (Stream-Seq, producers). */
  locks: KeyedMutex
  /** How long a long-poll waits for data; milliseconds. */
  longPollMs: number
  /** In [0, 1): the cursor's jitter. */
  random: () => number
  /** Producers whose state one stream keeps; past it the least recently used are forgotten. */
  maxProducers: number
}

/** A stream that is there: its log's state and its meta. */
export interface OpenStream {
  state: LogState
  meta: StreamMeta
}

/** The stream, or its refusal: 404 when there is none, 410 when it was deleted while forks refer to it. */
export async function openStream(ctx: StreamContext, name: string): Promise<OpenStream> {
  const found = await findStream(ctx, name)
  if (!found) throw noStream()
  if (found.state.deletedAt !== undefined) throw goneStream()
  return found
}

/** The stream and its meta, deleted or not; undefined when there is none. */
export async function findStream(ctx: StreamContext, name: string): Promise<OpenStream | undefined> {
  const state = await ctx.log.state(name)
  return state ? { state, meta: decodeMeta(state.meta) } : undefined
}

/** A read or a write moves a sliding TTL (not a HEAD); written only when it moves the expiry enough (sliding-ttl.ts). */
export async function slide(ctx: StreamContext, name: string, stream: OpenStream): Promise<void> {
  const { expiry } = stream.meta
  if (expiry?.kind !== 'ttl') return
  const next = slidExpiry(stream.state.expiresAt, ctx.log.now(), expiry.seconds)
  if (next !== undefined) await ctx.log.touch(name, next)
}

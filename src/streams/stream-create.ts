import { AppError } from '../errors.ts'
import { DEFAULT_CONTENT_TYPE, isJsonMode } from './content-type.ts'
import { encodeEntryBytes } from './entry-bytes.ts'
import { forkPrefix } from './fork-prefix.ts'
import type { CreateHeaders, Expiry, ForkRequest } from './headers.ts'
import { jsonEntryData } from './json-mode.ts'
import { encodeOffset } from './offsets.ts'
import { refuse } from './parsed.ts'
import { H, noStream, StreamRefusal, type StreamAnswer } from './stream-answer.ts'
import { findStream, type OpenStream, type StreamContext } from './stream-context.ts'
import { encodeMeta, newEtagToken, sameExpiry, type StreamMeta } from './stream-meta.ts'

/**
 * PUT: creates the stream (201), or answers 200 when one of the same settings is there (the protocol's idempotent
 * create), 409 when one of other settings is. A fork copies its source up to the fork offset, then a sub-offset's cut
 * of the next append (fork-prefix.ts). The HTTP layer adds the stream's URL (Location) to a 201.
 */
export async function create(ctx: StreamContext, name: string, headers: CreateHeaders, body: Uint8Array): Promise<StreamAnswer> {
  for (let attempt = 0; ; attempt++) {
    const existing = await findStream(ctx, name)
    if (existing) return sameSettings(existing, headers)
    const created = headers.fork ? await createFork(ctx, name, headers, headers.fork, body) : await createPlain(ctx, name, headers, body)
    // Taken between the look and the create: answered as the one there (the backend frees an expired one's name).
    if (!created && attempt < 2) continue
    if (!created) throw conflict()
    const made = await findStream(ctx, name)
    if (!made) throw noStream()
    return { status: 201, headers: answerHeaders(made) }
  }
}

async function createPlain(ctx: StreamContext, name: string, headers: CreateHeaders, body: Uint8Array): Promise<boolean> {
  const contentType = headers.contentType ?? DEFAULT_CONTENT_TYPE
  const meta: StreamMeta = { contentType, expiry: headers.expiry, etag: newEtagToken() }
  const entries = bodyEntries(contentType, body)
  return ctx.log.create(name, { meta: encodeMeta(meta), closed: headers.closed, expiresAt: expiresAt(ctx, headers.expiry), entries })
}

/** A fork's source must be there and not deleted; the backend judges it again, atomically with the fork. */
async function createFork(ctx: StreamContext, name: string, headers: CreateHeaders, fork: ForkRequest, body: Uint8Array): Promise<boolean> {
  const source = await findStream(ctx, fork.source)
  if (!source) throw new StreamRefusal('NOT_FOUND', `There is no stream ${fork.source} to fork.`)
  if (source.state.deletedAt !== undefined) throw forkOfDeleted(fork.source)
  const contentType = headers.contentType ?? source.meta.contentType
  if (contentType !== source.meta.contentType) {
    throw new StreamRefusal('STREAM_CONFLICT', `A fork keeps its source's type, ${source.meta.contentType}: send that or none.`)
  }
  const at = fork.after ?? source.state.head
  if (at > source.state.head) {
    throw refuse(
      'stream-fork-offset',
      `Stream-Fork-Offset is past the end of ${fork.source}: fork at ${encodeOffset(source.state.head)} or before.`,
    ).error
  }
  const next = fork.sub > 0 ? (await ctx.log.read(fork.source, at, 1)).find((entry) => entry.seq === at + 1)?.data : undefined
  const tail = forkPrefix(next, contentType, fork.sub)
  if (!tail.ok) throw tail.error
  const expiry = headers.expiry ?? source.meta.expiry
  const of = { source: fork.source, after: fork.after, sub: fork.sub }
  const meta: StreamMeta = { contentType, expiry, etag: newEtagToken(), fork: of }
  const init = {
    meta: encodeMeta(meta),
    closed: headers.closed,
    expiresAt: expiresAt(ctx, expiry),
    entries: bodyEntries(contentType, body),
  }
  try {
    return await ctx.log.fork(fork.source, at, name, init, tail.value)
  } catch (error) {
    // Deleted between the look and the fork.
    if (error instanceof AppError && error.code === 'GONE') throw forkOfDeleted(fork.source)
    throw error
  }
}

const forkOfDeleted = (source: string) =>
  new StreamRefusal('STREAM_CONFLICT', `The stream ${source} was deleted: it cannot be forked any more.`)

/** The entries a PUT's body makes: none for an empty body (or `[]` in JSON mode), else one. */
function bodyEntries(contentType: string, body: Uint8Array): string[] {
  if (body.length === 0) return []
  if (!isJsonMode(contentType)) return [encodeEntryBytes(body, contentType)]
  const data = jsonEntryData(body, 'create')
  if (!data.ok) throw data.error
  return data.value === '' ? [] : [data.value]
}

/** When a new stream expires; a 400 for a moment already past (a TTL of 0, an Expires-At behind us): it would never be. */
function expiresAt(ctx: StreamContext, expiry: Expiry | undefined): number | undefined {
  if (expiry === undefined) return undefined
  const at = expiry.kind === 'at' ? expiry.at : ctx.log.now() + expiry.seconds * 1000
  if (at > ctx.log.now()) return at
  throw expiry.kind === 'at'
    ? refuse('stream-expires-at', 'Stream-Expires-At is already past: a stream must be able to live. Send a later time.').error
    : refuse('stream-ttl', 'Stream-TTL is 0: a stream must be able to live. Send at least 1 second.').error
}

/** The idempotent PUT: 200 when the stream there was made with these settings, 409 otherwise (410's name: 409 too). */
function sameSettings(existing: OpenStream, headers: CreateHeaders): StreamAnswer {
  const { meta, state } = existing
  if (state.deletedAt !== undefined) {
    throw new StreamRefusal('STREAM_CONFLICT', 'A stream of this name was deleted but its forks still refer to it: pick another name.')
  }
  const fork = headers.fork
  const same =
    (fork === undefined
      ? meta.fork === undefined &&
        (headers.contentType ?? DEFAULT_CONTENT_TYPE) === meta.contentType &&
        sameExpiry(headers.expiry, meta.expiry)
      : meta.fork?.source === fork.source &&
        (fork.after === undefined || fork.after === meta.fork.after) &&
        fork.sub === meta.fork.sub &&
        (headers.contentType === undefined || headers.contentType === meta.contentType) &&
        (headers.expiry === undefined || sameExpiry(headers.expiry, meta.expiry))) && headers.closed === state.closed
  if (!same) throw conflict()
  return { status: 200, headers: answerHeaders(existing) }
}

const conflict = () =>
  new StreamRefusal(
    'STREAM_CONFLICT',
    'A stream of this name exists with other settings (type, expiry, closed or fork): delete it first, or use another name.',
  )

function answerHeaders({ meta, state }: OpenStream): Record<string, string> {
  return { 'content-type': meta.contentType, [H.nextOffset]: encodeOffset(state.head), ...(state.closed && { [H.closed]: 'true' }) }
}

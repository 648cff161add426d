import { AppError } from '../errors.ts'
import type { ProducerWrite } from '../log/log-backend.ts'
import { isJsonMode } from './content-type.ts'
import { encodeEntryBytes } from './entry-bytes.ts'
import { type AppendHeaders, compareStreamSeq, type ProducerHeaders } from './headers.ts'
import { jsonEntryData } from './json-mode.ts'
import { encodeOffset } from './offsets.ts'
import { refuse } from './parsed.ts'
import { decideProducer, type ProducerMark } from './producer-rules.ts'
import { H, headersIf, StreamRefusal, type StreamAnswer } from './stream-answer.ts'
import { type OpenStream, openStream, slide, type StreamContext } from './stream-context.ts'

/** The mark key of a producer's state, and of the last Stream-Seq (no producer key can take it). */
const PRODUCER_PREFIX = 'p:'
const producerKey = (id: string) => `${PRODUCER_PREFIX}${id}`
const SEQ_KEY = 'seq'

/**
 * POST: one entry (or a close alone), checked against the stream's content type, Stream-Seq and the producer's state,
 * each read and written under the lock of (stream, producer) and, for Stream-Seq, of the stream.
 */
export async function append(ctx: StreamContext, name: string, headers: AppendHeaders, body: Uint8Array): Promise<StreamAnswer> {
  const stream = await openStream(ctx, name)
  await slide(ctx, name, stream)
  if (body.length === 0 && !headers.closed) {
    throw refuse('body', 'The body is empty: send data to append, or Stream-Closed: true to close the stream.').error
  }
  const data = body.length === 0 ? null : entryData(stream, headers, body)
  const locks = [
    ...(headers.producer ? [`${name}\n${producerKey(headers.producer.id)}`] : []),
    ...(headers.streamSeq !== undefined ? [name] : []),
  ]
  return locked(ctx, locks, () => appendDecided(ctx, name, headers, data))
}

/** How often a request decides again when another instance wrote its producer's state first (STALE). */
const STALE_RETRIES = 3

/**
 * The locks serialise this process's requests; the marks' compare-and-set serialises instances: a request that
 * decided from a state another instance has since changed is refused STALE and decides again from the new one (a
 * retry of the same request is then a duplicate).
 */
async function appendDecided(ctx: StreamContext, name: string, headers: AppendHeaders, data: string | null): Promise<StreamAnswer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await appendLocked(ctx, name, headers, data)
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'PRODUCER_STALE') || attempt === STALE_RETRIES) throw error
    }
  }
}

/** The entry's data: the body as the stream's content type keeps it (a different type is a 409). */
function entryData(stream: OpenStream, headers: AppendHeaders, body: Uint8Array): string {
  const { contentType } = stream.meta
  if (headers.contentType === undefined) {
    throw refuse('content-type', `Send a Content-Type with the data: this stream takes ${contentType}.`).error
  }
  if (headers.contentType !== contentType) {
    throw new StreamRefusal('STREAM_CONFLICT', `This stream takes ${contentType}, not ${headers.contentType}: send its type.`)
  }
  if (!isJsonMode(contentType)) return encodeEntryBytes(body, contentType)
  const parsed = jsonEntryData(body, 'append')
  if (!parsed.ok) throw parsed.error
  return parsed.value
}

async function appendLocked(ctx: StreamContext, name: string, headers: AppendHeaders, data: string | null): Promise<StreamAnswer> {
  const { state } = await openStream(ctx, name)
  const { producer } = headers
  const marks: ProducerWrite[] = []
  const answered: Record<string, string> = {}
  if (producer) {
    const read = await ctx.log.mark(name, producerKey(producer.id))
    const kept = producerMark(read)
    const decided = decideProducer(kept, producer)
    if (decided.kind !== 'append') return producerRefusal(decided, producer, state.closed, state.head)
    if (kept === undefined) await makeRoomForProducer(ctx, name)
    const value = JSON.stringify({ e: decided.mark.epoch, s: decided.mark.seq, at: ctx.log.now() })
    marks.push({ key: producerKey(producer.id), value, expect: read ?? null })
    Object.assign(answered, { [H.producerEpoch]: String(producer.epoch), [H.producerSeq]: String(producer.seq) })
  }
  if (state.closed) {
    if (data === null && !producer) return closedAlready(state.head)
    throw closedRefusal(state.head)
  }
  if (headers.streamSeq !== undefined) {
    const last = await ctx.log.mark(name, SEQ_KEY)
    if (last !== undefined && compareStreamSeq(headers.streamSeq, last) <= 0) {
      throw new StreamRefusal('STREAM_CONFLICT', `Stream-Seq ${headers.streamSeq} is not after the last one, ${last}: send a greater one.`)
    }
    marks.push({ key: SEQ_KEY, value: headers.streamSeq, expect: last ?? null })
  }
  let seq: number
  try {
    seq = (await ctx.log.append(name, { data, closes: headers.closed, marks })).seq
  } catch (error) {
    // Closed by another request since the state was read.
    if (error instanceof AppError && error.code === 'RUN_CLOSED') {
      const now = await openStream(ctx, name)
      if (data === null && !producer) return closedAlready(now.state.head)
      throw closedRefusal(now.state.head)
    }
    throw error
  }
  const closed = headersIf(headers.closed, { [H.closed]: 'true' })
  return { status: producer && data !== null ? 200 : 204, headers: { [H.nextOffset]: encodeOffset(seq), ...answered, ...closed } }
}

/**
 * Before a new producer's state is kept: at the cap, the least recently used tenth is forgotten (the protocol lets
 * producer state expire; a forgotten producer is new again, and starts at seq 0). Holding the new producer's lock
 * only, two new producers may both evict: the cap is overshot by at most the requests in flight.
 */
async function makeRoomForProducer(ctx: StreamContext, name: string): Promise<void> {
  const keys = (await ctx.log.markKeys(name)).filter((key) => key.startsWith(PRODUCER_PREFIX))
  if (keys.length < ctx.maxProducers) return
  const used = await Promise.all(
    keys.map(async (key) => ({ key, at: (JSON.parse((await ctx.log.mark(name, key)) ?? '{"at":0}') as { at: number }).at })),
  )
  used.sort((a, b) => a.at - b.at)
  const forget = used.slice(0, keys.length - ctx.maxProducers + Math.ceil(ctx.maxProducers / 10)).map((mark) => mark.key)
  await ctx.log.forgetMarks(name, forget)
}

function producerMark(kept: string | undefined): ProducerMark | undefined {
  if (kept === undefined) return undefined
  const { e, s } = JSON.parse(kept) as { e: number; s: number }
  return { epoch: e, seq: s }
}

function producerRefusal(
  decided: Exclude<ReturnType<typeof decideProducer>, { kind: 'append' }>,
  producer: ProducerHeaders,
  closed: boolean,
  head: number,
): StreamAnswer {
  switch (decided.kind) {
    case 'duplicate':
      return {
        status: 204,
        headers: {
          [H.producerEpoch]: String(producer.epoch),
          [H.producerSeq]: String(decided.highestSeq),
          [H.nextOffset]: encodeOffset(head),
          ...(closed && { [H.closed]: 'true' }),
        },
      }
    case 'stale-epoch':
      throw new StreamRefusal(
        'PRODUCER_FENCED',
        `Producer-Epoch ${producer.epoch} is older than this producer's current epoch, ${decided.currentEpoch}: a newer instance took over.`,
        { [H.producerEpoch]: String(decided.currentEpoch) },
      )
    case 'epoch-needs-seq-0':
      throw refuse('producer-seq', `A new Producer-Epoch starts at Producer-Seq 0, not ${producer.seq}.`).error
    case 'gap':
      throw new StreamRefusal('PRODUCER_SEQ_GAP', `Producer-Seq ${decided.receivedSeq} skips ahead: send ${decided.expectedSeq} first.`, {
        [H.expectedSeq]: String(decided.expectedSeq),
        [H.receivedSeq]: String(decided.receivedSeq),
      })
  }
}

const closedAlready = (head: number): StreamAnswer => ({ status: 204, headers: { [H.nextOffset]: encodeOffset(head), [H.closed]: 'true' } })

const closedRefusal = (head: number) =>
  new StreamRefusal('RUN_CLOSED', 'This stream is closed and takes no more data.', {
    [H.closed]: 'true',
    [H.nextOffset]: encodeOffset(head),
  })

/** Runs `work` holding every lock of `keys`, taken in the order given. */
function locked<T>(ctx: StreamContext, keys: readonly string[], work: () => Promise<T>): Promise<T> {
  const [first, ...rest] = keys
  return first === undefined ? work() : ctx.locks.run(first, () => locked(ctx, rest, work))
}

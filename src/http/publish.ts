import { Elysia, t } from 'elysia'
import { AppError } from '../errors.ts'
import { closesRun, type ProducerNumber, producerOf } from '../publish/publish-headers.ts'
import type { PublishFormat } from '../publish/published-run.ts'
import type { PublishAnswer } from '../publish/publishing.ts'
import { encodeOffset } from '../streams/offsets.ts'
import { H } from '../streams/stream-answer.ts'
import { checkPublisher } from '../publish/published-session.ts'
import type { SessionRecord } from '../log/event-store.ts'
import { isNdjsonBody } from './capped-body.ts'
import { type AppDeps, requireSession } from './deps.ts'
import { credentialAccepted } from './request-guards.ts'

const Params = t.Object({ id: t.String() })
const RunParams = t.Object({ id: t.String(), run_id: t.String() })
const EventsQuery = t.Object({ format: t.Optional(t.String()) })

/** `?format=`: absent or `stepstream` for stepstream's events, `ag-ui` for AG-UI's (mapped as the agui step maps them). */
function formatOf(raw: string | undefined): PublishFormat {
  if (raw === undefined || raw === 'stepstream') return 'stepstream'
  if (raw === 'ag-ui') return 'ag-ui'
  throw new AppError(
    'BAD_REQUEST',
    `The event format ${JSON.stringify(raw)} is unknown: use format=ag-ui for AG-UI events, or leave it out.`,
  )
}

/**
 * The publish API: a program in any language, holding a session's publisher token, opens runs and appends their
 * events over HTTP (a JSON array per request, or NDJSON streamed in one long request). The routes read the request
 * and answer; the runs and their state are the server's Publishing (src/publish/publishing.ts).
 */
export const publishRoutes = (deps: AppDeps) => {
  const { publishing } = deps

  async function authorize(id: string, request: Request): Promise<SessionRecord> {
    const session = await requireSession(deps.store, id)
    checkPublisher(session, request.headers.get('authorization'))
    credentialAccepted(request)
    return session
  }

  return new Elysia({ name: 'publish', prefix: '/api/sessions' })
    .post(
      '/:id/runs',
      async ({ params, request, set }) => {
        const runId = await publishing.openRun(await authorize(params.id, request))
        set.status = 201
        return { run_id: runId }
      },
      { params: Params },
    )
    .post(
      '/:id/runs/:run_id/events',
      async ({ params, query, body, request, set }) => {
        const session = await authorize(params.id, request)
        const format = formatOf(query.format)
        const producer = producerOf(request.headers)
        const closes = closesRun(request.headers)
        const events = isNdjsonBody(body) ? { lines: body.ndjson } : { json: body }
        const answer = await publishing.publish(session, params.run_id, events, { format, producer, closes })
        Object.assign(set.headers, protocolHeaders(answer, producer)) // object-key-ok: the protocol's own header names (H)
        if ('result' in answer) return answer.result
        set.status = 204
        return null
      },
      { params: RunParams, query: EventsQuery },
    )
}

/**
 * The Durable Streams headers of an answer, so that its clients (IdempotentProducer) read it as they read a stream's:
 * `Stream-Next-Offset` (the chat's seq after the request, in the protocol's encoding), `Stream-Closed` once the run
 * has its closing event, and for a producer sending `Producer-Epoch` its epoch and seq (a duplicate's: the last seq
 * applied).
 */
function protocolHeaders(answer: PublishAnswer, producer: ProducerNumber | undefined): Record<string, string> {
  const headers: Record<string, string> = { [H.nextOffset]: encodeOffset(answer.head) }
  if ('duplicate' in answer) {
    const { epoch, seq, closed } = answer.duplicate
    return { ...headers, [H.producerEpoch]: String(epoch), [H.producerSeq]: String(seq), ...(closed && { [H.closed]: 'true' }) }
  }
  if (answer.result.closed) headers[H.closed] = 'true'
  if (producer?.epoch !== undefined) {
    headers[H.producerEpoch] = String(producer.epoch)
    headers[H.producerSeq] = String(producer.seq)
  }
  return headers
}

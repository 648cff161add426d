import { Elysia, t } from 'elysia'
import { AppError } from '../errors.ts'
import { type AppendResult, type PublishFormat, PublishedRun } from '../publish/published-run.ts'
import { bearerToken, publisherTokenMatches } from '../publish/publisher-token.ts'
import { credentialAccepted } from './request-guards.ts'
import type { ProducerRequest } from '../publish/producer-request.ts'
import { ProducerSeqs, producerOf } from '../publish/producer-seq.ts'
import { newId } from '../session-id.ts'
import type { SessionRecord } from '../store/event-store.ts'
import { canKeepProducers } from '../store/producer-state.ts'
import { isNdjsonBody } from './capped-body.ts'
import { type AppDeps, requireSession } from './deps.ts'

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

/** Runs that ended are remembered this many at a time, so a late append hears why (cancelled, or closed). */
const ENDED_KEPT = 10_000

const unauthorized = () =>
  new AppError('UNAUTHORIZED', 'Publishing needs this session’s publisher token: send it as "Authorization: Bearer <token>".')

/**
 * The publish API: a program in any language, holding a session's publisher token, opens runs and appends their
 * events over HTTP (a JSON array per request, or NDJSON streamed in one long request). Its runs are runs like any
 * other (src/publish/published-run.ts): validated the same way, cancelled from the page, closed on shutdown.
 */
export const publishRoutes = (deps: AppDeps) => {
  const open = new Map<string, { sessionId: string; run: PublishedRun }>()
  const ended = new Map<string, PublishedRun['state']>()
  const producers = canKeepProducers(deps.store) ? new ProducerSeqs(deps.store) : undefined

  async function authorize(id: string, request: Request): Promise<SessionRecord> {
    const session = await requireSession(deps.store, id)
    const token = bearerToken(request.headers.get('authorization'))
    if (!session.publisher_hash || !token || !publisherTokenMatches(session.publisher_hash, token)) throw unauthorized()
    credentialAccepted(request)
    return session
  }

  async function runOf(session: SessionRecord, runId: string): Promise<PublishedRun> {
    const found = open.get(runId)
    if (found?.sessionId === session.id) return found.run
    const state = found ? undefined : ended.get(`${session.id} ${runId}`)
    if (state === 'cancelled') {
      throw new AppError('RUN_CANCELLED', 'This run was cancelled: stop publishing it.', undefined, { cancelled: true })
    }
    if (state) throw new AppError('RUN_CLOSED', 'This run is closed: it has its final event, or it timed out. Open a new run.')
    // A run is fed by the instance that opened it (it holds the run's timers and its cancel).
    if ((await deps.runner.running(session.id)) === runId) {
      throw new AppError(
        'RUN_ELSEWHERE',
        'This run is open on another stepstream instance: send a producer’s requests to the instance that opened the run (route publishers by session).',
      )
    }
    throw new AppError('NOT_FOUND', 'This session has no run with that id.')
  }

  return new Elysia({ name: 'publish', prefix: '/api/sessions' })
    .post(
      '/:id/runs',
      async ({ params, request, set }) => {
        const session = await authorize(params.id, request)
        const runId = newId()
        const run = new PublishedRun(runId, 'published', deps.publishTimeoutMs)
        open.set(runId, { sessionId: session.id, run })
        try {
          await deps.runner.open(session, runId, run.step)
        } catch (error) {
          open.delete(runId)
          throw error
        }
        void deps.runner.settled(session.id).then(() => {
          run.settled()
          open.delete(runId)
          ended.set(`${session.id} ${runId}`, run.state)
          for (const oldest of ended.keys()) {
            if (ended.size <= ENDED_KEPT) break
            ended.delete(oldest)
          }
        })
        set.status = 201
        return { run_id: runId }
      },
      { params: Params },
    )
    .post(
      '/:id/runs/:run_id/events',
      async ({ params, query, body, request }) => {
        const session = await authorize(params.id, request)
        const format = formatOf(query.format)
        const producer = producerOf(request.headers)
        const apply = async (request?: ProducerRequest): Promise<AppendResult> => {
          // Inside `apply`: a retry of the request that closed the run gets its answer again, not RUN_CLOSED.
          const run = await runOf(session, params.run_id)
          if (!isNdjsonBody(body)) {
            if (!Array.isArray(body)) {
              throw new AppError('BAD_REQUEST', 'Send the events as a JSON array, or as NDJSON (Content-Type: application/x-ndjson).')
            }
            return run.append(body, format, 1, request)
          }
          // Each line is stored as it arrives, so viewers see a streamed run live.
          if (request) request.streamed = true
          const total: AppendResult = { run_id: run.runId, appended: 0, closed: false }
          let line = 0
          for await (const text of body.ndjson) {
            line++
            let event: unknown
            try {
              event = JSON.parse(text)
            } catch {
              throw new AppError('INVALID_EVENT', `Line ${line} of the body is not JSON.`)
            }
            const result = await run.append([event], format, line, request)
            total.appended += result.appended
            total.closed = result.closed
          }
          return total
        }
        if (!producer) return apply()
        if (!producers) {
          throw new AppError(
            'BAD_REQUEST',
            'This server’s store cannot keep producer state: send requests without Producer-Id and Producer-Seq.',
          )
        }
        // Numbered per run: a producer may start again at 0 in its next run.
        const target = { sessionId: session.id, runId: params.run_id, assertOpen: () => runOf(session, params.run_id) }
        return producers.run(target, producer.id, producer.seq, apply)
      },
      { params: RunParams, query: EventsQuery },
    )
}

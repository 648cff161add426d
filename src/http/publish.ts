import { Elysia, t } from 'elysia'
import { AppError } from '../errors.ts'
import { producerOf } from '../publish/producer-seq.ts'
import type { PublishFormat } from '../publish/published-run.ts'
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
      async ({ params, query, body, request }) => {
        const session = await authorize(params.id, request)
        const format = formatOf(query.format)
        const producer = producerOf(request.headers)
        return publishing.append(session, params.run_id, isNdjsonBody(body) ? { lines: body.ndjson } : { json: body }, format, producer)
      },
      { params: RunParams, query: EventsQuery },
    )
}

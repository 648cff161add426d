import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Elysia, t } from 'elysia'
import { AppError } from '../errors.ts'
import { type AppDeps, createPublisherSession, createSession, requireSession } from './deps.ts'
import type { SessionRecord } from '../store/event-store.ts'
import { EventsQuery, MAX_PAGE } from './events-query.ts'
import { transcriptResponse } from './exports.ts'
import { checkedMessage } from './message.ts'
import { ownerUrl, viewerUrl } from './links.ts'

const Id = t.Object({ id: t.String() })

const NewSession = TypeCompiler.Compile(
  t.Object(
    { step: t.Optional(t.String({ minLength: 1, maxLength: 64 })), publisher: t.Optional(t.Boolean()) },
    { additionalProperties: false },
  ),
)

/**
 * The body of `POST /api/sessions`: nothing, `{"step"}`, or `{"publisher": true}`. Checked here rather than by a
 * route schema, because an optional body schema makes Elysia skip validation altogether (a body of "hello" passed).
 */
function newSessionBody(body: unknown): { step?: string; publisher?: boolean } {
  if (body === undefined || body === null || (typeof body === 'object' && NewSession.Check(body))) return body ?? {}
  throw new AppError('BAD_REQUEST', 'The body must be empty or a JSON object like {"step": "echo"} or {"publisher": true}.')
}

/** What `POST /api/sessions` answers about a new session: its ids, its links and its step. */
const sessionLinks = ({ id, viewer_id, step }: SessionRecord) => ({
  id,
  url: ownerUrl(id),
  viewer_id,
  view_url: viewerUrl(viewer_id),
  step: step.name,
})

/** The JSON API, for programs and black-box tests. */
export const apiRoutes = (deps: AppDeps) =>
  new Elysia({ name: 'api', prefix: '/api/sessions' })
    .post('/', async ({ body, set }) => {
      const { step: stepName, publisher } = newSessionBody(body)
      if (publisher) {
        const { session, token } = await createPublisherSession(deps)
        set.status = 201
        // The token is shown this once: the store keeps only its hash.
        return { ...sessionLinks(session), publisher_token: token }
      }
      const session = await createSession(deps, stepName)
      set.status = 201
      return sessionLinks(session)
    })
    .get(
      '/:id',
      async ({ params }) => {
        const session = await requireSession(deps.store, params.id)
        const { step, publisher_hash, ...rest } = session
        return {
          ...rest,
          step: step.name,
          publisher: publisher_hash !== undefined,
          running: (await deps.runner.running(session.id)) !== undefined,
        }
      },
      { params: Id },
    )
    .get('/:id/transcript.md', async ({ params }) => transcriptResponse(deps, await requireSession(deps.store, params.id), 'md'), {
      params: Id,
    })
    .get('/:id/transcript.json', async ({ params }) => transcriptResponse(deps, await requireSession(deps.store, params.id), 'json'), {
      params: Id,
    })
    .post(
      '/:id/messages',
      async ({ params, body, set }) => {
        const session = await requireSession(deps.store, params.id)
        const stepId = await deps.runner.submit(session, checkedMessage(body.text, deps.maxMessageBytes))
        set.status = 202
        return { step_id: stepId }
      },
      {
        params: Id,
        body: t.Object(
          { text: t.String({ error: '"text" must be a string.' }) },
          { error: 'The body must be a JSON object like {"text": "Hello"}.' },
        ),
      },
    )
    .post(
      '/:id/cancel',
      async ({ params, set }) => {
        const session = await requireSession(deps.store, params.id)
        set.status = 202
        return { step_id: await deps.runner.cancel(session.id) }
      },
      { params: Id },
    )
    .get(
      '/:id/events',
      async ({ params, query }) => {
        const session = await requireSession(deps.store, params.id)
        return deps.store.read(session.id, query.after ?? 0, query.limit ?? MAX_PAGE)
      },
      {
        params: Id,
        query: EventsQuery,
      },
    )

import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Elysia, t } from 'elysia'
import { AppError } from '../errors.ts'
import { type AppDeps, createSession, requireSession } from './deps.ts'
import { checkedMessage } from './message.ts'

const Id = t.Object({ id: t.String() })

const NewSession = TypeCompiler.Compile(
  t.Object({ step: t.Optional(t.String({ minLength: 1, maxLength: 64 })) }, { additionalProperties: false }),
)

/**
 * The body of `POST /api/sessions`: nothing, or `{"step"}`. Checked here rather than by a route schema, because an
 * optional body schema makes Elysia skip validation altogether (a body of "hello" passed).
 */
function newSessionBody(body: unknown): { step?: string } {
  if (body === undefined || body === null || (typeof body === 'object' && NewSession.Check(body))) return body ?? {}
  throw new AppError('BAD_REQUEST', 'The body must be empty or a JSON object like {"step": "echo"}.')
}
const MAX_PAGE = 1000

/** The JSON API, for programs and black-box tests. */
export const apiRoutes = (deps: AppDeps) =>
  new Elysia({ name: 'api', prefix: '/api/sessions' })
    .post('/', async ({ body, set }) => {
      const { id, step } = await createSession(deps, newSessionBody(body).step)
      set.status = 201
      return { id, url: `/?client_id=${id}`, step: step.name }
    })
    .get(
      '/:id',
      async ({ params }) => {
        const session = await requireSession(deps.store, params.id)
        const { step, ...rest } = session
        return { ...rest, step: step.name, running: (await deps.runner.running(session.id)) !== undefined }
      },
      { params: Id },
    )
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
        query: t.Object({
          after: t.Optional(t.Integer({ minimum: 0, error: '"after" must be a whole number of events, 0 or more.' })),
          limit: t.Optional(t.Integer({ minimum: 1, maximum: MAX_PAGE, error: `"limit" must be a whole number from 1 to ${MAX_PAGE}.` })),
        }),
      },
    )

import { Elysia, t } from 'elysia'
import { AppError } from '../errors.ts'
import { newId } from '../session-id.ts'
import { requireSession, type AppDeps } from './deps.ts'
import { MESSAGE_MAX_CHARS } from './limits.ts'

const Id = t.Object({ id: t.String() })
const MAX_PAGE = 1000

/** The JSON API, for programs and black-box tests. */
export const apiRoutes = (deps: AppDeps) =>
  new Elysia({ name: 'api', prefix: '/api/sessions' })
    .post('/', async ({ set }) => {
      const id = newId()
      await deps.store.createSession(id)
      set.status = 201
      return { id, url: `/?client_id=${id}` }
    })
    .get(
      '/:id',
      async ({ params }) => {
        const session = await requireSession(deps.store, params.id)
        return { ...session, running: deps.runner.activeRun(session.id) !== undefined }
      },
      { params: Id },
    )
    .post(
      '/:id/messages',
      async ({ params, body, set }) => {
        const session = await requireSession(deps.store, params.id)
        if (!body.text.trim()) throw new AppError('BAD_REQUEST', 'The message text is empty: send {"text": "…"} with some text in it.')
        set.status = 202
        return { step_id: await deps.runner.submit(session.id, body.text) }
      },
      {
        params: Id,
        body: t.Object(
          { text: t.String({ maxLength: MESSAGE_MAX_CHARS, error: `"text" must be a string of at most ${MESSAGE_MAX_CHARS} characters.` }) },
          { error: 'The body must be a JSON object like {"text": "Hello"}.' },
        ),
      },
    )
    .post(
      '/:id/cancel',
      async ({ params, set }) => {
        const session = await requireSession(deps.store, params.id)
        set.status = 202
        return { step_id: deps.runner.cancel(session.id) }
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

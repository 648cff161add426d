import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Elysia, t } from 'elysia'
import { AppError } from '../errors.ts'
import { type AppDeps, createSession, requireSession } from './deps.ts'
import type { SessionRecord } from '../log/event-store.ts'
import { EVENTS_ROUTE_DETAIL, EventsQuery, eventsPage, MAX_PAGE } from './events-query.ts'
import { transcriptResponse } from './exports.ts'
import { submitMessage } from './message.ts'
import { ownerUrl, viewerUrl } from './links.ts'
import { chatModel } from './chat-model.ts'

/** The model and system prompt a chat chose at New Chat (the openai step's), for its owner. */
function chosen(session: SessionRecord): { model?: string; system_prompt?: string } {
  const prompt = session.step.options?.system_prompt
  const model = chatModel(session)
  return { ...(model !== undefined && { model }), ...(typeof prompt === 'string' && { system_prompt: prompt }) }
}
import { deleteChat, renameChat } from './chats.ts'

const Id = t.Object({ id: t.String() })

const RENAME_BODY = 'The body must be a JSON object like {"title": "Trip to Lisbon"} ("" gives the chat its first message as title again).'

const NewSession = TypeCompiler.Compile(
  t.Object(
    {
      step: t.Optional(t.String({ minLength: 1, maxLength: 64 })),
      options: t.Optional(t.Record(t.String({ maxLength: 64 }), t.Unknown())),
      publisher: t.Optional(t.Boolean()),
    },
    { additionalProperties: false },
  ),
)

interface NewSessionBody {
  step?: string
  /** The step's options for this session, handed to the step as `ctx.options` (defineStep). */
  options?: Record<string, unknown>
  publisher?: boolean
}

/**
 * The body of `POST /api/sessions`: nothing, `{"step", "options"?}`, or `{"publisher": true}`. Checked here rather
 * than by a route schema, because an optional body schema makes Elysia skip validation altogether ("hello" passed).
 */
function newSessionBody(body: unknown): NewSessionBody {
  const parsed =
    body === undefined || body === null ? {} : typeof body === 'object' && NewSession.Check(body) ? (body as NewSessionBody) : undefined
  if (!parsed) throw new AppError('BAD_REQUEST', 'The body must be empty or a JSON object like {"step": "echo"} or {"publisher": true}.')
  if (parsed.publisher && (parsed.step !== undefined || parsed.options !== undefined)) {
    throw new AppError('BAD_REQUEST', 'A publisher session runs no step of this server: send {"publisher": true} alone.')
  }
  if (JSON.stringify(parsed.options ?? {}).length > 10_000)
    throw new AppError('BAD_REQUEST', 'The step options are too long: keep them under 10,000 characters of JSON.')
  return parsed
}

/** What `POST /api/sessions` answers about a new session: its ids, its links, its step and what it chose. */
const sessionLinks = (session: SessionRecord) => ({
  id: session.id,
  url: ownerUrl(session.id),
  viewer_id: session.viewer_id,
  view_url: viewerUrl(session.viewer_id),
  step: session.step.name,
  ...chosen(session),
})

/** What `GET /api/sessions/:id` answers about a session (and a rename): never its publisher token's hash. */
const sessionJson = async (deps: AppDeps, session: SessionRecord) => {
  const { step, publisher_hash, ...rest } = session
  return {
    ...rest,
    step: step.name,
    ...chosen(session),
    publisher: publisher_hash !== undefined,
    running: (await deps.runner.running(session.id)) !== undefined,
  }
}

/** The JSON API, for programs and black-box tests. */
export const apiRoutes = (deps: AppDeps) =>
  new Elysia({ name: 'api', prefix: '/api/sessions' })
    .post('/', async ({ body, set }) => {
      const { step: stepName, options, publisher } = newSessionBody(body)
      if (publisher) {
        const { session, token } = await deps.publishing.createSession()
        set.status = 201
        // The token is shown this once: the store keeps only its hash.
        return { ...sessionLinks(session), publisher_token: token }
      }
      const session = await createSession(deps, stepName, options)
      set.status = 201
      return sessionLinks(session)
    })
    .get('/:id', async ({ params }) => sessionJson(deps, await requireSession(deps.store, params.id)), { params: Id })
    .patch(
      '/:id',
      async ({ params, body }) => {
        const session = await requireSession(deps.store, params.id)
        return sessionJson(deps, await renameChat(deps, session, body.title))
      },
      {
        params: Id,
        // The title's own rules (length, bytes, controls) are checkedTitle's, with their sentences (422).
        body: t.Object({ title: t.String({ error: RENAME_BODY }) }, { additionalProperties: false, error: RENAME_BODY }),
      },
    )
    .delete(
      '/:id',
      async ({ params, set }) => {
        await deleteChat(deps, await requireSession(deps.store, params.id))
        set.status = 204
        return ''
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
        const runId = await submitMessage(deps, session, body.text)
        set.status = 202
        return { step_id: runId }
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
        return eventsPage(deps.store, session.id, query.after ?? 0, query.limit ?? MAX_PAGE)
      },
      { params: Id, query: EventsQuery, detail: EVENTS_ROUTE_DETAIL },
    )

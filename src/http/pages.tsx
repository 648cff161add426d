/** @jsxImportSource @kitajs/html */
import { Elysia, t } from 'elysia'
import { AppError } from '../errors.ts'
import { isWellFormedId } from '../session-id.ts'
import { DEFAULT_USER_MESSAGE } from '../steps/conversation.ts'
import { foldTranscript } from '../transcript.ts'
import { readAll } from '../store/read-all.ts'
import { Chat, Landing, Layout, type PageAssets } from '../../templates/page.tsx'
import { toHtml } from '../../templates/to-html.ts'
import { type AppDeps, createSession, requireSession } from './deps.ts'
import { checkedMessage } from './message.ts'
import { PAGE_HEADERS } from './page-headers.ts'

const isHtmx = (request: Request) => request.headers.get('hx-request') === 'true'

/**
 * The answer to a form that worked: htmx swaps the empty body into the notice (clearing it) while the stream shows
 * the effect; a plain form post goes back to the chat page.
 */
function acknowledged(request: Request, sessionId: string): Response {
  if (!isHtmx(request)) return new Response(null, { status: 303, headers: { location: `/?client_id=${sessionId}` } })
  return new Response('', { status: 200, headers: PAGE_HEADERS })
}

const Form = t.Object({
  client_id: t.String({ error: 'The form has no client_id: reload the chat page and try again.' }),
  message: t.Optional(t.String()),
})

/** The browser-facing routes of the original tutorial: the page, /start, /chat and /cancel. */
export const pageRoutes = (deps: AppDeps, assets: PageAssets) => {
  const page = (title: string, body: JSX.Element, status = 200) =>
    new Response(
      toHtml(
        <Layout assets={assets} title={title}>
          {body}
        </Layout>,
      ),
      { status, headers: PAGE_HEADERS },
    )

  const landing = () => page('stepstream', <Landing />)

  const chatFragment = async (sessionId: string) => {
    const transcript = foldTranscript(await readAll(deps.store, sessionId))
    const running = (await deps.runner.running(sessionId)) !== undefined
    return toHtml(<Chat sessionId={sessionId} transcript={transcript} running={running} maxMessageBytes={deps.maxMessageBytes} />)
  }

  return (
    new Elysia({ name: 'pages' })
      .get('/', async ({ query }) => {
        const id = query.client_id
        if (id === undefined) return landing()
        if (!isWellFormedId(id)) throw new AppError('BAD_SESSION_ID', 'That chat link is malformed: check that it was copied whole.')
        if (!(await deps.store.getSession(id))) {
          return page('stepstream', <Landing notice="That chat does not exist (it may have expired). Start a new one below." />, 404)
        }
        return page('stepstream chat', await chatFragment(id))
      })
      // A link prefetcher or an unfurler follows GET links: only a POST may create a session and start a run.
      .get('/start', landing)
      .post('/start', async ({ request }) => {
        const session = await createSession(deps)
        await deps.runner.submit(session, DEFAULT_USER_MESSAGE)
        const { id } = session
        const url = `/?client_id=${id}`
        if (!isHtmx(request)) return new Response(null, { status: 303, headers: { location: url } })
        return new Response(await chatFragment(id), { headers: { ...PAGE_HEADERS, 'hx-push-url': url } })
      })
      .post(
        '/chat',
        async ({ body, request }) => {
          const session = await requireSession(deps.store, body.client_id)
          await deps.runner.submit(session, checkedMessage(body.message, deps.maxMessageBytes))
          return acknowledged(request, session.id)
        },
        { body: Form },
      )
      .post(
        '/cancel',
        async ({ body, request }) => {
          const session = await requireSession(deps.store, body.client_id)
          await deps.runner.cancel(session.id)
          return acknowledged(request, session.id)
        },
        { body: Form },
      )
  )
}

/** @jsxImportSource @kitajs/html */
import { Elysia, t } from 'elysia'
import { AppError } from '../errors.ts'
import { isWellFormedId } from '../session-id.ts'
import { DEFAULT_USER_MESSAGE } from '../steps/conversation.ts'
import { foldTranscript } from '../transcript.ts'
import type { SessionRecord } from '../log/event-store.ts'
import { Chat, type ChatAccess, Landing, Layout, type PageAssets, renderEntries } from '../../templates/page.tsx'
import { toHtml } from '../../templates/to-html.ts'
import { UNTITLED } from '../../templates/chat-list.tsx'
import { type AppDeps, createSession, requireSession } from './deps.ts'
import { ownerUrl, viewerUrl } from './links.ts'
import { chatWindow } from './chat-window.ts'
import { chatModel } from './chat-model.ts'
import { submitMessage } from './message.ts'
import { messageVersions } from './versions.ts'
import { PAGE_HEADERS } from './page-headers.ts'
import { pushUrl, seeOther } from './safe-headers.ts'

const isHtmx = (request: Request) => request.headers.get('hx-request') === 'true'

/**
 * The answer to a form that worked: htmx swaps the empty body into the notice (clearing it) while the stream shows
 * the effect; a plain form post goes back to the chat page.
 */
function acknowledged(request: Request, sessionId: string): Response {
  if (!isHtmx(request)) return seeOther(ownerUrl(sessionId))
  return new Response('', { status: 200, headers: PAGE_HEADERS })
}

/**
 * What the New Chat form chose, as the default step's options: its model and system prompt (blank ones left out),
 * read only when the step offers the choice (`offered`); the step checks them (422 with a sentence). A body that is
 * no form, or a form without them, chooses nothing: `/start` posted bare starts a chat as before.
 */
function newChatChoices(body: unknown, offered: boolean): Record<string, unknown> | undefined {
  if (!offered || typeof body !== 'object' || body === null) return undefined
  const choices = new Map<string, string>()
  for (const name of ['model', 'system_prompt']) {
    // object-key-ok: `name` is one of the two names above, never the request's; an own member only (Object.hasOwn)
    const value: unknown = Object.hasOwn(body, name) ? (body as Record<string, unknown>)[name] : undefined
    if (value === undefined) continue
    if (typeof value !== 'string') throw new AppError('BAD_REQUEST', `The New Chat form sent "${name}" more than once: send it once.`)
    if (value.trim() !== '') choices.set(name, value)
  }
  return choices.size === 0 ? undefined : Object.fromEntries(choices)
}

/** A chat page's tab title: the chat's title (escaped by Layout), or UNTITLED before its first message. */
export const tabTitle = (session: SessionRecord, kind: ChatAccess['kind']) =>
  `${session.title || UNTITLED}${kind === 'viewer' ? ' (read-only)' : ''}`

const Form = t.Object({
  client_id: t.String({ error: 'The form has no client_id: reload the chat page and try again.' }),
  message: t.Optional(t.String()),
})

/** The browser-facing routes of the original tutorial: the page, /start, /chat and /cancel. */
export const pageRoutes = (deps: AppDeps, assets: PageAssets) => {
  // Every page here but a read-only one is a signed-in browser's when auth is on: it gets the sign-out button. A
  // read-only link opens without signing in (viewer-links.ts), so its page has nothing to sign out of.
  const page = (title: string, body: JSX.Element, status = 200, viewer = false) =>
    new Response(
      toHtml(
        <Layout assets={assets} title={title} signOut={deps.auth !== undefined && !viewer} chatList={deps.auth === undefined || !viewer}>
          {body}
        </Layout>,
      ),
      { status, headers: PAGE_HEADERS },
    )

  const step = { name: deps.steps.defaultStep, description: deps.steps.describe(), models: deps.steps.models() }
  const landing = () => page('stepstream', <Landing step={step} />)

  const chatFragment = async (session: SessionRecord, access: ChatAccess) => {
    const { events, earlierBefore } = await chatWindow(deps.store, session.id)
    const transcript = foldTranscript(events)
    const running = (await deps.runner.running(session.id)) !== undefined
    const published = session.publisher_hash !== undefined
    // Versions link the owner's other branches: the owner's page alone shows them.
    const versions = access.kind === 'owner' ? await messageVersions(deps.store, session.id, transcript) : undefined
    return toHtml(
      <Chat
        access={access}
        transcript={transcript}
        running={running}
        maxMessageBytes={deps.maxMessageBytes}
        published={published}
        earlierBefore={earlierBefore}
        entries={await renderEntries(transcript, versions)}
        model={chatModel(session)}
        titled={session.title !== ''}
      />,
    )
  }
  const ownerAccess = (session: SessionRecord): ChatAccess => ({ kind: 'owner', sessionId: session.id, viewerId: session.viewer_id })
  const notFound = (notice: string) => page('stepstream', <Landing notice={notice} step={step} />, 404)

  /** `/?view=`: the read-only page. Everything on it is addressed by the viewer id. */
  const viewerPage = async (viewerId: string) => {
    if (!isWellFormedId(viewerId)) throw new AppError('BAD_SESSION_ID', 'That read-only link is malformed: check that it was copied whole.')
    const session = await deps.store.getSessionByViewer(viewerId)
    // Without the step's hint: this page may be the answer to someone who has not signed in.
    if (!session)
      return page('stepstream', <Landing notice="No chat has that read-only link: the chat was deleted, or it expired." />, 404, true)
    return page(tabTitle(session, 'viewer'), await chatFragment(session, { kind: 'viewer', viewerId }), 200, true)
  }

  return (
    new Elysia({ name: 'pages' })
      .get(
        '/',
        async ({ query }) => {
          const id = query.client_id
          if (query.view !== undefined) {
            if (id !== undefined) throw new AppError('BAD_REQUEST', 'A chat link has either client_id or view, not both.')
            return viewerPage(query.view)
          }
          if (id === undefined) return landing()
          if (!isWellFormedId(id)) throw new AppError('BAD_SESSION_ID', 'That chat link is malformed: check that it was copied whole.')
          const session = await deps.store.getSession(id)
          if (session) return page(tabTitle(session, 'owner'), await chatFragment(session, ownerAccess(session)))
          // A read-only id pasted where an owner link goes: send it to its own page, which shows it no more than it had.
          if (await deps.store.getSessionByViewer(id)) return seeOther(viewerUrl(id))
          return notFound('That chat does not exist: it was deleted, or it expired. Start a new one below.')
        },
        { query: t.Object({ client_id: t.Optional(t.String()), view: t.Optional(t.String()) }) },
      )
      // A link prefetcher or an unfurler follows GET links: only a POST may create a session and start a run.
      .get('/start', landing)
      .post('/start', async ({ request, body }) => {
        const session = await createSession(deps, undefined, newChatChoices(body, step.models.length > 0))
        await deps.runner.submit(session, DEFAULT_USER_MESSAGE)
        const url = ownerUrl(session.id)
        if (!isHtmx(request)) return seeOther(url)
        return new Response(await chatFragment(session, ownerAccess(session)), { headers: { ...PAGE_HEADERS, ...pushUrl(url) } })
      })
      .post(
        '/chat',
        async ({ body, request }) => {
          const session = await requireSession(deps.store, body.client_id)
          await submitMessage(deps, session, body.message)
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

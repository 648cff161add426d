/** @jsxImportSource @kitajs/html */
import { Elysia, t } from 'elysia'
import { Layout, type PageAssets } from '../../templates/page.tsx'
import { Login } from '../../templates/login.tsx'
import { toHtml } from '../../templates/to-html.ts'
import { type Auth, isHttps, signOutCookie } from './auth.ts'
import type { AppDeps } from './deps.ts'
import { PAGE_HEADERS } from './page-headers.ts'
import { seeOther } from './safe-headers.ts'
import { NEXT_MAX_CHARS } from '../limits.ts'

/**
 * What a `next` may hold, raw or decoded: a `/`, then no `/` or `\` (`//host` and `/\host` are other hosts to a
 * browser), and nowhere a backslash, whitespace or a control character. Browsers drop tabs and newlines from a URL and
 * read `\` as `/` (WHATWG URL), so `/\t/host` or `/%09/host` would leave the site once followed or decoded.
 */
const SAFE_PATH = /^\/(?![/\\])[^\\\s\p{Cc}]*$/u

/**
 * Where to go after signing in: a path on this server only, else `/`. Checked as sent and at each level of
 * percent-decoding a hop could apply, so that a crafted sign-in link cannot send someone elsewhere (or put a control
 * character in `Location`) once they have typed their token.
 */
export function localPath(next: unknown): string {
  if (typeof next !== 'string' || next.length > NEXT_MAX_CHARS || !/^[\x21-\x7e]+$/.test(next)) return '/'
  let form = next
  for (let hop = 0; hop < 4; hop++) {
    if (!SAFE_PATH.test(form)) return '/'
    let decoded: string
    try {
      decoded = decodeURIComponent(form)
    } catch {
      return '/'
    }
    if (decoded === form) return new URL(next, 'http://stepstream.invalid').origin === 'http://stepstream.invalid' ? next : '/'
    form = decoded
  }
  // Still decoding after four rounds: no link of this server is built that way.
  return '/'
}

/** `GET /login` (the form), `POST /login` (sets the cookie), `POST /logout`; only when auth is on. */
export const loginRoutes = (deps: AppDeps & { auth: Auth }, assets: PageAssets) => {
  const page = (next: string, status: number, notice?: string) =>
    new Response(
      toHtml(
        <Layout assets={assets} title="stepstream: sign in">
          <Login next={next} notice={notice} />
        </Layout>,
      ),
      { status, headers: PAGE_HEADERS },
    )
  return new Elysia({ name: 'login' })
    .get('/login', ({ query }) => page(localPath(query.next), 200), { query: t.Object({ next: t.Optional(t.String()) }) })
    .post(
      '/login',
      async ({ body, request }) => {
        const next = localPath(body.next)
        if (!deps.auth.tokens.isToken(body.token ?? '')) {
          deps.metrics.rejected('auth')
          return page(next, 401, 'That token is not right. Check it and try again.')
        }
        const cookie = await deps.auth.signIn(isHttps(request, deps.trustProxy))
        return seeOther(next, { 'set-cookie': cookie })
      },
      { body: t.Object({ token: t.Optional(t.String()), next: t.Optional(t.String()) }, { error: 'Send the sign-in form.' }) },
    )
    .post('/logout', async ({ request }) => {
      // Ended on the server first: a copy of the cookie kept elsewhere opens nothing either.
      await deps.auth.signOut(request)
      return seeOther('/login', { 'set-cookie': signOutCookie(isHttps(request, deps.trustProxy)) })
    })
}

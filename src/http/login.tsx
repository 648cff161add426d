/** @jsxImportSource @kitajs/html */
import { Elysia, t } from 'elysia'
import { Layout, type PageAssets } from '../../templates/page.tsx'
import { Login } from '../../templates/login.tsx'
import { toHtml } from '../../templates/to-html.ts'
import { isHttps, signOutCookie, type TokenAuth } from './auth.ts'
import type { AppDeps } from './deps.ts'
import { PAGE_HEADERS } from './page-headers.ts'

/**
 * Where to go after signing in: a path on this server only. `//host` and `/\host` are other hosts to a browser, so a
 * crafted sign-in link cannot send someone elsewhere once they have typed their token.
 */
export function localPath(next: unknown): string {
  return typeof next === 'string' && /^\/(?![/\\])/.test(next) ? next : '/'
}

/** `GET /login` (the form), `POST /login` (sets the cookie), `POST /logout`; only when auth is on. */
export const loginRoutes = (deps: AppDeps & { auth: TokenAuth }, assets: PageAssets) => {
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
      ({ body, request }) => {
        const next = localPath(body.next)
        if (!deps.auth.isToken(body.token ?? '')) {
          deps.metrics.rejected('auth')
          return page(next, 401, 'That token is not right. Check it and try again.')
        }
        const cookie = deps.auth.signInCookie(body.token!, isHttps(request, deps.trustProxy))
        return new Response(null, { status: 303, headers: { location: next, 'set-cookie': cookie } })
      },
      { body: t.Object({ token: t.Optional(t.String()), next: t.Optional(t.String()) }, { error: 'Send the sign-in form.' }) },
    )
    .post(
      '/logout',
      ({ request }) =>
        new Response(null, {
          status: 303,
          headers: { location: '/login', 'set-cookie': signOutCookie(isHttps(request, deps.trustProxy)) },
        }),
    )
}

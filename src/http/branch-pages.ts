import { Elysia, t } from 'elysia'
import { regenerate, resend } from './branches.ts'
import { type AppDeps, requireSession } from './deps.ts'
import { ownerUrl } from './links.ts'
import { PAGE_HEADERS } from './page-headers.ts'
import { hxRedirect, seeOther } from './safe-headers.ts'

const ClientId = { client_id: t.String({ error: 'The form has no client_id: reload the chat page and try again.' }) }

/** The page's way to the branch just made: htmx loads it as a whole page; a plain form post is sent there. */
function toBranch(request: Request, branchId: string): Response {
  const url = ownerUrl(branchId)
  if (request.headers.get('hx-request') !== 'true') return seeOther(url)
  return new Response('', { status: 200, headers: { ...PAGE_HEADERS, ...hxRedirect(url) } })
}

/** "Edit and resend" and "Regenerate" on the owner's page (docs/branches.md): each opens the branch it made. */
export const branchPageRoutes = (deps: AppDeps) =>
  new Elysia({ name: 'branch-pages' })
    .post(
      '/edit',
      async ({ body, request }) => {
        const source = await requireSession(deps.store, body.client_id)
        const { branch } = await resend(deps, source, Number(body.seq), body.message)
        return toBranch(request, branch.id)
      },
      {
        body: t.Object({
          ...ClientId,
          seq: t.String({ error: 'The form does not say which message was edited: reload the chat page and try again.' }),
          message: t.Optional(t.String()),
        }),
      },
    )
    .post(
      '/regenerate',
      async ({ body, request }) => {
        const source = await requireSession(deps.store, body.client_id)
        const { branch } = await regenerate(deps, source)
        return toBranch(request, branch.id)
      },
      { body: t.Object(ClientId) },
    )

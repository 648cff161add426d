import { TypeCompiler } from '@sinclair/typebox/compiler'
import { Elysia, t } from 'elysia'
import { AppError } from '../errors.ts'
import type { SessionRecord } from '../log/event-store.ts'
import { type Branch, forkChat, regenerate } from './branches.ts'
import { type AppDeps, requireSession } from './deps.ts'
import { ownerUrl, viewerUrl } from './links.ts'

const Id = t.Object({ id: t.String() })

const ForkBody = TypeCompiler.Compile(t.Object({ at: t.Integer() }, { additionalProperties: false }))

/** `{"at": <seq>}`, checked here so that every wrong shape gets the same sentence (the seq's range is forkChat's). */
function forkAt(body: unknown): number {
  if (typeof body !== 'object' || body === null || !ForkBody.Check(body)) {
    throw new AppError('BAD_REQUEST', 'The body must be a JSON object like {"at": 4}: the seq of the last event the branch keeps.')
  }
  return (body as { at: number }).at
}

/** What the API answers about a new branch: what `POST /api/sessions` answers about a new chat, and its origin. */
const branchLinks = (session: SessionRecord) => ({
  id: session.id,
  url: ownerUrl(session.id),
  viewer_id: session.viewer_id,
  view_url: viewerUrl(session.viewer_id),
  step: session.step.name,
  forked_from: session.forked_from,
  last_seq: session.last_seq,
})

const forkAnswer = ({ session, publisherToken }: Branch) =>
  publisherToken ? { ...branchLinks(session), publisher_token: publisherToken } : branchLinks(session)

/** Branch and regenerate, for the chat's owner (docs/branches.md). */
export const branchApiRoutes = (deps: AppDeps) =>
  new Elysia({ name: 'branch-api', prefix: '/api/sessions' })
    .post(
      '/:id/fork',
      async ({ params, body, set }) => {
        const source = await requireSession(deps.store, params.id)
        const branch = await forkChat(deps, source, forkAt(body))
        set.status = 201
        return forkAnswer(branch)
      },
      { params: Id },
    )
    .post(
      '/:id/regenerate',
      async ({ params, set }) => {
        const source = await requireSession(deps.store, params.id)
        const { branch, runId } = await regenerate(deps, source)
        set.status = 202
        return { ...branchLinks(branch), step_id: runId }
      },
      { params: Id },
    )

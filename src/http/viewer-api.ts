import { Elysia, t } from 'elysia'
import { readOnly } from '../errors.ts'
import { forViewer } from '../events.ts'
import { type AppDeps, requireViewer } from './deps.ts'
import { chatModel } from './chat-model.ts'
import { transcriptResponse } from './exports.ts'
import { EVENTS_ROUTE_DETAIL, EventsQuery, eventsPage, MAX_PAGE } from './events-query.ts'

const ViewerId = t.Object({ viewer_id: t.String() })

async function refuseWrite(deps: AppDeps, viewerId: string): Promise<never> {
  await requireViewer(deps.store, viewerId)
  throw readOnly()
}

/**
 * The JSON API of a read-only link, under `/api/sessions/view/<viewer_id>`: the session's state, its events, its
 * transcript (the stream is in streams.ts). Read routes only — posts to it are refused with 403 — and nothing they
 * answer holds the session id: no `id`, and events without their `session_id`.
 */
export const viewerApiRoutes = (deps: AppDeps) =>
  new Elysia({ name: 'viewer-api', prefix: '/api/sessions/view' })
    .get(
      '/:viewer_id',
      async ({ params }) => {
        const session = await requireViewer(deps.store, params.viewer_id)
        return {
          viewer_id: session.viewer_id,
          created_at: session.created_at,
          last_seq: session.last_seq,
          step: session.step.name,
          // The model, never the system prompt: the owner's words to the model are not the viewer's to read.
          ...(chatModel(session) !== undefined && { model: chatModel(session) }),
          title: session.title,
          running: (await deps.runner.running(session.id)) !== undefined,
        }
      },
      { params: ViewerId },
    )
    .get(
      '/:viewer_id/events',
      async ({ params, query }) => {
        const session = await requireViewer(deps.store, params.viewer_id)
        return (await eventsPage(deps.store, session.id, query.after ?? 0, query.limit ?? MAX_PAGE)).map(forViewer)
      },
      { params: ViewerId, query: EventsQuery, detail: EVENTS_ROUTE_DETAIL },
    )
    // The owner's write routes, mirrored so that a program that swapped in the viewer path learns why it cannot
    // write (403) rather than that nothing is there (404). An unknown viewer id is still a 404.
    .post('/:viewer_id/messages', ({ params }) => refuseWrite(deps, params.viewer_id), { params: ViewerId })
    .post('/:viewer_id/cancel', ({ params }) => refuseWrite(deps, params.viewer_id), { params: ViewerId })
    .patch('/:viewer_id', ({ params }) => refuseWrite(deps, params.viewer_id), { params: ViewerId })
    .delete('/:viewer_id', ({ params }) => refuseWrite(deps, params.viewer_id), { params: ViewerId })
    .get(
      '/:viewer_id/transcript.md',
      async ({ params }) => transcriptResponse(deps, await requireViewer(deps.store, params.viewer_id), 'md'),
      { params: ViewerId },
    )
    .get(
      '/:viewer_id/transcript.json',
      async ({ params }) => transcriptResponse(deps, await requireViewer(deps.store, params.viewer_id), 'json'),
      { params: ViewerId },
    )

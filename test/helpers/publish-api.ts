import { join } from 'node:path'
import type { StoredEvent } from '../../src/events.ts'
import { eventually, type WaitOptions } from './wait.ts'

/** The publisher script the cross-language tests run (python3, standard library only). */
export const PUBLISHER = join(import.meta.dir, 'publisher.py')

/** What `POST /api/sessions {"publisher": true}` answers: the session, its read-only id, and the token shown once. */
export interface Publisher {
  id: string
  viewer_id: string
  publisher_token: string
}

/** The publish API of a test server at `base`, as a producer uses it. */
export function publishApi(base: string) {
  const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  const publisher = async () => (await (await post('/api/sessions', { publisher: true })).json()) as Publisher
  const bearer = (p: Publisher) => ({ authorization: `Bearer ${p.publisher_token}` })
  /** Opens a run; the status is left to the caller to check when it matters. */
  const openRun = async (p: Publisher) =>
    ((await (await post(`/api/sessions/${p.id}/runs`, undefined, bearer(p))).json()) as { run_id: string }).run_id
  /** @param options.query appended to the path (`?format=ag-ui`); `headers` beside the publisher's token. */
  const append = (p: Publisher, run: string, events: unknown[], options: { headers?: Record<string, string>; query?: string } = {}) =>
    post(`/api/sessions/${p.id}/runs/${run}/events${options.query ?? ''}`, events, { ...bearer(p), ...options.headers })
  const events = async (id: string) => (await (await fetch(`${base}/api/sessions/${id}/events`)).json()) as StoredEvent[]
  /** The session's events once `predicate` holds of them (polled, with wait.ts's deadline unless `options` say). */
  const until = (id: string, predicate: (log: StoredEvent[]) => boolean, options: WaitOptions = {}) => {
    let last: StoredEvent[] = []
    return eventually(
      async () => {
        last = await events(id)
        return predicate(last) ? last : undefined
      },
      { what: `the events of session ${id} to match`, describe: () => last, ...options },
    )
  }
  const python = (p: Publisher, mode: string) =>
    Bun.spawn(['python3', PUBLISHER, base, p.id, p.publisher_token, mode], { stdout: 'pipe', stderr: 'inherit' })
  return { base, post, publisher, bearer, openRun, append, events, until, python }
}

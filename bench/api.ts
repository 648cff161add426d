import { mapLimit, request } from './http-client.ts'
import type { RunningServer } from './server-process.ts'

/** The two JSON API calls every scenario makes, on either server (they share the URL shapes). */

/** Creates `count` sessions, a few requests at a time; resolves with their ids. */
export function createSessions(server: RunningServer, count: number, concurrency = 32): Promise<string[]> {
  return mapLimit(Array.from({ length: count }), concurrency, async () => {
    const response = await request(server.host, server.port, 'POST', '/api/sessions')
    if (response.status !== 201) throw new Error(`POST /api/sessions answered ${response.status}: ${response.body}`)
    return (JSON.parse(response.body) as { id: string }).id
  })
}

/** Sends the message that starts the session's echo run. */
export async function postMessage(server: RunningServer, sessionId: string, text: string): Promise<void> {
  const response = await request(server.host, server.port, 'POST', `/api/sessions/${sessionId}/messages`, { text })
  if (response.status !== 202) throw new Error(`POST /api/sessions/${sessionId}/messages answered ${response.status}: ${response.body}`)
}

/** The JSON stream of a session, as both servers route it. */
export const streamPath = (sessionId: string) => `/api/sessions/${sessionId}/stream`

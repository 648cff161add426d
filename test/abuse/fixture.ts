import type { Pools } from './requests.ts'

/** The token the abused servers are started with (`--auth-token`). */
export const AUTH_TOKEN = 'abuse-suite-token-0123456789'

const bearer = { authorization: `Bearer ${AUTH_TOKEN}` }

async function created(base: string, body: unknown): Promise<{ id: string; viewer_id: string; publisher_token?: string }> {
  const res = await fetch(`${base}/api/sessions`, {
    method: 'POST',
    headers: { ...bearer, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (res.status !== 201) throw new Error(`the fixture could not create a session: ${res.status} ${await res.text()}`)
  return res.json() as Promise<{ id: string; viewer_id: string; publisher_token?: string }>
}

/**
 * The live ids the requests name: `sessions` echo chats and as many publisher sessions, each with an open run, and
 * the sign-in cookie.
 */
export async function createPools(base: string, sessions = 3): Promise<Pools> {
  const login = await fetch(`${base}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${AUTH_TOKEN}&next=/`,
    redirect: 'manual',
  })
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!
  const pools: Pools = {
    owners: [],
    viewers: [],
    publishers: [],
    publisherTokens: [],
    publisherViewers: [],
    runs: [],
    doomed: [],
    authToken: AUTH_TOKEN,
    cookie,
  }
  for (let i = 0; i < sessions; i++) {
    const chat = await created(base, {})
    pools.owners.push(chat.id)
    pools.viewers.push(chat.viewer_id)
    const publisher = await created(base, { publisher: true })
    pools.publishers.push(publisher.id)
    pools.publisherViewers.push(publisher.viewer_id)
    pools.publisherTokens.push(publisher.publisher_token!)
    pools.runs.push('none')
    pools.doomed.push((await created(base, {})).id)
  }
  await refreshRuns(base, pools)
  return pools
}

/** Opens a run in every publisher session whose run has closed (the abuse closes them), so appends have one. */
export async function refreshRuns(base: string, pools: Pools): Promise<void> {
  await Promise.all(
    pools.publishers.map(async (id, i) => {
      const res = await fetch(`${base}/api/sessions/${id}/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${pools.publisherTokens[i]}` },
      })
      if (res.status === 201) pools.runs[i] = ((await res.json()) as { run_id: string }).run_id
      else await res.arrayBuffer()
    }),
  )
}

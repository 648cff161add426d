import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { slowTests } from '../helpers/slow-tests.ts'
import { AUTH_TOKEN, createPools, refreshRuns } from './fixture.ts'
import { AbuseServer, announceSeed, fcParams, propertyTimeout } from './harness.ts'
import type { AbuseRequest, Pools } from './requests.ts'
import { sendBatch } from './requests.ts'
import { appRoutes, missingGenerators, requestArb } from './routes.ts'

/**
 * Every route of the app, from the app's own route table, abused on a real port: random and hostile bodies, ids,
 * headers, paths and chunking, sizes around every limit. After each batch the server must be alive, have answered
 * `/healthz` within 250 ms throughout, hold less than the RSS bound, have answered no 5xx, and have given a sentence
 * with every 4xx (harness.ts). Default flags but these: a temporary SQLite file, auth on (so the sign-in routes
 * exist), no rate limit (the bucket would answer 429 before the handlers are reached), and a long-poll of half a second
 * (a Durable Streams long-poll on a quiet stream would otherwise outlast the harness's 15 s per request), and the openai step
 * offered with two models (its model server refusing connections).
 */

slowTests(60_000)
announceSeed('every-route')

const routes = await appRoutes()
const dir = mkdtempSync(join(tmpdir(), 'stepstream-abuse-'))
let server: AbuseServer
let pools: Pools

beforeAll(async () => {
  server = await AbuseServer.start({
    args: [
      '--store',
      `sqlite:${join(dir, 'abuse.db')}`,
      '--auth-token',
      AUTH_TOKEN,
      '--rate-limit',
      'off',
      '--echo-delay',
      '1',
      '--long-poll-ms',
      '500',
      // The openai step offered, so that a chat's model and system prompt are abused too; its server refuses at once.
      '--models',
      'abuse-model-a,abuse-model-b',
      '--openai-base-url',
      'http://127.0.0.1:9/v1',
    ],
  })
  pools = await createPools(server.base)
})

afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

/** One batch: the requests sent a few at a time, then every promise checked. */
function batch(requests: AbuseRequest[], name: string): Promise<void> {
  return server.batch(name, async () => {
    await refreshRuns(server.base, pools)
    await sendBatch(server, pools, requests)
  })
}

test('every route of the app has a generator of hostile requests', () => {
  expect(routes.length).toBeGreaterThan(20)
  expect(missingGenerators(routes)).toEqual([])
})

describe('each route alone', () => {
  for (const route of routes) {
    test(
      route,
      async () => {
        if (missingGenerators([route]).length > 0) throw new Error(missingGenerators([route]).join('; '))
        await fc.assert(
          fc.asyncProperty(fc.array(requestArb(route), { minLength: 1, maxLength: 6 }), (requests) => batch(requests, route)),
          fcParams(2),
        )
      },
      propertyTimeout(30_000),
    )
  }
})

test(
  'all routes at once: what one request stores, the others read',
  async () => {
    const known = routes.filter((r) => missingGenerators([r]).length === 0)
    const anyRequest = fc.constantFrom(...known).chain(requestArb)
    await fc.assert(
      fc.asyncProperty(fc.array(anyRequest, { minLength: 4, maxLength: 16 }), (requests) => batch(requests, 'mixed')),
      fcParams(6),
    )
  },
  propertyTimeout(45_000),
)

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { RedisClient } from 'bun'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../src/log.ts'
import { openRedis } from '../../src/redis/redis-open.ts'
import { newId } from '../../src/session-id.ts'
import type { EventStore } from '../../src/log/event-store.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { testApp, url } from '../helpers/test-app.ts'
import { slowTests } from '../helpers/slow-tests.ts'

// It starts redis-server: seconds on a loaded machine, past Bun's 5 s default.
slowTests()

const TOKEN = 'correct-horse-battery-staple-0001'
const DAY_MS = 24 * 3600 * 1000

type Made = Awaited<ReturnType<typeof testApp>>

/** An app on `store` whose sign-ins' clock the test moves. */
async function appOn(store: EventStore, clock: { now: number }, ttlMs?: number): Promise<Made> {
  return testApp({ store, authTokens: [TOKEN], now: () => clock.now, signInTtlMs: ttlMs })
}

const call = (made: Made, path: string, init: RequestInit = {}) => made.app.handle(new Request(url(path), init))

/** Signs in through the form; answers the `Set-Cookie` value and the `cookie` request header it gives. */
async function signIn(made: Made): Promise<{ setCookie: string; cookie: string }> {
  const res = await call(made, '/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `token=${TOKEN}&next=/metrics`,
  })
  expect(res.status).toBe(303)
  const setCookie = res.headers.get('set-cookie')!
  return { setCookie, cookie: setCookie.split(';')[0]! }
}

const opens = async (made: Made, cookie: string) => (await call(made, '/metrics', { headers: { cookie } })).status

/**
 * What every store gives sign-ins: the same answers from memory, SQLite and Redis. `open` gives two stores that share
 * their data when the backend can (two instances on one Redis), or the same store twice.
 */
function signInSuite(name: string, open: () => Promise<[EventStore, EventStore]>, peek?: () => Promise<string>) {
  describe(`browser sign-ins kept in the ${name} store`, () => {
    test('a sign-in is a random id (256 bits) in an HttpOnly, SameSite=Strict cookie with Max-Age, unique to each sign-in', async () => {
      const [store] = await open()
      const made = await appOn(store, { now: Date.now() }, 3 * DAY_MS)
      try {
        const first = await signIn(made)
        const second = await signIn(made)
        expect(first.setCookie).toMatch(/^stepstream_auth=[\w-]{43}; Path=\/; Max-Age=259200; HttpOnly; SameSite=Strict$/)
        expect(first.cookie).not.toBe(second.cookie)
        expect(first.setCookie).not.toContain(TOKEN)
        expect(await opens(made, first.cookie)).toBe(200)
        expect(await opens(made, second.cookie)).toBe(200)
        // The store keeps only a hash: neither the id nor the token is in it.
        if (peek) {
          const kept = await peek()
          expect(kept).not.toContain(first.cookie.split('=')[1]!)
          expect(kept).not.toContain(TOKEN)
        }
      } finally {
        await made.close()
      }
    })

    test('/logout ends the sign-in on the server: the old cookie opens nothing, on any instance', async () => {
      const [one, two] = await open()
      const clock = { now: Date.now() }
      const [a, b] = [await appOn(one, clock), await appOn(two, clock)]
      try {
        const { cookie } = await signIn(a)
        const other = await signIn(a)
        expect(await opens(b, cookie)).toBe(200)
        const out = await call(b, '/logout', { method: 'POST', headers: { cookie } })
        expect(out.status).toBe(303)
        for (const made of [a, b]) {
          const res = await call(made, '/metrics', { headers: { cookie } })
          expect(res.status).toBe(401)
          // The browser is told to drop it.
          expect(res.headers.get('set-cookie')).toMatch(/^stepstream_auth=; Path=\/; Max-Age=0/)
        }
        // Another browser's sign-in is its own.
        expect(await opens(a, other.cookie)).toBe(200)
      } finally {
        await a.close()
        if (two !== one) await b.close()
      }
    })

    test('an expired sign-in is refused (the clock moved past --login-ttl, not waited for)', async () => {
      const [store] = await open()
      const clock = { now: Date.now() }
      const made = await appOn(store, clock, DAY_MS)
      try {
        const { cookie } = await signIn(made)
        clock.now += DAY_MS - 1000
        expect(await opens(made, cookie)).toBe(200)
        clock.now += 1000
        expect(await opens(made, cookie)).toBe(401)
        // A browser navigating is sent to sign in again.
        const page = await call(made, '/', { headers: { cookie, accept: 'text/html' } })
        expect(page.status).toBe(303)
        expect(page.headers.get('location')).toBe('/login?next=%2F')
        // Told once to drop the cookie that no longer opens anything.
        expect(page.headers.getSetCookie()).toEqual(['stepstream_auth=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict'])
      } finally {
        await made.close()
      }
    })

    test('a forged or malformed cookie opens nothing, and bearer tokens still work as before', async () => {
      const [store] = await open()
      const made = await appOn(store, { now: Date.now() })
      try {
        for (const forged of ['A'.repeat(43), 'x', '', 'AAAA; stepstream_auth=B'])
          expect(await opens(made, `stepstream_auth=${forged}`)).toBe(401)
        expect((await call(made, '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200)
      } finally {
        await made.close()
      }
    })
  })
}

signInSuite('memory', async () => {
  const store = new MemoryStore()
  return [store, store]
})

{
  let dir: string
  let path: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'stepstream-signins-'))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  signInSuite(
    'SQLite',
    async () => {
      path = join(dir, `${newId()}.db`)
      const store = new SqliteStore(path)
      return [store, store]
    },
    async () => {
      const db = new Database(path, { readonly: true })
      try {
        return JSON.stringify(db.query('SELECT * FROM sign_ins').all())
      } finally {
        db.close()
      }
    },
  )
}

const redisOn = redisAvailable('the sign-ins in Redis')
if (redisOn) {
  let redis: TestRedis
  let prefix: string
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(() => redis?.destroy())
  signInSuite(
    'Redis',
    async () => {
      // Two instances under one prefix: a sign-in made on one is seen, and ended, on the other.
      prefix = `t${newId()}:`
      const [one, two] = await Promise.all([0, 1].map(() => openRedis(redis.url, { prefix, log: silentLogger })))
      return [one!.store, two!.store]
    },
    async () => {
      const client = new RedisClient(redis.url)
      try {
        const keys = (await client.send('KEYS', [`${prefix}signin:*`])) as string[]
        const ttls = await Promise.all(keys.map((key) => client.send('PTTL', [key]) as Promise<number>))
        // Redis forgets each one by itself when it expires.
        for (const ttl of ttls) expect(ttl).toBeGreaterThan(0)
        return JSON.stringify(keys)
      } finally {
        client.close()
      }
    },
  )
}

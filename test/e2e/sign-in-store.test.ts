import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { slowTests } from '../helpers/slow-tests.ts'
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.ts'

slowTests()

const TOKEN = 'a-long-enough-access-token-42'
const ROOT = join(import.meta.dir, '../..')

describe('sign-ins of `bun src/main.ts` on SQLite', () => {
  let dir: string
  let server: SpawnedServer | undefined
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'stepstream-signin-'))
  })
  afterAll(async () => {
    await server?.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  const start = async () => {
    server = await spawnServer([process.execPath, 'src/main.ts'], {
      cwd: ROOT,
      args: ['--store', `sqlite:${join(dir, 'chats.db')}`, '--auth-token', TOKEN, '--login-ttl', '2h'],
    })
    return server
  }

  test('a sign-in lasts --login-ttl, outlives a restart (it is in the database), and ends at /logout; the log never holds its id', async () => {
    let running = await start()
    const res = await fetch(`${running.base}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `token=${TOKEN}`,
      redirect: 'manual',
    })
    expect(res.status).toBe(303)
    const setCookie = res.headers.get('set-cookie')!
    expect(setCookie).toContain('Max-Age=7200;')
    const cookie = setCookie.split(';')[0]!
    const metrics = () => fetch(`${running.base}/metrics`, { headers: { cookie } }).then((r) => r.status)
    expect(await metrics()).toBe(200)
    expect(await running.stop()).toBe(0)
    running = await start()
    expect(await metrics()).toBe(200)
    expect((await fetch(`${running.base}/logout`, { method: 'POST', headers: { cookie }, redirect: 'manual' })).status).toBe(303)
    expect(await metrics()).toBe(401)
    expect(running.log()).not.toContain(cookie.split('=')[1]!)
  })
})

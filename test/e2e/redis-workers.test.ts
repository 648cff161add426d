import { afterAll, beforeAll, expect, test } from 'bun:test'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { hasEnd, SseReader } from '../helpers/sse-client.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { freePort, spawnServer } from '../helpers/spawn-server.ts'
import { READY_MS, until } from '../helpers/wait.ts'

slowTests()

const available = redisAvailable('--workers')
let redis: TestRedis
beforeAll(async () => {
  if (available) redis = await startRedis()
})
afterAll(async () => {
  await redis?.destroy()
})

/** The pids of the processes that said they listen, in the order they did. */
const listeners = (log: string) => [...log.matchAll(/"msg":"listening".*?"pid":(\d+)/g)].map((m) => Number(m[1]))

test.if(available)(
  '--workers 2: two processes serve one port and one Redis; one that dies is replaced; SIGTERM stops them all',
  async () => {
    const port = freePort()
    const server = await spawnServer([process.execPath, 'src/main.ts'], {
      port,
      args: ['--store', redis.url, '--workers', '2', '--echo-delay', '1', '--rate-limit', 'off'],
    })
    await until(() => listeners(server.log()).length === 2, { timeoutMs: READY_MS, what: 'two workers to listen', describe: server.log })
    const [first, second] = listeners(server.log())
    expect(first).not.toBe(second)
    expect([first, second]).not.toContain(server.proc.pid)

    // Sessions made through either process are one pool: a stream and a message on separate connections.
    const created = await fetch(`${server.base}/api/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    })
    const { id } = (await created.json()) as { id: string }
    const stream = await SseReader.open(`${server.base}/api/sessions/${id}/stream`)
    const sent = await fetch(`${server.base}/api/sessions/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ text: 'both cores' }),
    })
    expect(sent.status).toBe(202)
    await stream.until((m) => hasEnd(m))
    expect(JSON.parse(stream.messages.at(-1)!.data).text).toBe('both cores')
    stream.close()

    process.kill(first!, 'SIGKILL')
    await until(() => listeners(server.log()).length === 3, { timeoutMs: READY_MS, what: 'a replacement worker', describe: server.log })
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200)

    const live = listeners(server.log()).slice(1)
    expect(await server.stop('SIGTERM')).toBe(0)
    for (const pid of live) expect(alive(pid)).toBe(false)
  },
)

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

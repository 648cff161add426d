import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { freePort, spawnServer, type SpawnedServer } from '../helpers/spawn-server.ts'
import { hasEnd, SseReader } from '../helpers/sse-client.ts'
import { slowTests } from '../helpers/slow-tests.ts'

slowTests()

const NGINX = '/usr/sbin/nginx'
/** Milliseconds between two echoed characters: a run of 10 characters lasts about a second. */
const ECHO_DELAY_MS = 100

/** Like the browser tests: skipped locally without nginx, failed in CI, where .ci/run installs it. */
function nginxAvailable(): boolean {
  if (existsSync(NGINX)) return true
  if (process.env.CI === 'true') throw new Error(`nginx tests: nginx is missing at ${NGINX}, and CI must run them`)
  console.log(`skipping nginx tests: no nginx at ${NGINX} (apt-get install -y nginx)`)
  return false
}

/**
 * A whole nginx.conf around deploy/nginx.conf, with only its two addresses changed, everything nginx writes in a
 * temporary prefix (never the system's nginx), in the foreground so the test owns the process.
 */
async function nginxConfig(dir: string, listenPort: number, upstreamPort: number): Promise<string> {
  const site = await Bun.file(join(import.meta.dir, '../../deploy/nginx.conf')).text()
  const adapted = site
    .replace(/server 127\.0\.0\.1:8080;/, `server 127.0.0.1:${upstreamPort};`)
    .replace(/listen 80;/, `listen 127.0.0.1:${listenPort};`)
  if (adapted === site || !adapted.includes(String(listenPort)) || !adapted.includes(String(upstreamPort))) {
    throw new Error('deploy/nginx.conf no longer has the two addresses this test replaces')
  }
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${adapted}
}
`
}

describe.skipIf(!nginxAvailable())('behind a real nginx with deploy/nginx.conf', () => {
  let server: SpawnedServer
  let nginx: Subprocess
  let dir: string
  let base: string

  beforeAll(async () => {
    server = await spawnServer(['bun', 'src/main.ts'], {
      args: [
        '--store',
        'memory',
        '--echo-delay',
        String(ECHO_DELAY_MS),
        '--trust-proxy',
        '--max-connections-per-ip',
        '2',
        '--heartbeat',
        '500',
      ],
    })
    dir = mkdtempSync(join(tmpdir(), 'stepstream-nginx-'))
    // nginx's workers drop root for "nobody", which must reach the prefix.
    chmodSync(dir, 0o755)
    const port = freePort()
    const conf = join(dir, 'nginx.conf')
    await Bun.write(conf, await nginxConfig(dir, port, Number(new URL(server.base).port)))
    nginx = Bun.spawn([NGINX, '-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdout: 'ignore', stderr: 'pipe' })
    base = `http://127.0.0.1:${port}`
    const deadline = Date.now() + 10_000
    for (;;) {
      const ok = await fetch(`${base}/healthz`).then(
        (res) => res.ok,
        () => false,
      )
      if (ok) break
      if (Date.now() > deadline || nginx.exitCode !== null) {
        throw new Error(
          `nginx did not start: ${await new Response(nginx.stderr as ReadableStream).text()} ${await Bun.file(join(dir, 'error.log')).text()}`,
        )
      }
      await Bun.sleep(50)
    }
  })
  afterAll(async () => {
    nginx?.kill('SIGTERM')
    await nginx?.exited
    await server?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  async function session(): Promise<string> {
    const res = await fetch(`${base}/api/sessions`, { method: 'POST' })
    expect(res.status).toBe(201)
    return ((await res.json()) as { id: string }).id
  }
  const send = (id: string, text: string) =>
    fetch(`${base}/api/sessions/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text }),
    })

  test('a run streams through it token by token: each partial arrives well before the run ends', async () => {
    const id = await session()
    const stream = await SseReader.open(`${base}/api/sessions/${id}/stream`)
    expect(stream.response.headers.get('content-type')).toStartWith('text/event-stream')
    const text = 'abcdefghij'
    expect((await send(id, text)).status).toBe(202)
    await stream.until((messages) => hasEnd(messages), 15_000)
    const partials = stream.messages.flatMap((m, i) => (m.event === 'partial' ? [i] : []))
    expect(partials.map((i) => JSON.parse(stream.messages[i]!.data).delta).join('')).toBe(text)
    const finalAt = stream.arrivals.at(-1)!
    // The k-th of 10 partials is produced (10 - k) echo delays before the final; buffered, they would all arrive
    // with it. Allow half of that for a loaded machine.
    partials.forEach((index, k) => {
      expect(finalAt - stream.arrivals[index]!).toBeGreaterThanOrEqual(((partials.length - 1 - k) * ECHO_DELAY_MS) / 2)
    })
    stream.close()
  })

  test('the HTML stream too: fragments arrive one by one', async () => {
    const id = await session()
    const stream = await SseReader.open(`${base}/events?client_id=${id}`)
    expect((await send(id, 'abcdef')).status).toBe(202)
    // user, start, 6 partials, final: the final's fragment replaces the run's message.
    await stream.until((messages) => messages.length >= 9, 15_000)
    expect(stream.arrivals.at(-1)! - stream.arrivals[2]!).toBeGreaterThanOrEqual((5 * ECHO_DELAY_MS) / 2)
    stream.close()
  })

  test('a reconnect through it with Last-Event-ID resumes exactly: no gap, no duplicate', async () => {
    const id = await session()
    const text = 'resume me exactly'
    const first = await SseReader.open(`${base}/api/sessions/${id}/stream`)
    expect((await send(id, text)).status).toBe(202)
    await first.until((messages) => messages.filter((m) => m.event === 'partial').length >= 4, 15_000)
    first.close()
    const lastId = first.lastId!
    const second = await SseReader.open(`${base}/api/sessions/${id}/stream`, { 'last-event-id': lastId })
    await second.until((messages) => hasEnd(messages), 15_000)
    const all = [...first.messages.filter((m) => Number(m.id) <= Number(lastId)), ...second.messages]
    expect(all.map((m) => Number(m.id))).toEqual(all.map((_, i) => i + 1))
    expect(
      all
        .filter((m) => m.event === 'partial')
        .map((m) => JSON.parse(m.data).delta)
        .join(''),
    ).toBe(text)
    second.close()
  })

  test('a quiet stream gets its heartbeat through it (nothing buffered)', async () => {
    const id = await session()
    const stream = await SseReader.open(`${base}/api/sessions/${id}/stream`)
    const deadline = Date.now() + 5000
    while (!stream.comments.includes('ping') && Date.now() < deadline) await Bun.sleep(20)
    expect(stream.comments).toContain('ping')
    stream.close()
  })

  test('the per-address cap counts the address nginx saw, whatever X-Forwarded-For the client sends', async () => {
    const id = await session()
    const url = `${base}/api/sessions/${id}/stream`
    // The streams of the tests above are closed; wait until the server has released them.
    const deadline = Date.now() + 5000
    while (!(await (await fetch(`${server.base}/metrics`)).text()).includes('stepstream_sse_connections{stream="json"} 0')) {
      if (Date.now() > deadline) throw new Error('the earlier streams were not released')
      await Bun.sleep(20)
    }
    const streams = [await SseReader.open(url), await SseReader.open(url)]
    expect(streams.map((s) => s.response.status)).toEqual([200, 200])
    const spoofed = await fetch(url, { headers: { 'x-forwarded-for': '10.9.9.9' } })
    expect(spoofed.status).toBe(429)
    expect(spoofed.headers.get('retry-after')).toBe('5')
    expect(await spoofed.text()).toContain('Your address already has 2 live streams open')
    for (const stream of streams) stream.close()
  })
})

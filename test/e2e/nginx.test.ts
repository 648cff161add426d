import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Publisher, publishApi } from '../helpers/publish-api.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { freePort, spawnServer, type SpawnedServer } from '../helpers/spawn-server.ts'
import { hasEnd, SseReader } from '../helpers/sse-client.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { eventually, READY_MS, until } from '../helpers/wait.ts'

slowTests()

const NGINX = '/usr/sbin/nginx'

/** Like the browser tests: skipped locally without nginx, failed in CI, where .ci/run installs it. */
function nginxAvailable(): boolean {
  if (existsSync(NGINX)) return true
  if (process.env.CI === 'true') throw new Error(`nginx tests: nginx is missing at ${NGINX}, and CI must run them`)
  console.log(`skipping nginx tests: no nginx at ${NGINX} (apt-get install -y nginx)`)
  return false
}

/**
 * A whole nginx.conf around deploy/nginx.conf, with only its two addresses changed, everything nginx writes in a
 * temporary prefix (never the system's nginx), in the foreground so the test owns the process. With several
 * instances the site is what deploy/nginx-site.sh writes, the script compose.yaml's nginx runs at its start.
 */
async function nginxConfig(dir: string, listenPort: number, upstreamPorts: number[]): Promise<string> {
  const deploy = join(import.meta.dir, '../../deploy')
  const site = await Bun.file(join(deploy, 'nginx.conf')).text()
  let adapted: string
  if (upstreamPorts.length === 1) {
    adapted = site
      .replace(/listen 80;/, `listen 127.0.0.1:${listenPort};`)
      .replace(/server 127\.0\.0\.1:8080;/, `server 127.0.0.1:${upstreamPorts[0]};`)
  } else {
    const written = join(dir, 'site.conf')
    const script = Bun.spawnSync(['sh', join(deploy, 'nginx-site.sh')], {
      env: {
        PATH: process.env.PATH ?? '',
        NGINX_LISTEN: `127.0.0.1:${listenPort}`,
        STEPSTREAM_UPSTREAMS: upstreamPorts.map((port) => `127.0.0.1:${port}`).join(' '),
        STEPSTREAM_NGINX_DIR: deploy,
        STEPSTREAM_NGINX_SITE: written,
      },
      stderr: 'pipe',
    })
    if (script.exitCode !== 0) throw new Error(`deploy/nginx-site.sh failed: ${script.stderr.toString()}`)
    adapted = await Bun.file(written).text()
  }
  if (adapted === site || !adapted.includes(String(listenPort)) || upstreamPorts.some((port) => !adapted.includes(String(port)))) {
    throw new Error('deploy/nginx.conf or deploy/nginx-redis.conf no longer has the addresses this test replaces')
  }
  return `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  ${upstreamPorts.length > 1 ? `log_format chat '$stepstream_chat $upstream_addr';\n  access_log ${dir}/access.log chat;` : `access_log ${dir}/access.log;`}
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${adapted}
}
`
}

interface RunningNginx {
  base: string
  /** Its access log so far; with several instances, a line `<chat> <upstream address>` per request. */
  accessLog(): Promise<string>
  stop(): Promise<void>
}

/** A real nginx in front of stepstream instances on `upstreamPorts`, with the repository's configuration. */
async function startNginx(upstreamPorts: number[]): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'stepstream-nginx-'))
  // nginx's workers drop root for "nobody", which must reach the prefix.
  chmodSync(dir, 0o755)
  const port = freePort()
  const conf = join(dir, 'nginx.conf')
  await Bun.write(conf, await nginxConfig(dir, port, upstreamPorts))
  const nginx = Bun.spawn([NGINX, '-p', dir, '-c', conf, '-e', join(dir, 'error.log')], { stdout: 'ignore', stderr: 'pipe' })
  const base = `http://127.0.0.1:${port}`
  const stop = async () => {
    nginx.kill('SIGTERM')
    await nginx.exited
    rmSync(dir, { recursive: true, force: true })
  }
  const answers = () =>
    fetch(`${base}/healthz`).then(
      (res) => res.ok,
      () => false,
    )
  try {
    // An nginx that exited will never answer: that ends the wait at once.
    await until(async () => (await answers()) || nginx.exitCode !== null, { timeoutMs: READY_MS, what: 'nginx to answer', everyMs: 50 })
    if (nginx.exitCode !== null) throw new Error(`nginx exited with ${nginx.exitCode}`)
  } catch (error) {
    const why = `${nginx.exitCode === null ? '' : await new Response(nginx.stderr as ReadableStream).text()} ${await Bun.file(join(dir, 'error.log')).text()}`
    await stop()
    throw new Error(`nginx did not start (${(error as Error).message}): ${why}`)
  }
  return { base, stop, accessLog: () => Bun.file(join(dir, 'access.log')).text() }
}

describe.skipIf(!nginxAvailable())('behind a real nginx with deploy/nginx.conf', () => {
  let server: SpawnedServer
  let proxy: RunningNginx
  let base: string

  beforeAll(async () => {
    server = await spawnServer([process.execPath, 'src/main.ts'], {
      args: ['--store', 'memory', '--echo-delay', '1', '--trust-proxy', '--max-connections-per-ip', '2', '--heartbeat', '500'],
    })
    proxy = await startNginx([Number(new URL(server.base).port)])
    base = proxy.base
  })
  afterAll(async () => {
    await proxy?.stop()
    await server?.stop()
  })

  async function session(): Promise<string> {
    const res = await fetch(`${base}/api/sessions`, { method: 'POST' })
    expect(res.status).toBe(201)
    return ((await res.json()) as { id: string }).id
  }
  /**
   * A run published straight to the server, one token at a time: each is sent only once the previous one has come
   * out of nginx on `stream`, while the run is still open. Buffered by nginx, the first token would never come out.
   */
  async function publishTokenByToken(stream: SseReader, tokens: string[], arrived: (tokensSoFar: number) => boolean) {
    const api = publishApi(server.base)
    const p = publisherOf.get(stream)!
    const run = await api.openRun(p)
    for (const [i, delta] of tokens.entries()) {
      expect((await api.append(p, run, [{ type: 'partial', delta }])).status).toBe(200)
      await stream.until(() => arrived(i + 1), 15_000)
    }
    expect((await api.append(p, run, [{ type: 'final', text: tokens.join('') }])).status).toBe(200)
  }
  /** The streams of publisher sessions, to the session they read. */
  const publisherOf = new Map<SseReader, Publisher>()
  async function publisherStream(path: (id: string) => string, headers: Record<string, string> = {}): Promise<SseReader> {
    const p = await publishApi(server.base).publisher()
    const stream = await SseReader.open(`${base}${path(p.id)}`, headers)
    publisherOf.set(stream, p)
    return stream
  }
  const partialsOf = (stream: SseReader) => stream.messages.filter((m) => m.event === 'partial')

  test('a post whose Origin names the port the browser used is not refused as foreign (nginx passes the port on)', async () => {
    // An older browser sends Origin without Sec-Fetch-Site: it names host and port, which Host must match.
    const id = await session()
    const res = await fetch(`${base}/api/sessions/${id}/messages`, {
      method: 'POST',
      headers: { origin: base, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hi' }),
    })
    expect(res.status).toBe(202)
  })

  test('a run streams through it token by token: each partial arrives before the next is even produced', async () => {
    const stream = await publisherStream((id) => `/api/sessions/${id}/stream`)
    expect(stream.response.headers.get('content-type')).toStartWith('text/event-stream')
    const tokens = [...'abcdefghij']
    await publishTokenByToken(stream, tokens, (n) => partialsOf(stream).length === n)
    await stream.until((messages) => hasEnd(messages), 15_000)
    expect(partialsOf(stream).map((m) => JSON.parse(m.data).delta)).toEqual(tokens)
    stream.close()
  })

  test('the HTML stream too: fragments arrive one by one', async () => {
    const stream = await publisherStream((id) => `/events?client_id=${id}`)
    // The run's start, then one fragment per token.
    await publishTokenByToken(stream, [...'abcdef'], (n) => stream.messages.length === 1 + n)
    await stream.until((messages) => messages.some((m) => m.data.includes('answer final')), 15_000)
    stream.close()
  })

  test('a reconnect through it with Last-Event-ID resumes exactly: no gap, no duplicate', async () => {
    const first = await publisherStream((id) => `/api/sessions/${id}/stream`)
    const p = publisherOf.get(first)!
    const api = publishApi(server.base)
    const run = await api.openRun(p)
    const text = 'resume me exactly'
    const [before, after] = [[...text.slice(0, 4)], [...text.slice(4)]]
    expect(
      (
        await api.append(
          p,
          run,
          before.map((delta) => ({ type: 'partial', delta })),
        )
      ).status,
    ).toBe(200)
    await first.until((messages) => messages.filter((m) => m.event === 'partial').length === 4, 15_000)
    first.close()
    const lastId = first.lastId!
    // The rest is stored while nobody reads: the reconnect must bring it, once.
    expect(
      (
        await api.append(
          p,
          run,
          after.map((delta) => ({ type: 'partial', delta })),
        )
      ).status,
    ).toBe(200)
    expect((await api.append(p, run, [{ type: 'final', text }])).status).toBe(200)
    const second = await SseReader.open(`${base}/api/sessions/${p.id}/stream`, { 'last-event-id': lastId })
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
    await stream.until(() => stream.comments.includes('ping'))
    stream.close()
  })

  test('the per-address cap counts the address nginx saw, whatever X-Forwarded-For the client sends', async () => {
    const id = await session()
    const url = `${base}/api/sessions/${id}/stream`
    // The streams of the tests above are closed; wait until the server has released them.
    const metrics = () => fetch(`${server.base}/metrics`).then((res) => res.text())
    await until(async () => (await metrics()).includes('stepstream_sse_connections{stream="json"} 0'), {
      what: 'the earlier streams to be released',
    })
    const streams = [await SseReader.open(url), await SseReader.open(url)]
    expect(streams.map((s) => s.response.status)).toEqual([200, 200])
    const spoofed = await fetch(url, { headers: { 'x-forwarded-for': '10.9.9.9' } })
    expect(spoofed.status).toBe(429)
    expect(spoofed.headers.get('retry-after')).toBe('5')
    expect(await spoofed.text()).toContain('Your address already has 2 live streams open')
    for (const stream of streams) stream.close()
  })
})

const withRedis = nginxAvailable() && redisAvailable('the nginx tests of several instances')

describe.skipIf(!withRedis)('two instances on one Redis behind nginx with deploy/nginx-redis.conf, as compose.yaml builds it', () => {
  let redis: TestRedis
  let instances: SpawnedServer[]
  let proxy: RunningNginx

  beforeAll(async () => {
    redis = await startRedis()
    instances = await Promise.all(
      [0, 1].map(() =>
        spawnServer([process.execPath, 'src/main.ts'], { args: ['--store', redis.url, '--echo-delay', '5', '--trust-proxy'] }),
      ),
    )
    proxy = await startNginx(instances.map((instance) => Number(new URL(instance.base).port)))
  })
  afterAll(async () => {
    await proxy?.stop()
    await Promise.all((instances ?? []).map((instance) => instance.stop()))
    await redis?.destroy()
  })

  test('a chat streams through it, and a run published request by request reaches the instance that opened it', async () => {
    const api = publishApi(proxy.base)
    // Several chats: with connections spread instead of routed by chat, some publish request would land on the
    // other instance and get 421 RUN_ELSEWHERE.
    for (let chat = 0; chat < 4; chat++) {
      const p = await api.publisher()
      const run = await api.openRun(p)
      for (const delta of ['Hel', 'lo ', 'there']) {
        expect((await api.append(p, run, [{ type: 'partial', delta }])).status).toBe(200)
      }
      expect((await api.append(p, run, [{ type: 'final', text: 'Hello there' }])).status).toBe(200)
      expect((await api.events(p.id)).at(-1)).toMatchObject({ type: 'final', text: 'Hello there' })
    }
    const id = ((await (await fetch(`${proxy.base}/api/sessions`, { method: 'POST' })).json()) as { id: string }).id
    const stream = await SseReader.open(`${proxy.base}/api/sessions/${id}/stream`)
    const sent = await fetch(`${proxy.base}/api/sessions/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hi' }),
    })
    expect(sent.status).toBe(202)
    const messages = await stream.until(hasEnd)
    expect(messages.at(-1)).toMatchObject({ event: 'final' })
    stream.close()
  })

  test("the page's requests of each chat (its page, stream, message and cancel) all reach the same instance", async () => {
    // Four chats: were the page's posts routed by their path, some chat's would land on the other instance.
    for (let chat = 0; chat < 4; chat++) {
      const started = await fetch(`${proxy.base}/start`, { method: 'POST', redirect: 'manual' })
      const id = new URL(started.headers.get('location')!, proxy.base).searchParams.get('client_id')!
      const page = await (await fetch(`${proxy.base}/?client_id=${id}`)).text()
      // What the page's composer and cancel button post to, as it renders them.
      const composer = /action="([^"]+)"/.exec(page.slice(page.indexOf('id="composer"') - 200))![1]!.replaceAll('&amp;', '&')
      const cancel = /hx-post="(\/cancel[^"]*)"/.exec(page)![1]!.replaceAll('&amp;', '&')
      const stream = await SseReader.open(`${proxy.base}/events?client_id=${id}`)
      const form = (path: string, fields: Record<string, string>) =>
        fetch(`${proxy.base}${path}`, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' })
      await stream.until((m) => m.some((x) => x.data.includes('final')))
      expect((await form(composer, { client_id: id, message: 'hello there' })).status).toBe(303)
      expect([200, 303]).toContain((await form(cancel, { client_id: id })).status)
      stream.close()
      // Keyed by the chat's id in nginx's map: its page, its stream, its message and its cancel, all on one instance.
      // nginx writes a stream's line when it ends: wait for it.
      const linesOf = async () => (await proxy.accessLog()).split('\n').filter((line) => line.startsWith(`${id} `))
      const lines = await eventually(
        async () => {
          const now = await linesOf()
          return now.length >= 4 ? now : undefined
        },
        { what: `nginx's four access log lines of chat ${id}`, describe: linesOf },
      )
      expect(lines).toHaveLength(4)
      expect(new Set(lines.map((line) => line.split(' ')[1])).size).toBe(1)
    }
  })
})

/**
 * Stalled readers: what a client that stops reading pins in the server. One session holds 300 events of 20,000
 * characters each; 50 clients (in a child process, so their buffers are not counted) open its JSON stream, read
 * nothing, and wait. The server's heap is compared before and after they connect, each time after `Bun.gc(true)`.
 *
 *   bun bench/stalled-readers.ts            # prints one JSON line of figures
 *
 * The figures in src/sse/session-stream.ts (on MAX_CHUNK_CHARS) come from this script.
 */
import { heapStats } from 'bun:jsc'
import { connect, type Socket } from 'node:net'
import { testServer } from '../test/helpers/test-app.ts'
import { ReadCountingStore } from '../test/helpers/read-counting-store.ts'

const CLIENTS = 50
const EVENTS = 300
const EVENT_CHARS = 20_000

/** The child: opens `n` connections, sends the request, then never reads (paused sockets, no data listener). */
async function stall(port: number, path: string, n: number): Promise<void> {
  const sockets: Socket[] = []
  for (let i = 0; i < n; i++) {
    const socket = connect(port, '127.0.0.1')
    socket.pause()
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`)
    sockets.push(socket)
  }
  console.log('open')
  await new Promise(() => {})
}

/** Counts the store's reads, to tell a stalled stream (it stops reading the store) from one that runs on. */
function heap() {
  Bun.gc(true)
  const stats = heapStats()
  const mib = (n: number) => Math.round((n / 2 ** 20) * 10) / 10
  return { heapUsedMiB: mib(process.memoryUsage().heapUsed), extraMiB: mib(stats.extraMemorySize), rssMiB: mib(process.memoryUsage().rss) }
}

/** Bytes waiting in the kernel's socket buffers of the server's connections (`ss`), in MiB: sent, not yet read. */
function kernelQueues(port: number) {
  const lines = Bun.spawnSync(['ss', '-tnH', `( sport = :${port} or dport = :${port} )`])
    .stdout.toString()
    .trim()
    .split('\n')
  let recvQ = 0
  let sendQ = 0
  for (const line of lines) {
    const [, recv, send] = line.trim().split(/\s+/)
    recvQ += Number(recv ?? 0)
    sendQ += Number(send ?? 0)
  }
  return { recvQMiB: Math.round(recvQ / 2 ** 20), sendQMiB: Math.round(sendQ / 2 ** 20) }
}

async function measure(): Promise<void> {
  const store = new ReadCountingStore()
  const server = await testServer({ store })
  const id = ((await (await fetch(`${server.base}/api/sessions`, { method: 'POST' })).json()) as { id: string }).id
  const ts = new Date().toISOString()
  await store.append(id, { type: 'start', step_id: 'big', ts, step_type: 'echo' })
  for (let i = 1; i < EVENTS; i++)
    await store.append(id, { type: 'partial', step_id: 'big', ts, delta: String(i % 10).repeat(EVENT_CHARS) })
  const path = `/api/sessions/${id}/stream`
  // One reader that reads everything first: every event's encoding is cached, as on a server with viewers.
  const warm = await fetch(`${server.base}${path}`)
  const reader = warm.body!.getReader()
  for (let bytes = 0; bytes < EVENTS * EVENT_CHARS; ) bytes += (await reader.read()).value?.length ?? 0
  await reader.cancel()
  await Bun.sleep(200)

  const before = heap()
  const readsBefore = store.reads
  const child = Bun.spawn([process.execPath, import.meta.path, '--client', String(server.app.server!.port), path, String(CLIENTS)], {
    stdout: 'pipe',
  })
  await child.stdout.getReader().read()
  while (server.deps.connections.open < CLIENTS) await Bun.sleep(50)
  await Bun.sleep(2000)
  const after = heap()
  const reads = store.reads - readsBefore
  const kernel = kernelQueues(server.app.server!.port!)
  const clientRssMiB = Math.round(Number(/VmRSS:\s+(\d+)/.exec(await Bun.file(`/proc/${child.pid}/status`).text())?.[1]) / 1024)
  child.kill()
  await child.exited
  await server.close()
  const perClientKiB = Math.round(((after.heapUsedMiB + after.extraMiB - before.heapUsedMiB - before.extraMiB) * 1024) / CLIENTS)
  console.log(
    JSON.stringify({
      clients: CLIENTS,
      events: EVENTS,
      eventChars: EVENT_CHARS,
      before,
      after,
      perClientKiB,
      storeReadsPerClient: reads / CLIENTS,
      kernel,
      clientRssMiB,
    }),
  )
}

if (process.argv[2] === '--client') await stall(Number(process.argv[3]), process.argv[4]!, Number(process.argv[5]))
else await measure()

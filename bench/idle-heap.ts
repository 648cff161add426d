/**
 * Diagnostic: what one idle stream holds on the JS heap. Runs stepstream in this process (createServer, a SQLite
 * store in a temporary folder, the bench's limits lifted), opens N idle JSON streams from a load worker process, and
 * prints the heap and RSS growth per stream and the object types whose count grew most (`bun:jsc` heapStats, after
 * a full GC before and after). The idle scenario of `bun run bench` measures RSS only; this says where it goes.
 *
 *   bun bench/idle-heap.ts [--streams 10000] [--top 25] [--store sqlite|memory] [--baseline]
 *
 * `--baseline` runs bench/baseline.ts in this process instead, so the two servers' objects per stream compare.
 * `--sizes` also takes a JSC heap snapshot before and after and adds up each class's own cell sizes (shallow: a
 * class's bytes, not what it keeps alive), KiB per stream; the snapshots allocate, so RSS is read before each.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { heapStats } from 'bun:jsc'
import { createServer } from '../src/create-server.ts'
import { silentLogger } from '../src/log.ts'
import { SqliteStore } from '../src/store/sqlite-store.ts'
import { createSessions, streamPath } from './api.ts'
import { startLoad } from './load-pool.ts'
import { HOST, type RunningServer } from './server-process.ts'

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    streams: { type: 'string', default: '10000' },
    top: { type: 'string', default: '25' },
    store: { type: 'string', default: 'sqlite' },
    baseline: { type: 'boolean', default: false },
    sizes: { type: 'boolean', default: false },
  },
})
const n = Number(values.streams)
const dir = mkdtempSync(join(tmpdir(), 'stepstream-idle-heap-'))
const server = values.baseline ? await startBaseline() : await startStepstream()
const url = new URL(server.url)
const rss = () => process.memoryUsage().rss / 1024
const target = { name: 'stepstream', host: HOST, port: Number(url.port) } as RunningServer
const ids = await createSessions(target, n)
const progress = (line: string) => process.stderr.write(`idle-heap: ${line}\n`)
progress(`${n} sessions`)

const warmUp = startLoad({ host: HOST, port: target.port, paths: ids.slice(0, 100).map(streamPath), until: 'hold', deadlineMs: 30_000 })
await warmUp.opened
await warmUp.close()
await settle()
const before = heapStats()
const rssBefore = rss()
const bytesBefore = values.sizes ? bytesByClass() : new Map<string, number>()
const load = startLoad({ host: HOST, port: target.port, paths: ids.map(streamPath), until: 'hold', deadlineMs: 300_000 })
// The heap's peak while the streams open: what the GC keeps of it afterwards is the capacity line's excess.
const peak = { live: 0, capacity: 0 }
const sampler = setInterval(() => {
  const h = heapStats()
  peak.live = Math.max(peak.live, h.heapSize)
  peak.capacity = Math.max(peak.capacity, h.heapCapacity)
}, 20)
const { opened } = await load.opened
clearInterval(sampler)
progress(`${opened} streams open`)
await settle()
const after = heapStats()
const rssAfter = rss()
const bytesAfter = values.sizes ? bytesByClass() : new Map<string, number>()
progress('measured; closing')
await load.close()
await server.stop()
rmSync(dir, { recursive: true, force: true })

const grown = Object.entries(after.objectTypeCounts)
  .map(([type, count]) => [type, (count - (before.objectTypeCounts[type] ?? 0)) / opened] as const)
  .filter(([, perStream]) => perStream >= 0.5)
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(values.top))
const kib = (bytes: number) => (bytes / 1024 / opened).toFixed(2)
process.stdout.write(
  `${[
    `${opened} idle streams: RSS +${((rssAfter - rssBefore) / opened).toFixed(2)} KiB/stream, heap +${kib(after.heapSize - before.heapSize)} KiB/stream, objects +${((after.objectCount - before.objectCount) / opened).toFixed(1)}/stream`,
    `  heap capacity (the GC's blocks) +${kib(after.heapCapacity - before.heapCapacity)} KiB/stream, extra memory reported to the GC +${kib(after.extraMemorySize - before.extraMemorySize)} KiB/stream`,
    `  while opening (sampled every 20 ms): peak heap +${kib(peak.live - before.heapSize)} KiB/stream, peak capacity +${kib(peak.capacity - before.heapCapacity)} KiB/stream`,
    'objects per stream, by type:',
    ...grown.map(([type, perStream]) => `  ${perStream.toFixed(2).padStart(6)}  ${type}`),
    ...(values.sizes ? ['own bytes per stream, by class (heap snapshot), KiB:', ...grownBytes()] : []),
  ].join('\n')}\n`,
)
process.exit(0)

async function startStepstream(): Promise<{ url: string; stop(): Promise<unknown> }> {
  const app = await createServer({
    store: values.store === 'memory' ? undefined : new SqliteStore(join(dir, 'idle.db')),
    log: silentLogger,
    connections: { max: 1_000_000, maxPerIp: 1_000_000 },
    rateLimit: false,
  })
  return { url: String(app.listen({ port: 0, hostname: HOST })), stop: () => app.stop() }
}

/** baseline.ts reads its flags and listens when imported: its defaults, on a free port of 127.0.0.1. */
async function startBaseline(): Promise<{ url: string; stop(): Promise<unknown> }> {
  process.argv = [process.argv[0]!, 'baseline.ts', '--port', '0', '--host', HOST]
  const { server: baseline } = await import('./baseline.ts')
  return { url: String(baseline.url), stop: () => baseline.stop(true) }
}

/** The snapshot's cells added up by class name: JSC snapshot nodes are [id, size, class name index, flags]. */
function bytesByClass(): Map<string, number> {
  const snapshot = Bun.generateHeapSnapshot() as unknown as { nodes: number[]; nodeClassNames: string[] }
  const bytes = new Map<string, number>()
  for (let i = 0; i < snapshot.nodes.length; i += 4) {
    const name = snapshot.nodeClassNames[snapshot.nodes[i + 2]!]!
    bytes.set(name, (bytes.get(name) ?? 0) + snapshot.nodes[i + 1]!)
  }
  return bytes
}

function grownBytes(): string[] {
  const rows = [...bytesAfter]
    .map(([name, b]) => [name, (b - (bytesBefore.get(name) ?? 0)) / 1024 / opened] as const)
    .filter(([, k]) => k >= 0.01)
    .sort((a, b) => b[1] - a[1])
    .slice(0, Number(values.top))
  const total = rows.reduce((sum, [, k]) => sum + k, 0)
  return [...rows.map(([name, k]) => `  ${k.toFixed(3).padStart(7)}  ${name}`), `  ${total.toFixed(3).padStart(7)}  (these rows)`]
}

/** Two full collections and a pause, so that what is left is what the streams hold. */
async function settle() {
  for (let i = 0; i < 2; i++) {
    Bun.gc(true)
    await Bun.sleep(500)
  }
}

/**
 * `bun bench/profile-layers.ts <file.cpuprofile> [--from <s>] [--to <s>]`: diagnostic for issue 24. Reads a profile
 * written by `bun --cpu-prof` (bench/run.ts --profile, bench/capacity.ts --profile) and prints where the busy samples
 * went, by layer. A sample counts for its leaf frame; a native or builtin leaf (SQLite's `run`, a ReadableStream
 * builtin, `Promise`) goes to its own layer when its name says which, else to the layer of the nearest caller that
 * has a file. `--from`/`--to` keep the samples of that window (seconds since the profile started), so start-up
 * (module loading, Elysia compiling its routes) can be left out; a per-second histogram of busy samples is printed
 * to choose it.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
}

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  options: { from: { type: 'string' }, to: { type: 'string' }, top: { type: 'string', default: '30' }, callers: { type: 'string' } },
  allowPositionals: true,
})
const profile = JSON.parse(readFileSync(positionals[0]!, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

const SQLITE_NATIVE = new Set(['run', 'all', 'get', 'values', 'prepare', 'finalize', 'exec', 'query', 'transaction'])
const STREAM_NATIVE =
  /^(onRS|onReadStream|readableStream|ReadableStream|readStream|pull|enqueue|readDirectStream|handleDirectStream|onPull|processResult|onDrain|write|flush|end|close|cancel)/i
const PROMISE_NATIVE =
  /^(Promise|then|resolve|reject|asyncFunctionDrive|asyncFunctionResume|promiseReaction|performPromiseThen|newPromiseCapability|asyncGenerator|@|async )/

/** The layer a file belongs to; undefined for no file. */
function layerOfUrl(url: string): string | undefined {
  if (!url || url === '[native code]') return undefined
  if (url === 'bun:sqlite') return 'SQLite (bun:sqlite)'
  if (url.includes('node_modules/elysia') || url.includes('node_modules/@sinclair') || url.includes('memoirist'))
    return 'Elysia (routing, hooks, validation)'
  if (url.includes('node_modules/prom-client') || url.endsWith('src/metrics.ts') || url.endsWith('event-loop-lag.ts')) return 'metrics'
  if (url.endsWith('src/log.ts')) return 'logging'
  if (url.includes('templates/') || url.endsWith('.tsx') || url.includes('node_modules/entities') || url.includes('node_modules/marked'))
    return 'JSX / HTML rendering'
  if (url.includes('src/sse/')) return 'SSE encoding + stream loop (src/sse)'
  if (
    /src\/http\/(request-guards|connection-limit|token-bucket|auth|safe-headers|client-ip|allowed-methods|capped-body|page-headers|guarded-routes)/.test(
      url,
    )
  )
    return 'guards (src/http guards)'
  if (url.includes('src/http/')) return 'HTTP handlers (src/http)'
  if (url.includes('src/log/backends/sqlite')) return 'SQLite backend JS (src/log/backends)'
  if (url.includes('src/log/backends/memory')) return 'memory backend JS'
  if (url.includes('src/log/')) return 'log core (src/log)'
  if (url.includes('src/bus/')) return 'wake-ups (src/bus)'
  if (url.includes('src/steps/') || url.includes('src/runs/')) return 'producer: step + runner'
  if (url.includes('src/events.ts') || url.includes('bounded-json') || url.includes('json-shape')) return 'event validation'
  if (url.startsWith('node:') || url.includes('internal')) return 'runtime (node: modules)'
  if (url.includes('node_modules/')) return `other package (${url.split('node_modules/')[1]!.split('/')[0]})`
  if (url.includes('/src/')) return `other src (${url.split('/src/')[1]})`
  return `other (${url})`
}

function layerOf(leafId: number): string {
  const leaf = byId.get(leafId)!
  const name = leaf.callFrame.functionName
  if (name === '(idle)' || name === '(program)' || name === '(root)') return name
  if (name === '(garbage collector)') return 'GC'
  const own = layerOfUrl(leaf.callFrame.url)
  if (own) return own
  if (SQLITE_NATIVE.has(name)) {
    // A native `run`/`all` under a SQLite backend frame is bun:sqlite; elsewhere it may be something else.
    for (let id = parent.get(leafId); id !== undefined; id = parent.get(id)) {
      const url = byId.get(id)!.callFrame.url
      if (url.includes('src/log/backends/sqlite') || url.includes('src/store/sqlite')) return 'SQLite (bun:sqlite native)'
      if (layerOfUrl(url)) break
    }
  }
  if (STREAM_NATIVE.test(name)) return 'ReadableStream / socket builtins'
  if (PROMISE_NATIVE.test(name)) return 'promise / async machinery'
  for (let id = parent.get(leafId); id !== undefined; id = parent.get(id)) {
    const layer = layerOfUrl(byId.get(id)!.callFrame.url)
    if (layer) return `${layer} [native callee]`
  }
  return 'native, no JS caller'
}

const from = values.from === undefined ? 0 : Number(values.from) * 1e6
const to = values.to === undefined ? Number.POSITIVE_INFINITY : Number(values.to) * 1e6
const layers = new Map<string, number>()
const leaves = new Map<string, number>()
const perSecond: number[] = []
let t = 0
let busy = 0
profile.samples.forEach((id, i) => {
  t += profile.timeDeltas[i] ?? 0
  const name = byId.get(id)!.callFrame.functionName
  if (name === '(idle)' || name === '(root)' || name === '(program)') return
  const second = Math.floor(t / 1e6)
  perSecond[second] = (perSecond[second] ?? 0) + 1
  if (t < from || t > to) return
  busy++
  const layer = layerOf(id)
  layers.set(layer, (layers.get(layer) ?? 0) + 1)
  const f = byId.get(id)!.callFrame
  const key = `${f.functionName || '(anonymous)'} ${f.url ? `${f.url.replace(/^.*wt-perf-profile\//, '')}:${f.lineNumber + 1}` : ''}`
  leaves.set(key, (leaves.get(key) ?? 0) + 1)
})
const pct = (n: number) => `${((100 * n) / busy).toFixed(1)}%`
process.stdout.write(`busy samples per second: ${perSecond.map((n) => n ?? 0).join(' ')}\n`)
process.stdout.write(`window ${from / 1e6}–${to === Number.POSITIVE_INFINITY ? 'end' : to / 1e6} s: ${busy} busy samples\n\n`)
process.stdout.write('| layer | share of busy samples |\n|---|---:|\n')
for (const [layer, n] of [...layers].sort((a, b) => b[1] - a[1])) process.stdout.write(`| ${layer} | ${pct(n)} |\n`)
process.stdout.write('\n| leaf (self) | share |\n|---|---:|\n')
for (const [leaf, n] of [...leaves].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
  process.stdout.write(`| ${leaf} | ${pct(n)} |\n`)

// --callers <name>: the nearest callers with a file of the leaves with that function name, by share.
const wanted = process.argv.indexOf('--callers')
if (wanted > 0) {
  const name = process.argv[wanted + 1]
  const callers = new Map<string, number>()
  let tt = 0
  profile.samples.forEach((id, i) => {
    tt += profile.timeDeltas[i] ?? 0
    if (tt < from || tt > to || byId.get(id)!.callFrame.functionName !== name) return
    const chain: string[] = []
    for (let p = parent.get(id); p !== undefined && chain.length < 3; p = parent.get(p)) {
      const f = byId.get(p)!.callFrame
      if (f.url && f.url !== '[native code]')
        chain.push(`${f.functionName || '(anon)'} ${f.url.replace(/^.*wt-perf-profile\//, '')}:${f.lineNumber + 1}`)
    }
    const key = chain.join(' ← ')
    callers.set(key, (callers.get(key) ?? 0) + 1)
  })
  process.stdout.write(`\ncallers of ${name}:\n`)
  for (const [k, n] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, 8)) process.stdout.write(`  ${pct(n)}  ${k}\n`)
}

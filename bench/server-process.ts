import type { Subprocess } from 'bun'
import { request } from './http-client.ts'
import { cpuSeconds, rssKiB } from './proc-stats.ts'

/** How a scenario wants its server started. */
export interface ServerOptions {
  /** `--echo-delay`; milliseconds between two echoed characters. */
  echoDelayMs: number
  /** stepstream's `--store` (`memory` or `sqlite:<path>`); the baseline keeps its events in memory unless `durableBaseline`. */
  store: string
  /**
   * The baseline writes every event into `store` too, with one INSERT each (baseline.ts `--store`): only the rows
   * that compare stepstream's SQLite store with a naive durable server ask for it. Default false.
   */
  durableBaseline?: boolean
}

/** One of the two servers under test: how to start it with the options of a scenario. */
export interface Target {
  name: 'stepstream' | 'baseline'
  command: (options: ServerOptions) => string[]
}

/**
 * stepstream as `command` (the compiled binary, or `bun … src/main.ts` to profile it) with a scenario's flags.
 * `--log-level error`: the benchmark measures streaming, not two log lines per run written to a pipe. The limits meant
 * for a public server are lifted: the load client is one address opening thousands of streams and sessions.
 */
export function stepstreamTarget(command: string[]): Target {
  return {
    name: 'stepstream',
    command: (o) => [
      ...command,
      ...['--store', o.store, '--echo-delay', String(o.echoDelayMs), '--log-level', 'error', '--rate-limit', 'off'],
      ...['--max-connections', '1000000', '--max-connections-per-ip', '1000000'],
    ],
  }
}

export function baselineTarget(binary: string): Target {
  return {
    name: 'baseline',
    command: (o) => [binary, '--echo-delay', String(o.echoDelayMs), ...(o.durableBaseline ? ['--store', o.store] : [])],
  }
}

export interface RunningServer {
  name: Target['name']
  pid: number
  host: string
  port: number
  /** From spawn to the first 200 answer of `GET /healthz`; milliseconds. */
  startupMs: number
  rssKiB(): number
  cpuSeconds(): number
  stop(): Promise<void>
}

export const HOST = '127.0.0.1'

/** A port nobody listens on right now: bind port 0, read what the kernel chose, let it go. */
function freePort(): number {
  const listener = Bun.listen({ hostname: HOST, port: 0, socket: { data() {} } })
  const port = listener.port
  listener.stop(true)
  return port
}

/**
 * Starts `target` on 127.0.0.1 and resolves once `GET /healthz` answers 200, probing every few milliseconds, so
 * the same code measures cold start and waits for readiness. The port is chosen here rather than read from the
 * server's log because stepstream at `--log-level error` does not log its "listening" line.
 */
export async function startServer(target: Target, options: ServerOptions, timeoutMs = 10_000): Promise<RunningServer> {
  const port = freePort()
  const spawnedAt = performance.now()
  const proc: Subprocess<'ignore', 'ignore', 'pipe'> = Bun.spawn([...target.command(options), '--port', String(port), '--host', HOST], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdin: 'ignore',
    stdout: 'ignore',
    stderr: 'pipe',
  })
  const stderr = drain(proc.stderr)
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${target.name} exited with code ${proc.exitCode} before answering: ${stderr()}`)
    if (performance.now() - spawnedAt > timeoutMs) {
      proc.kill('SIGKILL')
      throw new Error(`${target.name} did not answer GET /healthz within ${timeoutMs} ms: ${stderr()}`)
    }
    const ok = await request(HOST, port, 'GET', '/healthz').then(
      (r) => r.status === 200,
      () => false,
    )
    if (ok) break
    await Bun.sleep(2)
  }
  const startupMs = performance.now() - spawnedAt
  return {
    name: target.name,
    pid: proc.pid,
    host: HOST,
    port,
    startupMs,
    rssKiB: () => rssKiB(proc.pid),
    cpuSeconds: () => cpuSeconds(proc.pid),
    stop: async () => {
      proc.kill('SIGTERM')
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5000)
      await proc.exited
      clearTimeout(killer)
    },
  }
}

/** Reads a pipe to its end so the child never blocks on a full pipe; keeps the last 4 KiB for error messages. */
function drain(stream: ReadableStream<Uint8Array>): () => string {
  let text = ''
  const decoder = new TextDecoder()
  void (async () => {
    const reader = stream.getReader()
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      text = (text + decoder.decode(chunk.value, { stream: true })).slice(-4096)
    }
  })()
  return () => text
}

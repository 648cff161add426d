import type { Subprocess } from 'bun'
import { READY_MS, until, type WaitOptions, within } from './wait.ts'

export interface SpawnedServer {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>
  base: string
  /** Everything the server wrote to stderr so far (its JSON log lines). */
  log: () => string
  /** Resolves once its log holds `text` (a JSON log line's fragment, e.g. `"msg":"shutting down"`). */
  logged: (text: string, options?: WaitOptions) => Promise<void>
  stop: (signal?: NodeJS.Signals) => Promise<number>
}

/**
 * Starts a stepstream process (`cmd`, e.g. [process.execPath, 'src/main.ts'] or the compiled binary) on a free port and
 * resolves once it logs that it is listening (its readiness, however long a loaded machine takes: up to `readyMs`).
 * @param options.readyMs how long the server may take to say it listens; milliseconds, default 30,000.
 */
export async function spawnServer(
  cmd: string[],
  options: { cwd?: string; args?: string[]; env?: Record<string, string>; port?: number; readyMs?: number } = {},
): Promise<SpawnedServer> {
  const proc = Bun.spawn([...cmd, '--port', String(options.port ?? 0), '--host', '127.0.0.1', ...(options.args ?? [])], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  let stderr = ''
  const decoder = new TextDecoder()
  const port = new Promise<number>((resolve, reject) => {
    void (async () => {
      const reader = proc.stderr.getReader()
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        stderr += decoder.decode(chunk.value, { stream: true })
        const match = stderr.match(/"msg":"listening","url":"http:\/\/[^:]+:(\d+)"/)
        if (match) resolve(Number(match[1]))
      }
      reject(new Error(`the server exited before listening (code ${await proc.exited}): ${stderr}`))
    })()
  })
  const readyMs = options.readyMs ?? READY_MS
  // A server that never says it listens must not outlive the test that started it.
  const listening = await within(port, { timeoutMs: readyMs, what: `${cmd.join(' ')} to log that it listens` }).catch((error: unknown) => {
    const running = proc.exitCode === null
    proc.kill('SIGKILL')
    throw running ? new Error(`${(error as Error).message}; its stderr: ${stderr}`) : error
  })
  return {
    proc,
    base: `http://127.0.0.1:${listening}`,
    log: () => stderr,
    logged: (text, options) =>
      until(() => stderr.includes(text), { what: `${text} in the server's log`, describe: () => stderr, ...options }),
    stop: async (signal = 'SIGTERM') => {
      proc.kill(signal)
      return proc.exited
    },
  }
}

/** A port that was free a moment ago, for a server that must come back on the same address after a restart. */
export function freePort(): number {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const { port } = probe
  probe.stop(true)
  return port
}

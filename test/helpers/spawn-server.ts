import type { Subprocess } from 'bun'

export interface SpawnedServer {
  proc: Subprocess<'ignore', 'pipe', 'pipe'>
  base: string
  /** Everything the server wrote to stderr so far (its JSON log lines). */
  log: () => string
  stop: (signal?: NodeJS.Signals) => Promise<number>
}

/**
 * Starts a stepstream process (`cmd`, e.g. [process.execPath, 'src/main.ts'] or the compiled binary) on a free port and
 * resolves once it logs that it is listening.
 */
export async function spawnServer(
  cmd: string[],
  options: { cwd?: string; args?: string[]; env?: Record<string, string>; port?: number } = {},
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
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no listening line within 10 s: ${stderr}`)), 10_000))
  // A server that never says it listens must not outlive the test that started it.
  const listening = await Promise.race([port, timeout]).catch((error: unknown) => {
    proc.kill('SIGKILL')
    throw error
  })
  return {
    proc,
    base: `http://127.0.0.1:${listening}`,
    log: () => stderr,
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

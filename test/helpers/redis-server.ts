import type { Subprocess } from 'bun'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './spawn-server.ts'
import { READY_MS, until } from './wait.ts'

/** Debian's redis-server (`apt-get install -y redis-server`); .ci/run installs it. */
export const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server'

/**
 * Whether the Redis tests can run. A missing redis-server skips them with one line locally but fails them under
 * CI=true, where .ci/run installs it: a CI run that silently skipped the shared store would prove nothing.
 */
export function redisAvailable(suite: string): boolean {
  if (Bun.which(REDIS_SERVER)) return true
  if (process.env.CI === 'true') throw new Error(`${suite}: redis-server is missing at ${REDIS_SERVER}, and CI must run the Redis tests`)
  console.log(`skipping ${suite}: no redis-server at ${REDIS_SERVER} (apt-get install -y redis-server)`)
  return false
}

export interface TestRedis {
  url: string
  port: number
  /** Stops it (SIGTERM: with `persist`, it saves first). */
  stop(): Promise<void>
  /** Starts it again on the same port and directory (after `stop`). */
  start(): Promise<void>
  /** Stops it and deletes its directory. */
  destroy(): Promise<void>
}

/**
 * A private redis-server on a free port in a temporary directory. Without `persist` nothing touches the disk
 * (`--save '' --appendonly no`); with it, every write is in an fsynced append-only file, so a restart keeps the data.
 */
export async function startRedis(options: { persist?: boolean } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'stepstream-redis-'))
  const port = freePort()
  const persistence = options.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']
  let proc: Subprocess | undefined
  const start = async () => {
    proc = Bun.spawn([REDIS_SERVER, '--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', dir], {
      stdout: 'ignore',
      stderr: 'inherit',
    })
    await until(() => answers(port), { timeoutMs: READY_MS, what: `redis-server to answer on port ${port}`, everyMs: 20 })
  }
  const stop = async () => {
    proc?.kill('SIGTERM')
    await proc?.exited
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    destroy: async () => {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function answers(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } })
    socket.end()
    return true
  } catch {
    return false
  }
}

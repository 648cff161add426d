import type { Subprocess } from 'bun'
import type { Logger } from './log.ts'

/** Set in each worker's environment (its index), so that a worker serves instead of starting workers of its own. */
export const WORKER_ENV = 'STEPSTREAM_WORKER_INDEX'

/** The exit code of a worker that could not start (bad config, Redis unreachable): restarting it would not help. */
const START_FAILED = 2
/** Pause before a worker that died is started again; milliseconds. */
const RESTART_DELAY_MS = 1000

/**
 * `--workers N`: this process starts N copies of itself (same flags, same environment), each listening on the same
 * port with SO_REUSEPORT, so the kernel spreads connections over them and one machine's cores all serve; they share
 * their sessions through Redis, as instances on several machines do. It forwards SIGTERM and SIGINT to them, exits
 * once all have, restarts one that dies, and gives up with exit code 2 if one cannot start at all.
 */
export function runWorkers(count: number, log: Logger): void {
  const compiled = Bun.main.startsWith('/$bunfs/')
  const cmd = [process.execPath, ...(compiled ? [] : [Bun.main]), ...process.argv.slice(2)]
  const workers = new Map<number, Subprocess>()
  let stopping = false
  let failed = false

  const start = (index: number) => {
    const proc = Bun.spawn(cmd, { env: { ...process.env, [WORKER_ENV]: String(index) }, stdio: ['ignore', 'inherit', 'inherit'] })
    workers.set(index, proc)
    void proc.exited.then((code) => {
      workers.delete(index)
      if (stopping) {
        if (workers.size === 0) process.exit(failed ? START_FAILED : 0)
        return
      }
      if (code === START_FAILED) {
        log.error('a worker could not start; stopping the others', { worker: index })
        failed = true
        stopAll('SIGTERM')
        return
      }
      log.warn('a worker exited; starting it again', { worker: index, code })
      setTimeout(() => {
        if (!stopping) start(index)
      }, RESTART_DELAY_MS)
    })
  }
  const stopAll = (signal: NodeJS.Signals) => {
    stopping = true
    if (workers.size === 0) process.exit(failed ? START_FAILED : 0)
    for (const proc of workers.values()) proc.kill(signal)
  }
  for (let i = 0; i < count; i++) start(i)
  log.info('workers started', { workers: count, pid: process.pid })
  process.on('SIGTERM', () => stopAll('SIGTERM'))
  process.on('SIGINT', () => stopAll('SIGINT'))
}

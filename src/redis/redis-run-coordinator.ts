import type { Logger } from '../log.ts'
import type { RunClaim, RunCoordinator } from '../runs/run-coordinator.ts'
import { sessionNotFound } from '../errors.ts'
import { guarded } from './redis-errors.ts'
import type { RedisKeys } from './redis-keys.ts'
import type { RedisLink } from './redis-link.ts'
import { CLAIM, RELEASE, RENEW } from './redis-scripts.ts'

/** How long a run's lease lasts without renewal; milliseconds (`--run-lease`). */
export const DEFAULT_LEASE_MS = 10_000

export interface RedisRunCoordinatorOptions {
  link: RedisLink
  keys: RedisKeys
  log: Logger
  /** The lease; renewed every third of it while the run goes on. Milliseconds, default 10,000. */
  leaseMs?: number
  /** Closes the session's run if its owner let the lease expire (the event log's recoverSession). */
  closeAbandoned: (sessionId: string) => Promise<unknown>
  /** Closes every such run (the event log's recoverOpenRuns); swept every half lease. */
  sweep: () => Promise<unknown>
}

interface HeldRun {
  runId: string
  controller: AbortController
  renewal: ReturnType<typeof setInterval>
}

/**
 * One run per session across instances. A run holds its session by a lease (`SET NX PX` in the CLAIM script,
 * renewed every third of its time); the append script stores a leased run's events only while it holds the lease,
 * so an owner that lost it (it hung, or lost Redis) can never write after another instance closed its run. A cancel
 * is published, and the instance holding the run aborts it. Every instance sweeps for runs whose owner died.
 */
export class RedisRunCoordinator implements RunCoordinator {
  readonly #held = new Map<string, HeldRun>()
  readonly #leaseMs: number
  readonly #sweeper: ReturnType<typeof setInterval>

  constructor(private readonly options: RedisRunCoordinatorOptions) {
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS
    this.#sweeper = setInterval(() => {
      options.sweep().catch((error) => options.log.warn('could not check for runs whose server died', { error: String(error) }))
    }, this.#leaseMs / 2)
  }

  async claim(sessionId: string, runId: string): Promise<RunClaim | undefined> {
    let outcome = await this.#claim(sessionId, runId)
    if (outcome === 'stale') {
      // The session's last run lost its server: close that run now rather than refuse this message until the sweep.
      await this.options.closeAbandoned(sessionId)
      outcome = await this.#claim(sessionId, runId)
    }
    if (outcome === 'gone') throw sessionNotFound()
    if (outcome !== 'ok') return undefined
    return this.#hold(sessionId, runId)
  }

  async current(sessionId: string): Promise<string | undefined> {
    return (
      ((await guarded(() => this.options.link.send('HGET', [this.options.keys.log.state(sessionId), 'open_run']))) as string | null) ??
      undefined
    )
  }

  async cancel(sessionId: string): Promise<string | undefined> {
    const runId = await this.current(sessionId)
    if (runId === undefined) return undefined
    if (!this.cancelled(`${sessionId} ${runId}`)) {
      await guarded(() => this.options.link.send('PUBLISH', [this.options.keys.cancelChannel, `${sessionId} ${runId}`]))
    }
    return runId
  }

  /** A message of the cancel channel: aborts the run if this instance holds it. True when it did. */
  readonly cancelled = (message: string): boolean => {
    const [sessionId, runId] = message.split(' ')
    const held = this.#held.get(sessionId ?? '')
    if (!held || held.runId !== runId) return false
    held.controller.abort()
    return true
  }

  /** Stops the sweep and the renewals (the runs were ended by the runner's shutdown before the store closes). */
  close(): void {
    clearInterval(this.#sweeper)
    for (const held of this.#held.values()) clearInterval(held.renewal)
    this.#held.clear()
  }

  async #claim(sessionId: string, runId: string): Promise<string> {
    const k = this.options.keys
    const keys = [k.log.lease(sessionId), k.log.state(sessionId), k.log.runs(sessionId), k.log.openRuns]
    return (await guarded(() => this.options.link.script(CLAIM, keys, [runId, String(this.#leaseMs), sessionId]))) as string
  }

  #hold(sessionId: string, runId: string): RunClaim {
    const { link, keys, log } = this.options
    const controller = new AbortController()
    let renewedAt = Date.now()
    const renewal = setInterval(async () => {
      const kept = await link.script(RENEW, [keys.log.lease(sessionId)], [runId, String(this.#leaseMs)]).catch(() => undefined)
      if (kept === 1) renewedAt = Date.now()
      // Lost, or not renewed for a whole lease: another instance may close the run at any moment, and the fence
      // already refuses its events; stop the step instead of letting it work for nothing.
      if (kept === 0 || Date.now() - renewedAt >= this.#leaseMs) {
        if (!controller.signal.aborted) log.warn('a run lost its lease; stopping it', { session_id: sessionId, step_id: runId })
        controller.abort()
      }
    }, this.#leaseMs / 3)
    const held: HeldRun = { runId, controller, renewal }
    this.#held.set(sessionId, held)
    return {
      runId,
      cancelled: controller.signal,
      release: async () => {
        clearInterval(renewal)
        if (this.#held.get(sessionId) === held) this.#held.delete(sessionId)
        await link.script(RELEASE, [keys.log.lease(sessionId)], [runId]).catch(() => {})
      },
    }
  }
}

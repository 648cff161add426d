import type { Notifier } from '../bus/notifier.ts'
import type { StopSignal } from '../bus/session-signal.ts'
import { type LogId, type LogState, refusalAt } from './log-backend.ts'
import { type LogRefusals, storeClosed } from './log-refusals.ts'
import type { LogTails } from './log-tails.ts'

/**
 * What a wait came to: `false`, the log changed (or a signal aborted: look again); `true`, the timeout passed first;
 * `'closed'`, the log is closed and the reader is at its head: nothing more will ever come.
 */
export type WaitOutcome = boolean | 'closed'

/** What the waits need of the core they serve. */
export interface WaitsOf {
  tails: LogTails
  notifier: Notifier
  now: () => number
  /** The log's state from the backend, a failure of the medium already an AppError. */
  state: (log: LogId) => Promise<LogState | undefined>
  /** True once the core no longer serves (close()). */
  closed: () => boolean
}

/**
 * The core's waits for a log to change (src/log/log-core.ts `waitFor`): a wait on a log whose head, closed flag and
 * expiry the core's cache knows registers with no await between the check and the registration, so no append can
 * slip in between; one on a log the cache does not know asks its state first, tracking it from before the question.
 */
export class LogWaits {
  constructor(private readonly core: WaitsOf) {}

  /** See LogCore.waitFor. */
  waitFor(log: LogId, after: number, signal: StopSignal, timeoutMs: number | undefined, words: LogRefusals): Promise<WaitOutcome> {
    if (this.core.closed()) return Promise.reject(storeClosed())
    const now = this.core.now()
    const until = this.core.tails.liveUntil(log, now)
    if (until === undefined) return this.#waitUnknown(log, after, signal, timeoutMs, words)
    return this.#park(log, after, signal, timeoutMs, until - now)
  }

  /** Waits on a log whose head, closed flag and expiry are known: no await before the wait registers. */
  #park(log: LogId, after: number, signal: StopSignal, timeoutMs: number | undefined, expiresInMs: number): Promise<WaitOutcome> {
    const { tails, notifier } = this.core
    if (tails.head(log)! > after) return Promise.resolve(false)
    if (tails.isClosed(log)) return Promise.resolve('closed')
    if (expiresInMs >= (timeoutMs ?? Number.POSITIVE_INFINITY)) return notifier.wait(log, signal, timeoutMs)
    // It expires before the timeout: woken then, told to look again, and the next look finds it gone.
    return notifier.wait(log, signal, expiresInMs).then(() => false)
  }

  async #waitUnknown(
    log: LogId,
    after: number,
    signal: StopSignal,
    timeoutMs: number | undefined,
    words: LogRefusals,
  ): Promise<WaitOutcome> {
    const { tails } = this.core
    for (;;) {
      const ticket = tails.track(log)
      const state = await this.core.state(log)
      const now = this.core.now()
      const refused = refusalAt(state, now)
      if (refused) {
        tails.forget(log)
        throw refused === 'GONE' ? words.gone(log) : words.noLog(log)
      }
      // Had the log been evicted meanwhile, a change could have passed unseen: ask again.
      if (!tails.heard(log, ticket, state!.head, state)) continue
      if (this.core.closed()) throw storeClosed()
      // No await from here to registering the wait, so no append can slip in between.
      return this.#park(log, after, signal, timeoutMs, (state!.expiresAt ?? Number.POSITIVE_INFINITY) - now)
    }
  }
}

import type { StopSignal } from './session-signal.ts'

/**
 * Wake-ups: "session S has new events". A store calls `notify` once an append is visible; streams that have read
 * everything `wait` for it. Injected into the stores, so that instances sharing a store can replace the in-process
 * SessionSignal with a pub/sub subscriber (one per instance, never one per browser).
 */
export interface Notifier {
  notify(sessionId: string): void
  /**
   * Resolves `false` at the next `notify(sessionId)` or when a signal aborts (at once if one already has), and
   * `true` when `timeoutMs` milliseconds pass first (never, by default).
   */
  wait(sessionId: string, signal: StopSignal, timeoutMs?: number): Promise<boolean>
}

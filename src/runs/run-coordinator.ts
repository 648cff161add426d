/**
 * Run ownership: which run holds a session, and how a cancel reaches it. The runner asks before it starts a step,
 * so one session never has two runs; injected, so that instances sharing a store can replace the local map below
 * with a lease and pub/sub without touching the runner.
 */

/** A session held by one run. */
export interface RunClaim {
  readonly runId: string
  /** Aborted when a cancel for this run is asked for, wherever it was asked. */
  readonly cancelled: AbortSignal
  /** Frees the session for its next run; does nothing once another claim has replaced this one. */
  release(): Promise<void>
}

export interface RunCoordinator {
  /** Takes the session for `runId`; undefined when another run holds it. */
  claim(sessionId: string, runId: string): Promise<RunClaim | undefined>
  /** The run holding the session, if any. */
  current(sessionId: string): Promise<string | undefined>
  /** Asks the run holding the session to stop; resolves with its id, or undefined when none holds it. */
  cancel(sessionId: string): Promise<string | undefined>
}

interface LocalClaim {
  runId: string
  controller: AbortController
}

/** Run ownership within one process: a map from session to the run that holds it. */
export class LocalRunCoordinator implements RunCoordinator {
  readonly #claims = new Map<string, LocalClaim>()

  // Not async: the check and the set happen in the caller's turn, so two messages racing for one session cannot both
  // see it free.
  claim(sessionId: string, runId: string): Promise<RunClaim | undefined> {
    if (this.#claims.has(sessionId)) return Promise.resolve(undefined)
    const held: LocalClaim = { runId, controller: new AbortController() }
    this.#claims.set(sessionId, held)
    return Promise.resolve({
      runId,
      cancelled: held.controller.signal,
      release: async () => {
        if (this.#claims.get(sessionId) === held) this.#claims.delete(sessionId)
      },
    })
  }

  async current(sessionId: string): Promise<string | undefined> {
    return this.#claims.get(sessionId)?.runId
  }

  async cancel(sessionId: string): Promise<string | undefined> {
    const held = this.#claims.get(sessionId)
    held?.controller.abort()
    return held?.runId
  }
}

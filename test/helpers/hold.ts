/**
 * A point where a test step waits until the test lets it go: what a held step (held-step.ts, scripted-step.ts) holds
 * on instead of a delay, so cancel, reconnect and restart tests never race the speed of an answer.
 */
export class Hold {
  readonly #releases = new Set<() => void>()
  #heldWaiters: Array<() => void> = []

  /** Resolves once a run is holding here (at once if one already is). */
  held(): Promise<void> {
    if (this.#releases.size > 0) return Promise.resolve()
    return new Promise((resolve) => this.#heldWaiters.push(resolve))
  }

  /** Lets every run holding here go on. */
  release(): void {
    for (const release of this.#releases) release()
  }

  /** Holds the calling run until `release()`, or until `signal` aborts (a cancel: the run should then return). */
  here(signal: AbortSignal): Promise<void> {
    const released = new Promise<void>((resolve) => {
      const release = () => {
        this.#releases.delete(release)
        signal.removeEventListener('abort', release)
        resolve()
      }
      this.#releases.add(release)
      signal.addEventListener('abort', release, { once: true })
    })
    for (const wake of this.#heldWaiters.splice(0)) wake()
    return released
  }
}

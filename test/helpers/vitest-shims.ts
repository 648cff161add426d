import { describe, vi } from 'bun:test'

/**
 * What the Durable Streams conformance suite uses of vitest that `bun:test` lacks. Under `bun test`, an import of
 * `vitest` is answered by `bun:test` itself (the same `describe` and `vi` objects), so adding the two members here,
 * before the suite registers its tests, is enough: `describe.runIf(condition)` (its optional subscription tests) and
 * `vi.waitFor(callback, { timeout, interval })` (its wait for an expired stream to answer 404).
 */

interface WaitForOptions {
  /** Milliseconds before the last failure is thrown; vitest's default is 1,000. */
  timeout?: number
  /** Milliseconds between two tries; vitest's default is 50. */
  interval?: number
}

type Shimmed = {
  runIf?: (condition: unknown) => typeof describe | typeof describe.skip
}
type ShimmedVi = {
  waitFor?: <T>(callback: () => T | Promise<T>, options?: number | WaitForOptions) => Promise<T>
}

/** vitest's `vi.waitFor`: retries `callback` until it neither throws nor rejects, and throws its last error at the deadline. */
export async function waitFor<T>(callback: () => T | Promise<T>, options: number | WaitForOptions = {}): Promise<T> {
  const { timeout = 1000, interval = 50 } = typeof options === 'number' ? { timeout: options } : options
  const deadline = performance.now() + timeout
  for (;;) {
    try {
      return await callback()
    } catch (error) {
      if (performance.now() + interval > deadline) throw error
    }
    await Bun.sleep(interval)
  }
}

/** Adds `describe.runIf` and `vi.waitFor` to `bun:test`'s objects; calling it twice changes nothing. */
export function installVitestShims(): void {
  const shimmed = describe as unknown as Shimmed
  shimmed.runIf ??= (condition) => (condition ? describe : describe.skip)
  const shimmedVi = vi as unknown as ShimmedVi
  shimmedVi.waitFor ??= waitFor
}

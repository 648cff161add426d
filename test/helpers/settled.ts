/** What a promise came to, as a value a test can compare. */
export type Settled<T> = { value: T } | { error: unknown } | 'pending'

/**
 * What `promise` came to if it settles "at once": within the microtasks that run before the next turn of the event
 * loop, with no timer and no I/O. 'pending' otherwise. A proof of "at once" that no machine's speed can change: only
 * for answers that need no I/O (the memory and SQLite backends answer within microtasks; Redis does not).
 */
export function atOnce<T>(promise: Promise<T>): Promise<Settled<T>> {
  const pending = new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending')))
  return Promise.race([
    promise.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    ),
    pending,
  ])
}

/**
 * Resolves as `promise` does, or rejects once `ms` milliseconds pass first: a deadline for a condition, never a
 * measure of speed (the deadline is far above what the condition needs).
 */
export function within<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

/**
 * How tests wait: on a condition, with a deadline, and a failure that names what was awaited. Never a fixed sleep in
 * its place: a sleep long enough on a busy 2-core machine is a waste on a quiet one, and still too short under load.
 */

/** What a wait is given: how long at most, what it waits for (for the failure's sentence), and how often to look. */
export interface WaitOptions {
  /** How long to wait at most; milliseconds, default 10,000 (generous: a loaded CI machine is slow, not broken). */
  timeoutMs?: number
  /** What is awaited, as the failure should name it ("the run's final event"); default "the condition". */
  what?: string
  /** Milliseconds between two looks at the condition; default 10. */
  everyMs?: number
  /** What the failure shows of the state it gave up on (the events so far, the log); nothing by default. */
  describe?: () => unknown
}

/** The default deadline of every wait; milliseconds. */
export const WAIT_MS = 10_000

/**
 * How long a check that something does NOT happen watches for it (settlesWithin); milliseconds. Short: it can only
 * catch a thing that would happen at once, and a positive signal is preferred wherever one exists.
 */
export const QUIET_MS = 100

/** How long a spawned process (a server, nginx, redis-server, a browser) may take to be ready; milliseconds. */
export const READY_MS = 30_000

/**
 * Resolves once `condition` holds (it may be async); throws naming `what` after `timeoutMs`. An error thrown by the
 * condition fails the wait at once.
 */
export async function until(condition: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  await eventually(async () => ((await condition()) ? true : undefined), options)
}

/**
 * Resolves with the first value `probe` returns other than `undefined` (it may be async); throws naming `what`, and
 * the state `describe` gives, after `timeoutMs`.
 */
export async function eventually<T>(probe: () => T | undefined | Promise<T | undefined>, options: WaitOptions = {}): Promise<T> {
  const { timeoutMs = WAIT_MS, what = 'the condition', everyMs = 10 } = options
  const deadline = performance.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (performance.now() > deadline) {
      const seen = options.describe ? `; it saw: ${describeValue(await options.describe())}` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen}`)
    }
    await Bun.sleep(everyMs)
  }
}

/** `promise`, or a failure naming `what` once `timeoutMs` has passed first (the promise itself is left running). */
export async function within<T>(promise: Promise<T>, options: Pick<WaitOptions, 'timeoutMs' | 'what'> = {}): Promise<T> {
  const { timeoutMs = WAIT_MS, what = 'the promise' } = options
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs)
  })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Whether `promise` settles within `ms`: `true` if it did, `false` if not. For the rare check that something does
 * NOT happen and nothing later can prove the moment has passed (no event follows it, no round trip orders it): the
 * test then waits a bounded quiet period, and says so by calling this. Prefer a positive signal wherever one exists.
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const quiet = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms)
  })
  try {
    const settled = promise.then(Boolean, Boolean).then(() => true as const)
    return await Promise.race([settled, quiet])
  } finally {
    clearTimeout(timer)
  }
}

/** A failure's view of a state: strings as they are, the rest as JSON; 2,000 characters at most (the end kept). */
function describeValue(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value))
  return text.length > 2000 ? `…${text.slice(-2000)}` : text
}

/**
 * The set of waits to end when `signal` aborts, kept in `registry`: the signal gets one abort listener, the first time
 * it is seen, that hands each member to `end`. Adding to and removing from a Set per wait is what a hot loop can
 * afford; an `addEventListener` and a `removeEventListener` per wait showed in the profiles (the echo's sleep per
 * token, a stream's wait per batch), and a listener per stream on a signal that outlives the streams (the server's
 * shutdown) would never be removed.
 */
export function abortSet<T>(registry: WeakMap<AbortSignal, Set<T>>, signal: AbortSignal, end: (member: T) => void): Set<T> {
  let members = registry.get(signal)
  if (members) return members
  const created = new Set<T>()
  members = created
  registry.set(signal, created)
  signal.addEventListener(
    'abort',
    () => {
      for (const member of [...created]) end(member)
    },
    { once: true },
  )
  return members
}

/**
 * Where the server keeps its browser sign-ins, so that every instance sharing a store shares them and `/logout` on
 * one of them signs the browser out of all. Only a hash of a sign-in's id is kept (a copy of the store opens
 * nothing), with the time it expires.
 */
export interface SignIns {
  /** Keeps a sign-in by the hash of its id until `expiresAt` (epoch milliseconds). */
  add(hash: string, expiresAt: number): Promise<void>
  /** True when a sign-in with this hash is kept and has not expired at `now` (epoch milliseconds). */
  has(hash: string, now: number): Promise<boolean>
  /** Forgets the sign-in with this hash (signing out); nothing happens for an unknown one. */
  remove(hash: string): Promise<void>
}

/** A store that keeps sign-ins alongside its chats (each store does: memory, SQLite, Redis). */
export interface KeepsSignIns {
  readonly signIns: SignIns
}

export const keepsSignIns = (store: object): store is KeepsSignIns => typeof (store as Partial<KeepsSignIns>).signIns?.has === 'function'

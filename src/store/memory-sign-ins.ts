import type { SignIns } from './sign-ins.ts'

/** Sign-ins held in this process; forgotten when it exits, as the memory store's chats are. */
export class MemorySignIns implements SignIns {
  /** Hash → expiry (epoch ms). Bounded by sign-ins, which need the token (and pass the sign-in rate limit). */
  readonly #expiries = new Map<string, number>()

  async add(hash: string, expiresAt: number): Promise<void> {
    // The expired ones go whenever a new one comes, so the map holds only live sign-ins.
    const now = Date.now()
    for (const [known, expiry] of this.#expiries) if (expiry <= now) this.#expiries.delete(known)
    this.#expiries.set(hash, expiresAt)
  }

  async has(hash: string, now: number): Promise<boolean> {
    return (this.#expiries.get(hash) ?? 0) > now
  }

  async remove(hash: string): Promise<void> {
    this.#expiries.delete(hash)
  }
}

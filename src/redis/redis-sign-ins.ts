import type { SignIns } from '../store/sign-ins.ts'
import { guarded } from './redis-errors.ts'
import type { RedisLink } from './redis-link.ts'

/**
 * Sign-ins in Redis, one key a sign-in that Redis itself expires (`PX`), so every instance on the Redis shares them.
 * The key also carries its expiry as its value: `has` compares it with the caller's clock too, so an instance's
 * clock and Redis's agree on when a sign-in ends.
 */
export class RedisSignIns implements SignIns {
  constructor(
    readonly link: RedisLink,
    /** The key of the sign-in with this hash. */
    readonly keyOf: (hash: string) => string,
  ) {}

  async add(hash: string, expiresAt: number): Promise<void> {
    const ttl = Math.max(1, expiresAt - Date.now())
    await guarded(() => this.link.send('SET', [this.keyOf(hash), String(expiresAt), 'PX', String(ttl)]))
  }

  async has(hash: string, now: number): Promise<boolean> {
    const expiry = await guarded(() => this.link.send('GET', [this.keyOf(hash)]))
    return typeof expiry === 'string' && Number(expiry) > now
  }

  async remove(hash: string): Promise<void> {
    await guarded(() => this.link.send('DEL', [this.keyOf(hash)]))
  }
}

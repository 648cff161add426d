import type { RedisClient } from 'bun'
import type { RedisLink } from './redis-link.ts'

type Listener = (message: string) => void

/**
 * The instance's one subscribed connection, shared by the wake-ups of every local stream and by cancels: a
 * subscribed Redis connection takes no other command, and one per browser would not scale. After a reconnection it
 * subscribes again and calls `onResubscribed`, since whatever was published meanwhile was lost.
 */
export class RedisSubscriber {
  readonly #listeners = new Map<string, Listener>()
  readonly #resubscribed: (() => void)[] = []
  #ready = true

  constructor(private readonly link: RedisLink) {
    link.onDown = () => {
      this.#ready = false
    }
    link.onConnect = async (client) => {
      await this.#subscribeAll(client)
      this.#ready = true
      for (const listener of this.#resubscribed) listener()
    }
  }

  /** Whether messages are being received now (for /readyz). */
  get ready(): boolean {
    return this.#ready && this.link.connected
  }

  /** Calls `listener` after each re-subscription (not the first): whatever was published meanwhile was missed. */
  onResubscribed(listener: () => void): void {
    this.#resubscribed.push(listener)
  }

  async listen(channel: string, listener: Listener): Promise<void> {
    this.#listeners.set(channel, listener)
    await this.link.client.subscribe(channel, listener)
  }

  close(): void {
    this.link.close()
  }

  async #subscribeAll(client: RedisClient): Promise<void> {
    for (const [channel, listener] of this.#listeners) await client.subscribe(channel, listener)
  }
}

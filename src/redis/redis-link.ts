import { RedisClient } from 'bun'

/** The longest pause between two reconnection attempts; milliseconds. */
const MAX_BACKOFF_MS = 2000
/** The first pause; milliseconds, doubled after each failed attempt. */
const FIRST_BACKOFF_MS = 50
/** How long one attempt to connect may take; milliseconds. */
const CONNECT_TIMEOUT_MS = 2000

/**
 * One Redis connection that comes back after Redis does. Bun's RedisClient gives up after `maxRetries` and, when it
 * does reconnect, does not re-subscribe its channels (checked on Bun 1.4.5: a PUBLISH after a Redis restart reached
 * no one); so each reconnection here is a fresh client, and `onConnect` lets the owner subscribe again.
 *
 * Commands fail at once while the connection is down (no offline queue): a request then gets a 503 with a sentence
 * instead of hanging until Redis returns.
 */
export class RedisLink {
  #client: RedisClient
  #closed = false
  #backoff = FIRST_BACKOFF_MS
  #reconnecting: ReturnType<typeof setTimeout> | undefined
  /** Called after every successful (re)connection with the new client. */
  onConnect: ((client: RedisClient) => Promise<void> | void) | undefined
  /** Called when an established connection drops. */
  onDown: (() => void) | undefined

  private constructor(
    readonly url: string,
    client: RedisClient,
  ) {
    this.#client = client
  }

  /** Connects once; rejects with Redis's reason when it cannot (start-up treats that as fatal). */
  static async open(url: string): Promise<RedisLink> {
    const link = new RedisLink(url, newClient(url))
    await link.#client.connect()
    link.#watch(link.#client)
    return link
  }

  /** The live client; its commands reject while the connection is down. */
  get client(): RedisClient {
    return this.#client
  }

  get connected(): boolean {
    return !this.#closed && this.#client.connected
  }

  /** Sends one command (Bun's `send`: arguments as strings). */
  send(command: string, args: string[]): Promise<unknown> {
    return this.#client.send(command, args)
  }

  /**
   * Runs a Lua script by its SHA-1 (EVALSHA), sending its text (EVAL) only when Redis lacks it (after a restart).
   * Sending the text with every append cost Redis a hash of it per event. A call refused with NOSCRIPT is sent again,
   * so one pipelined behind it may run first: calls whose order matters go one after another (the log backend's appends).
   */
  async script(script: string, keys: string[], args: string[]): Promise<unknown> {
    let sha = shas.get(script)
    if (!sha) {
      sha = new Bun.CryptoHasher('sha1').update(script).digest('hex')
      shas.set(script, sha)
    }
    try {
      return await this.send('EVALSHA', [sha, String(keys.length), ...keys, ...args])
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error
      return this.send('EVAL', [script, String(keys.length), ...keys, ...args])
    }
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#reconnecting)
    this.#client.close()
  }

  #watch(client: RedisClient): void {
    client.onclose = () => {
      if (this.#closed || client !== this.#client) return
      this.onDown?.()
      this.#scheduleReconnect()
    }
  }

  #scheduleReconnect(): void {
    if (this.#closed || this.#reconnecting) return
    this.#reconnecting = setTimeout(() => void this.#reconnect(), this.#backoff)
    this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF_MS)
  }

  async #reconnect(): Promise<void> {
    this.#reconnecting = undefined
    if (this.#closed) return
    const old = this.#client
    old.onclose = null
    old.close()
    const client = newClient(this.url)
    this.#client = client
    try {
      await client.connect()
      if (this.#closed) return client.close()
      this.#watch(client)
      this.#backoff = FIRST_BACKOFF_MS
      await this.onConnect?.(client)
    } catch {
      this.#scheduleReconnect()
    }
  }
}

// Bun's own reconnection is off: this class replaces the client instead (see above).
const newClient = (url: string) =>
  new RedisClient(url, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: CONNECT_TIMEOUT_MS })

/** Each script's SHA-1, computed once. */
const shas = new Map<string, string>()

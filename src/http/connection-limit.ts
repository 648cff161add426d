import { DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP } from '../defaults.ts'
import { tooManyConnections, tooManyConnectionsFromIp } from '../errors.ts'

export interface ConnectionLimits {
  /** SSE connections open at once in all; default 10,000 (`--max-connections`). */
  max?: number
  /** SSE connections open at once from one client address; default 100 (`--max-connections-per-ip`). */
  maxPerIp?: number
}

/**
 * Open SSE connections, counted in all and per client address, and capped both ways so that one client cannot hold
 * every stream the server can keep. Also what shutdown waits on, and what the test that a closed tab is released at
 * once reads.
 */
export class ConnectionCount {
  /** Connections open now. */
  open = 0
  readonly #perIp = new Map<string, number>()
  readonly #max: number
  readonly #maxPerIp: number

  constructor(limits: ConnectionLimits = {}) {
    this.#max = limits.max ?? DEFAULT_MAX_CONNECTIONS
    this.#maxPerIp = limits.maxPerIp ?? DEFAULT_MAX_CONNECTIONS_PER_IP
  }

  /**
   * Counts a connection from `ip`, or throws a 429 with `Retry-After` when either cap is reached. The caller must
   * call the returned function exactly once, when the connection closes.
   */
  acquire(ip: string): () => void {
    const fromIp = this.#perIp.get(ip) ?? 0
    if (fromIp >= this.#maxPerIp) throw tooManyConnectionsFromIp(this.#maxPerIp)
    if (this.open >= this.#max) throw tooManyConnections(this.#max)
    this.open++
    this.#perIp.set(ip, fromIp + 1)
    return () => {
      this.open--
      const left = (this.#perIp.get(ip) ?? 1) - 1
      if (left === 0) this.#perIp.delete(ip)
      else this.#perIp.set(ip, left)
    }
  }

  /** Connections open now from `ip`. */
  openFrom(ip: string): number {
    return this.#perIp.get(ip) ?? 0
  }
}

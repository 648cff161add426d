import type { Socket, TCPSocketListener } from 'bun'

interface Pair {
  client: Socket<Pair>
  upstream?: Socket<Pair>
  /** Bytes the client sent before the upstream connection opened. */
  pending: Uint8Array[]
}

/**
 * A TCP proxy in front of a test server, so a test can pull the network cable: `cut()` drops every connection and
 * refuses new ones until `restore()`. Listens on 127.0.0.1 only.
 */
export class TcpProxy {
  #listener!: TCPSocketListener<Pair>
  #pairs = new Set<Pair>()
  #down = false

  constructor(private readonly targetPort: number) {}

  start(): number {
    const target = this.targetPort
    const pairs = this.#pairs
    const isDown = () => this.#down
    this.#listener = Bun.listen<Pair>({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        open(client) {
          if (isDown()) return void client.end()
          const pair: Pair = { client, pending: [] }
          client.data = pair
          pairs.add(pair)
          void Bun.connect<Pair>({
            hostname: '127.0.0.1',
            port: target,
            data: pair,
            socket: {
              open(upstream) {
                pair.upstream = upstream
                for (const chunk of pair.pending) upstream.write(chunk)
                pair.pending = []
              },
              data(_upstream, chunk) {
                pair.client.write(chunk)
              },
              close() {
                pair.client.end()
                pairs.delete(pair)
              },
              error() {
                pair.client.end()
              },
            },
          }).catch(() => client.end())
        },
        data(client, chunk) {
          const pair = client.data
          if (pair.upstream) pair.upstream.write(chunk)
          else pair.pending.push(new Uint8Array(chunk))
        },
        close(client) {
          client.data?.upstream?.end()
          if (client.data) pairs.delete(client.data)
        },
        error() {},
      },
    })
    return this.#listener.port
  }

  /** Drops every open connection at once (a reset, like a pulled cable) and refuses new ones. */
  cut() {
    this.#down = true
    for (const pair of this.#pairs) {
      pair.client.terminate()
      pair.upstream?.terminate()
    }
    this.#pairs.clear()
  }

  restore() {
    this.#down = false
  }

  stop() {
    this.cut()
    this.#listener.stop(true)
  }
}

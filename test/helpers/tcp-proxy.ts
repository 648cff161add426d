import { createServer, connect, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy in front of a test server, so a test can pull the network cable: `cut()` drops every connection and
 * refuses new ones until `restore()`. Listens on 127.0.0.1 only. node:net's pipe handles backpressure, which a
 * hand-written relay easily gets wrong (a partial write silently truncates a script).
 */
export class TcpProxy {
  #server: Server | undefined
  #sockets = new Set<Socket>()
  #down = false

  /** @param replyDelayMs holds what the server sends back this long (in order), like a slow network; 0 by default. */
  constructor(
    private readonly targetPort: number,
    private readonly replyDelayMs = 0,
  ) {}

  async start(): Promise<number> {
    this.#server = createServer((client) => {
      if (this.#down) return void client.destroy()
      const upstream = connect(this.targetPort, '127.0.0.1')
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket)
        socket.on('close', () => this.#sockets.delete(socket))
        socket.on('error', () => {})
      }
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
      client.pipe(upstream)
      // Delayed, the replies skip pipe's backpressure: fine for the small answers the tests slow down.
      if (this.replyDelayMs > 0) upstream.on('data', (chunk) => setTimeout(() => client.write(chunk), this.replyDelayMs))
      else upstream.pipe(client)
    })
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve))
    const address = this.#server.address()
    if (typeof address !== 'object' || !address) throw new Error('the proxy has no port')
    return address.port
  }

  /** Drops every open connection at once, like a pulled cable, and refuses new ones. */
  cut() {
    this.#down = true
    for (const socket of this.#sockets) socket.resetAndDestroy()
    this.#sockets.clear()
  }

  restore() {
    this.#down = false
  }

  stop() {
    this.cut()
    this.#server?.close()
  }
}

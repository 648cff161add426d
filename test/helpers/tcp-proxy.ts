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
  /** Replies held by `holdReplies()`, in order, each a write to its client; undefined while replies flow. */
  #held: (() => void)[] | undefined

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
      upstream.on('data', (chunk: Buffer) => this.#reply(client, upstream, chunk))
    })
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve))
    const address = this.#server.address()
    if (typeof address !== 'object' || !address) throw new Error('the proxy has no port')
    return address.port
  }

  /**
   * Holds every reply from now on until `releaseReplies()`: the requests still reach the server, which runs them, but
   * no client hears back. A test orders what a client sends against what it has been answered, without a clock.
   */
  holdReplies(): void {
    this.#held ??= []
  }

  /** Reply chunks held so far (a chunk per reply, for the small answers of the tests that hold them). */
  get heldReplies(): number {
    return this.#held?.length ?? 0
  }

  /** Sends the held replies, in order, and lets the next ones flow. */
  releaseReplies(): void {
    const held = this.#held ?? []
    this.#held = undefined
    for (const write of held) write()
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

  /** A chunk the server sent back: held, delayed, or passed on at once, with backpressure. */
  #reply(client: Socket, upstream: Socket, chunk: Buffer): void {
    if (this.#held) return void this.#held.push(() => client.write(chunk))
    // Delayed, the replies skip backpressure: fine for the small answers the tests slow down.
    if (this.replyDelayMs > 0) return void setTimeout(() => client.write(chunk), this.replyDelayMs)
    if (!client.write(chunk)) {
      upstream.pause()
      client.once('drain', () => upstream.resume())
    }
  }
}

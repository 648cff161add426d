/**
 * A lean Server-Sent Events reader over raw TCP (`Bun.connect`): it writes the HTTP/1.1 GET by hand, de-chunks the
 * body and splits SSE messages incrementally. It exists because the load client must not be the bottleneck: one
 * process holds thousands of these, where `fetch()` costs far more per stream and caps concurrent requests at 256.
 *
 * Both servers under test frame SSE with LF line ends (stepstream's `encodeFrame`, the baseline's copy of it), so
 * this reader splits messages on a blank line of LFs only. Bytes are decoded as Latin-1: one char per byte keeps
 * chunk sizes and byte counts exact at no cost, and the fields the benchmark reads (`event`, `id`, `ts`) are ASCII.
 */

export interface SseMessage {
  /** The `event:` field; `message` when the server sent none (the HTML stream). */
  event: string
  id: string | undefined
  /** The `data:` lines joined with LF, as Latin-1 (see above). */
  data: string
}

export interface SseStreamOptions {
  host: string
  port: number
  /** Path and query, e.g. `/api/sessions/<id>/stream?after=1`. */
  path: string
  /** The response head and its first `retry:` message arrived: the stream is live. */
  onOpen?: () => void
  /** One message; `receivedAt` is `Date.now()` when the bytes that completed it were read. */
  onMessage: (message: SseMessage, receivedAt: number) => void
  /** The stream ended; `error` says why when it was not a clean close. Called once. */
  onClose?: (error?: string) => void
}

export class SseStream {
  /** Bytes of the response body read so far, HTTP chunk framing included: what travelled on the wire. */
  bodyBytes = 0
  #socket: { end(): void } | undefined
  #head = ''
  #headDone = false
  #chunked = false
  #opened = false
  #closed = false
  /** De-chunking state: bytes left in the current chunk, CR/LF bytes to skip, a partial size line. */
  #remaining = 0
  #skip = 0
  #carry = ''
  #sse = ''

  constructor(private readonly options: SseStreamOptions) {
    const request = `GET ${options.path} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\nAccept: text/event-stream\r\n\r\n`
    Bun.connect({
      hostname: options.host,
      port: options.port,
      socket: {
        open: (socket) => {
          this.#socket = socket
          socket.write(request)
        },
        data: (_socket, data) => this.#read(data.toString('latin1')),
        end: () => this.#finish(),
        close: () => this.#finish(),
        error: (_socket, error) => this.#finish(error.message),
        connectError: (_socket, error) => this.#finish(`connect failed: ${error.message}`),
      },
    }).catch((error: Error) => this.#finish(`connect failed: ${error.message}`))
  }

  get open(): boolean {
    return this.#opened && !this.#closed
  }

  close(): void {
    this.#socket?.end()
    this.#finish()
  }

  #finish(error?: string) {
    if (this.#closed) return
    this.#closed = true
    this.#socket?.end()
    this.options.onClose?.(error)
  }

  #read(text: string) {
    const receivedAt = Date.now()
    if (!this.#headDone) {
      this.#head += text
      const end = this.#head.indexOf('\r\n\r\n')
      if (end < 0) return
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(this.#head)?.[1]
      if (status !== '200') return this.#finish(`HTTP ${status ?? '?'}: ${this.#head.slice(end + 4, end + 204)}`)
      this.#chunked = /\r\ntransfer-encoding: *chunked/i.test(this.#head.slice(0, end))
      this.#headDone = true
      text = this.#head.slice(end + 4)
      this.#head = ''
    }
    this.bodyBytes += text.length
    this.#sse += this.#chunked ? this.#dechunk(text) : text
    let start = 0
    for (let end = this.#sse.indexOf('\n\n'); end >= 0; end = this.#sse.indexOf('\n\n', start)) {
      this.#dispatch(this.#sse.slice(start, end), receivedAt)
      start = end + 2
    }
    this.#sse = this.#sse.slice(start)
  }

  /** Strips `Transfer-Encoding: chunked` framing from whatever part of the body `input` holds. */
  #dechunk(input: string): string {
    const src = this.#carry + input
    this.#carry = ''
    let out = ''
    let pos = 0
    while (pos < src.length) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, src.length - pos)
        out += src.slice(pos, pos + take)
        pos += take
        this.#remaining -= take
        if (this.#remaining === 0) this.#skip = 2
      } else if (this.#skip > 0) {
        const take = Math.min(this.#skip, src.length - pos)
        pos += take
        this.#skip -= take
      } else {
        const lineEnd = src.indexOf('\r\n', pos)
        if (lineEnd < 0) {
          this.#carry = src.slice(pos)
          break
        }
        const size = Number.parseInt(src.slice(pos, lineEnd), 16)
        pos = lineEnd + 2
        // The zero-size chunk ends the body; the server closes the connection next.
        if (!(size > 0)) break
        this.#remaining = size
      }
    }
    return out
  }

  #dispatch(frame: string, receivedAt: number) {
    let event = 'message'
    let id: string | undefined
    let data: string | undefined
    for (const line of frame.split('\n')) {
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(line[colon + 1] === ' ' ? colon + 2 : colon + 1)
      if (field === 'data') data = data === undefined ? value : `${data}\n${value}`
      else if (field === 'event') event = value
      else if (field === 'id') id = value
      else if (field === 'retry' && !this.#opened) {
        this.#opened = true
        this.options.onOpen?.()
      }
    }
    if (data !== undefined) this.options.onMessage({ event, id, data }, receivedAt)
  }
}

/**
 * Sends a request as raw bytes over a bare TCP socket and reads its answer, for what fetch will not send: paths it
 * would normalise (`/./`, `//`, `%2e%2e`), header values with control characters, a Content-Length that lies, a body
 * in tiny pieces. Bun's own sockets, as in raw-http.ts (node:net in Bun can throw EPIPE out of a write).
 */

export interface RawAnswer {
  status: number
  headers: Map<string, string>
  /** The body as received (chunked coding removed); for an event stream, what came before the socket was closed. */
  body: Uint8Array
  /** The server closed the connection without a status line. */
  closedSilently: boolean
}

export interface RawRequestOptions {
  /** The request line and headers, each line without its CRLF; the empty line is added. */
  head: string[]
  /** The body, sent after the head in pieces of `pieceBytes` (default: all at once). */
  body?: Uint8Array
  /** Bytes per write of the body; each piece waits `pieceDelayMs` (default 0: a macrotask apart). */
  pieceBytes?: number
  pieceDelayMs?: number
  /** Gives up (and throws) after this long without a complete answer; milliseconds, default 10,000. */
  timeoutMs?: number
}

const encoder = new TextEncoder()

/**
 * The answer is complete when the server closes, when a Content-Length body or a chunked body has all arrived, or
 * as soon as the head of an event stream has (the stream itself never ends): the socket is then closed by us.
 */
export function rawRequest(base: string, options: RawRequestOptions): Promise<RawAnswer> {
  const { hostname, port } = new URL(base)
  const head = encoder.encode(`${options.head.join('\r\n')}\r\n\r\n`)
  const body = options.body ?? new Uint8Array(0)
  const pieceBytes = Math.max(1, options.pieceBytes ?? (body.length || 1))
  return new Promise((resolve, reject) => {
    let received = new Uint8Array(0)
    let settled = false
    let socketRef: { end(): void; write(data: Uint8Array): number } | undefined
    const finish = (answer: RawAnswer | Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      try {
        socketRef?.end()
      } catch {}
      if (answer instanceof Error) reject(answer)
      else resolve(answer)
    }
    const timer = setTimeout(
      () => finish(new Error(`no complete answer within ${options.timeoutMs ?? 10_000} ms`)),
      options.timeoutMs ?? 10_000,
    )
    // Writes the head, then the body a piece at a time; a write the socket refuses (the server closed) ends sending.
    const send = async (socket: { write(data: Uint8Array): number }) => {
      if (!(await writeAll(socket, head))) return
      for (let at = 0; at < body.length && !settled; at += pieceBytes) {
        if (options.pieceDelayMs) await Bun.sleep(options.pieceDelayMs)
        else if (at > 0) await new Promise((r) => setTimeout(r, 0))
        if (!(await writeAll(socket, body.subarray(at, at + pieceBytes)))) return
      }
    }
    const writeAll = async (socket: { write(data: Uint8Array): number }, data: Uint8Array) => {
      for (let at = 0; at < data.length && !settled; ) {
        const wrote = socket.write(data.subarray(at))
        if (wrote < 0) return false
        if (wrote === 0) await Bun.sleep(1)
        at += Math.max(0, wrote)
      }
      return !settled
    }
    void Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        open: (socket) => {
          socketRef = socket
          void send(socket)
        },
        data: (_socket, data) => {
          const next = new Uint8Array(received.length + data.length)
          next.set(received)
          next.set(data, received.length)
          received = next
          const answer = completeAnswer(received)
          if (answer) finish(answer)
        },
        close: () => finish(parseAnswer(received, true)),
        error: () => {},
        connectError: (_socket, error) => finish(error),
      },
    })
  })
}

const CRLFCRLF = encoder.encode('\r\n\r\n')

function indexOf(bytes: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= bytes.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

/** The answer if all of it has arrived; undefined while more is to come. */
function completeAnswer(bytes: Uint8Array): RawAnswer | undefined {
  const split = indexOf(bytes, CRLFCRLF)
  if (split < 0) return undefined
  const answer = parseAnswer(bytes, false)
  if (answer.headers.get('content-type')?.startsWith('text/event-stream')) return answer
  const length = answer.headers.get('content-length')
  if (length !== undefined) return bytes.length - split - 4 >= Number(length) ? answer : undefined
  if (answer.headers.get('transfer-encoding') === 'chunked') return chunkedDone(bytes.subarray(split + 4)) ? answer : undefined
  // 1xx, 204 and 304 have no body.
  return answer.status < 200 || answer.status === 204 || answer.status === 304 ? answer : undefined
}

function chunkedDone(body: Uint8Array): boolean {
  let at = 0
  for (;;) {
    const lineEnd = indexOf(body, encoder.encode('\r\n'), at)
    if (lineEnd < 0) return false
    const size = Number.parseInt(new TextDecoder().decode(body.subarray(at, lineEnd)), 16)
    if (Number.isNaN(size)) return true
    if (size === 0) return true
    at = lineEnd + 2 + size + 2
    if (at > body.length) return false
  }
}

function dechunk(body: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = []
  let at = 0
  for (;;) {
    const lineEnd = indexOf(body, encoder.encode('\r\n'), at)
    if (lineEnd < 0) break
    const size = Number.parseInt(new TextDecoder().decode(body.subarray(at, lineEnd)), 16)
    if (!(size > 0)) break
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
  return Buffer.concat(parts)
}

function parseAnswer(bytes: Uint8Array, closed: boolean): RawAnswer {
  const split = indexOf(bytes, CRLFCRLF)
  if (bytes.length === 0 || split < 0) return { status: 0, headers: new Map(), body: bytes, closedSilently: closed }
  const [statusLine, ...lines] = new TextDecoder().decode(bytes.subarray(0, split)).split('\r\n')
  const headers = new Map(
    lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()] as const),
  )
  const rest = bytes.subarray(split + 4)
  const body = headers.get('transfer-encoding') === 'chunked' ? dechunk(rest) : rest
  return { status: Number(statusLine!.split(' ')[1]), headers, body, closedSilently: false }
}

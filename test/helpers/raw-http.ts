export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/**
 * POSTs `body` over a bare TCP socket in chunked transfer coding, so no Content-Length is ever sent (fetch may add
 * one), with `Connection: close` so the answer ends when the server closes. A server may answer and close before the
 * whole body is sent: sending then just stops, and the answer is what the test reads. Bun's own sockets, because
 * node:net in Bun can throw EPIPE out of a write that the server has stopped reading.
 */
export function postChunked(base: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<RawResponse> {
  const { hostname, port } = new URL(base)
  const head = Object.entries({ ...headers, host: `${hostname}:${port}`, 'transfer-encoding': 'chunked', connection: 'close' })
  const parts: Uint8Array[] = [new TextEncoder().encode(`POST ${path} HTTP/1.1\r\n${head.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)]
  for (let at = 0; at < body.length; at += 64 * 1024) {
    const chunk = body.subarray(at, at + 64 * 1024)
    parts.push(new TextEncoder().encode(`${chunk.length.toString(16)}\r\n`), chunk, new TextEncoder().encode('\r\n'))
  }
  parts.push(new TextEncoder().encode('0\r\n\r\n'))
  const payload = Buffer.concat(parts)
  return new Promise((resolve, reject) => {
    const received: Uint8Array[] = []
    let sent = 0
    let stopped = false
    // Writes what the socket takes now; the rest when it drains. A refused write (the server closed) ends sending.
    const pump = (socket: { write(data: Uint8Array): number }) => {
      while (!stopped && sent < payload.length) {
        const wrote = socket.write(payload.subarray(sent))
        if (wrote < 0) stopped = true
        if (wrote <= 0) return
        sent += wrote
      }
    }
    const timer = setTimeout(() => reject(new Error('no complete answer within 10 s')), 10_000)
    void Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        open: pump,
        drain: pump,
        data: (_socket, data) => {
          received.push(new Uint8Array(data))
        },
        error: () => {
          stopped = true
        },
        close: () => {
          clearTimeout(timer)
          if (received.length === 0) return reject(new Error('the server closed without answering'))
          resolve(parseResponse(Buffer.concat(received).toString('utf8')))
        },
        connectError: (_socket, error) => {
          clearTimeout(timer)
          reject(error)
        },
      },
    })
  })
}

function parseResponse(raw: string): RawResponse {
  const split = raw.indexOf('\r\n\r\n')
  const [statusLine, ...lines] = raw.slice(0, split).split('\r\n')
  const headers = Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  )
  let body = raw.slice(split + 4)
  if (headers['transfer-encoding'] === 'chunked') {
    let decoded = ''
    for (let size = Number.parseInt(body, 16); size > 0; size = Number.parseInt(body, 16)) {
      const start = body.indexOf('\r\n') + 2
      decoded += body.slice(start, start + size)
      body = body.slice(start + size + 2)
    }
    body = decoded
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, body }
}

/**
 * Sends `head` (a request line and header lines, without the blank line that ends them) and `body` over a bare
 * socket, exactly as written — no client normalises the path or drops a header — with `Connection: close`, and
 * resolves with every byte the server sent back, as Latin-1 so that no byte is lost.
 */
export function rawExchange(base: string, head: string, body = ''): Promise<string> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const received: Uint8Array[] = []
    const timer = setTimeout(() => reject(new Error(`no complete answer within 10 s to ${head.split('\r\n')[0]}`)), 10_000)
    void Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        open: (socket) => {
          socket.write(`${head}\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
        },
        data: (_socket, data) => {
          received.push(new Uint8Array(data))
        },
        close: () => {
          clearTimeout(timer)
          resolve(Buffer.concat(received).toString('latin1'))
        },
        connectError: (_socket, error) => {
          clearTimeout(timer)
          reject(error)
        },
      },
    })
  })
}

/**
 * Why `raw` is not one well-formed HTTP/1.1 response head (RFC 9112: a status line, then fields whose names are
 * tokens and whose values hold no control character but HTAB), or undefined when it is.
 */
export function invalidHttp(raw: string): string | undefined {
  const end = raw.indexOf('\r\n\r\n')
  if (end === -1) return 'no blank line ends the head'
  const [status, ...fields] = raw.slice(0, end).split('\r\n')
  if (!/^HTTP\/1\.1 [1-5]\d\d [\x20-\x7e]*$/.test(status!)) return `bad status line ${JSON.stringify(status)}`
  for (const field of fields) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*$/.test(field)) return `bad field ${JSON.stringify(field)}`
  }
  return undefined
}

/** The status code of a raw response. */
export const statusOf = (raw: string): number => Number(raw.slice(9, 12))

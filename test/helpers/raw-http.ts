import { connect } from 'node:net'

export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/**
 * POSTs `body` over a bare TCP socket in chunked transfer coding, so no Content-Length is ever sent (fetch may add
 * one), with `Connection: close` so the answer ends when the server closes. Write errors are ignored: a server may
 * answer and close before the whole body is sent, and the answer is what the test reads.
 */
export function postChunked(base: string, path: string, headers: Record<string, string>, body: Uint8Array): Promise<RawResponse> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) })
    const received: Buffer[] = []
    const timer = setTimeout(() => socket.destroy(new Error('no complete answer within 10 s')), 10_000)
    socket.on('data', (data: Buffer) => received.push(data))
    // A write refused because the server has answered and closed (EPIPE) can be reported before that answer is read:
    // whether there was an answer is decided on close, from what arrived.
    let failure: Error | undefined
    socket.on('error', (error) => {
      failure ??= error
    })
    socket.on('close', () => {
      clearTimeout(timer)
      if (received.length === 0) return reject(failure ?? new Error('the server closed without answering'))
      resolve(parseResponse(Buffer.concat(received).toString('utf8')))
    })
    socket.on('connect', () => {
      const head = Object.entries({ ...headers, host: `${hostname}:${port}`, 'transfer-encoding': 'chunked', connection: 'close' })
      // Bun's node:net can throw EPIPE from write() itself once the server has answered and closed: that answer is
      // what the test reads, so a refused write just ends the sending.
      try {
        socket.write(`POST ${path} HTTP/1.1\r\n${head.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`)
        for (let at = 0; at < body.length && !socket.destroyed; at += 64 * 1024) {
          const chunk = body.subarray(at, at + 64 * 1024)
          socket.write(`${chunk.length.toString(16)}\r\n`)
          socket.write(chunk)
          socket.write('\r\n')
        }
        if (!socket.destroyed) socket.write('0\r\n\r\n')
      } catch {
        // The server stopped reading: see above.
      }
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

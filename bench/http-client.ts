/**
 * One HTTP/1.1 request per TCP connection over `Bun.connect`, for the benchmark's control traffic (creating
 * sessions, posting messages, probing a starting server). `fetch()` would do, but it caps concurrent requests at
 * 256 and costs more CPU than the load it drives; this keeps the client side of every measurement the same kind of
 * code as the stream readers.
 */

export interface HttpResponse {
  status: number
  body: string
}

/** Resolves with the status and body, or rejects when the connection fails or the answer is cut short. */
export function request(host: string, port: number, method: 'GET' | 'POST', path: string, json?: unknown): Promise<HttpResponse> {
  const body = json === undefined ? '' : JSON.stringify(json)
  const head =
    `${method} ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n` +
    (json === undefined ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`) +
    '\r\n'
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let settled = false
    const finish = (error?: Error) => {
      if (settled) return
      settled = true
      if (error) return reject(error)
      try {
        resolve(parseResponse(Buffer.concat(chunks)))
      } catch (parseError) {
        reject(parseError)
      }
    }
    Bun.connect({
      hostname: host,
      port,
      socket: {
        open: (socket) => void socket.write(head + body),
        data: (_socket, data) => void chunks.push(data),
        close: () => finish(),
        end: (socket) => void socket.end(),
        error: (_socket, error) => finish(error),
        connectError: (_socket, error) => finish(error),
      },
    }).catch((error: Error) => finish(error))
  })
}

/**
 * Parses a whole `Connection: close` response: Content-Length and chunked bodies both occur. Parsed as Latin-1 so
 * chunk sizes (bytes) match string lengths; the body is decoded as UTF-8 at the end.
 */
function parseResponse(raw: Buffer): HttpResponse {
  const text = raw.toString('latin1')
  const headEnd = text.indexOf('\r\n\r\n')
  const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(text)
  if (headEnd < 0 || !statusMatch) throw new Error(`not an HTTP response: ${JSON.stringify(text.slice(0, 80))}`)
  const head = text.slice(0, headEnd).toLowerCase()
  let body = text.slice(headEnd + 4)
  if (head.includes('transfer-encoding: chunked')) body = dechunkAll(body)
  return { status: Number(statusMatch[1]), body: Buffer.from(body, 'latin1').toString('utf8') }
}

function dechunkAll(body: string): string {
  let out = ''
  let pos = 0
  for (;;) {
    const lineEnd = body.indexOf('\r\n', pos)
    const size = Number.parseInt(body.slice(pos, lineEnd), 16)
    if (lineEnd < 0 || !(size > 0)) return out
    out += body.slice(lineEnd + 2, lineEnd + 2 + size)
    pos = lineEnd + 2 + size + 2
  }
}

/** Runs `task` over `items` with at most `limit` in flight, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const lane = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await task(items[index]!, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane))
  return results
}

import type { Server } from 'bun'

/** The key of a request whose address is unknown (`app.handle` in tests has no socket). */
export const UNKNOWN_IP = 'unknown'

/**
 * The client's address. With `trustProxy`, the last address of `X-Forwarded-For`: a reverse proxy (nginx's
 * `$proxy_add_x_forwarded_for`) appends the address it saw, so the last entry is the one the proxy vouches for, while
 * the ones before it are whatever the client claimed. Without `trustProxy` the header is ignored (anyone can send it)
 * and the socket's peer address is used.
 */
export function clientIp(request: Request, server: Server<unknown> | null | undefined, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = request.headers.get('x-forwarded-for')
    const last = forwarded?.split(',').at(-1)?.trim()
    if (last) return last
  }
  return server?.requestIP(request)?.address ?? UNKNOWN_IP
}

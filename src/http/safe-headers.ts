/**
 * The one way the app puts a value that did not come from its own constants into a response header: a path to
 * redirect to (`Location`, `HX-Push-Url`), a file name (`Content-Disposition`). Bun refuses a header value holding
 * CR, LF or NUL by throwing (a 500, its stack in the log) and sends the other control characters as they are (a
 * response that is not valid HTTP, RFC 9110 §5.5); a browser drops tabs and newlines from a URL it follows, so
 * `/\t/host` is `//host`, another site. Every such value goes through `headerValue`; test/unit/header-sites.test.ts
 * checks that no other module sets these headers.
 */

const encoder = new TextEncoder()

/**
 * `value` with every character but visible ASCII and space percent-encoded (its UTF-8 bytes), so it holds no control
 * character and no byte a client could read otherwise. Values the app builds itself pass unchanged.
 */
export function headerValue(value: string): string {
  return value.replace(/[^\x20-\x7e]/gu, (char) =>
    [...encoder.encode(char)].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  )
}

/** A `303 See Other` to `location` (a path of this server), with `headers` beside it. */
export const seeOther = (location: string, headers: Record<string, string> = {}): Response =>
  new Response(null, { status: 303, headers: { ...headers, location: headerValue(location) } })

/** `HX-Push-Url`: the URL htmx puts in the address bar after a swap. */
export const pushUrl = (url: string): Record<string, string> => ({ 'hx-push-url': headerValue(url) })

/** `Content-Disposition` of a download saved as `fileName`. */
export const attachment = (fileName: string): Record<string, string> => ({
  'content-disposition': `attachment; filename="${headerValue(fileName).replace(/["\\]/g, '_')}"`,
})

/** `Location` of a resource just created at `url` (a Durable Stream's 201). */
export const createdAt = (url: string): Record<string, string> => ({ location: headerValue(url) })

/** `Content-Disposition` of a body a browser must not render (a stream's raw bytes): saved, under no name of ours. */
export const asDownload = (): Record<string, string> => ({ 'content-disposition': 'attachment' })

/** The name of `Location`, for lists of header names (CORS's exposed headers). */
export const LOCATION_HEADER = 'Location'

/** `HX-Redirect`: htmx loads `url` (a path of this server) as a whole page, as after a link (a new branch's page). */
export const hxRedirect = (url: string): Record<string, string> => ({ 'hx-redirect': headerValue(url) })

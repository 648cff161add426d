import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { browserAvailable, launchBrowser, leaveScreenshot } from '../helpers/browser.ts'
import { invalidHttp, rawExchange, statusOf } from '../helpers/raw-http.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { testServer } from '../helpers/test-app.ts'

slowTests()

const TOKEN = 'a-long-enough-access-token-42'

let server: Awaited<ReturnType<typeof testServer>>
/** Another origin on this machine: a crafted `next` aims at it, and it counts who arrives. */
let elsewhere: ReturnType<typeof Bun.serve>
let arrivals = 0
beforeAll(async () => {
  server = await testServer({ authTokens: [TOKEN] })
  elsewhere = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: () => {
      arrivals++
      return new Response('elsewhere')
    },
  })
})
afterAll(async () => {
  elsewhere.stop(true)
  await server.close()
})

/** `next` values an attacker would put in a sign-in link, as they appear (percent-encoded) in the URL. */
const crafted = () => {
  const other = `127.0.0.1:${elsewhere.port}`
  return [
    `/%09/${other}/`,
    `/%0A/${other}/`,
    `/%0D%0ASet-Cookie:%20x=1`,
    `/%5C${other}/`,
    `%2F%2F${other}/`,
    `/%2F${other}/`,
    `/%252F${other}/`,
    `/%00`,
    `/%01/${other}/`,
    `/%7F`,
    `/%E2%80%A8/${other}/`,
    `http://${other}/`,
  ]
}

describe('sign-in redirect and headers, on a real port', () => {
  test('every answer to a crafted next is valid HTTP, never a 5xx, and sends the browser to a path of this server', async () => {
    const { host } = new URL(server.base)
    for (const next of crafted()) {
      const page = await rawExchange(server.base, `GET /login?next=${next} HTTP/1.1\r\nhost: ${host}`)
      const posted = await rawExchange(
        server.base,
        `POST /login HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/x-www-form-urlencoded`,
        `token=${TOKEN}&next=${next}`,
      )
      const protectedPage = await rawExchange(
        server.base,
        `GET /${next.replace(/^\/+/, '')}?x=${next} HTTP/1.1\r\nhost: ${host}\r\naccept: text/html`,
      )
      for (const [what, raw] of [
        ['GET /login', page],
        ['POST /login', posted],
        ['a page before signing in', protectedPage],
      ] as const) {
        expect({ next, what, invalid: invalidHttp(raw) }).toEqual({ next, what, invalid: undefined })
        expect(statusOf(raw)).toBeLessThan(500)
      }
      expect(statusOf(page)).toBe(200)
      expect(page).toContain('name="next" value="/"')
      expect({ next, location: /\r\nlocation: (.*)\r\n/i.exec(posted)?.[1] }).toEqual({ next, location: '/' })
    }
  })

  test('a raw control byte in the request target or a header value is refused or ignored, never answered with a broken response', async () => {
    const { host } = new URL(server.base)
    for (const byte of ['\x01', '\x09', '\x7f', '\x1b']) {
      const raw = await rawExchange(server.base, `GET /login?next=/${byte}/x HTTP/1.1\r\nhost: ${host}`)
      expect({ byte, invalid: invalidHttp(raw) }).toEqual({ byte, invalid: undefined })
      // Bun's parser refuses some of these itself (505); the app never answers them with a 500.
      expect(statusOf(raw)).not.toBe(500)
    }
    const withId = await rawExchange(server.base, `GET /healthz HTTP/1.1\r\nhost: ${host}\r\nx-request-id: a\x01b`)
    expect(invalidHttp(withId)).toBeUndefined()
  })
})

const enabled = browserAvailable('sign-in redirect in a real browser')
describe.skipIf(!enabled)('sign-in redirect in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchBrowser()
  })
  afterAll(() => browser?.close())

  test('signing in from a crafted link never leaves the origin', async () => {
    // What a browser itself rewrites: a tab or a newline dropped, a backslash read as a slash.
    for (const next of crafted().slice(0, 6)) {
      const page = await browser.newPage()
      await page.goto(`${server.base}/login?next=${next}`)
      await page.locator('#token').fill(TOKEN)
      await Promise.all([page.waitForURL((at) => !at.pathname.startsWith('/login')), page.getByRole('button', { name: 'Sign in' }).click()])
      expect({ next, at: new URL(page.url()).origin }).toEqual({ next, at: server.base })
      await leaveScreenshot(page, 'sign-in-next')
    }
    expect(arrivals).toBe(0)
  })
})

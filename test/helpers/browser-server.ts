import { afterAll, beforeAll } from 'bun:test'
import type { Browser } from 'playwright-core'
import { launchBrowser } from './browser.ts'
import { type TestAppOptions, testServer } from './test-app.ts'

export interface BrowserAndServer {
  browser: Browser
  server: Awaited<ReturnType<typeof testServer>>
}

/**
 * A browser and a test server on a real port for the describe block it is called in: both started before its tests
 * and closed after them. Read `browser` and `server` from the answer inside the tests (they are set by then).
 */
export function browserAndServer(options?: TestAppOptions): BrowserAndServer {
  const env = {} as BrowserAndServer
  beforeAll(async () => {
    env.server = await testServer(options)
    env.browser = await launchBrowser()
  })
  afterAll(async () => {
    await env.browser?.close()
    await env.server?.close()
  })
  return env
}

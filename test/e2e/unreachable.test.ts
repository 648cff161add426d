import { describe, expect, test } from 'bun:test'
import { browserAvailable, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { browserAndServer } from '../helpers/browser-server.ts'
import { until } from '../helpers/wait.ts'

slowTests()

const enabled = browserAvailable('unreachable-server tests')
const UNREACHABLE = 'Could not reach the server, so this was not sent. Check the connection and try again.'

/** A request that never reaches the server (it is down, the network is): the page says so, and keeps what was typed. */
describe.skipIf(!enabled)('a server out of reach', () => {
  const env = browserAndServer()

  /** A page in a context of its own, on a chat started from the start page and answered. */
  async function startedChat() {
    const context = await env.browser.newContext()
    const page = await context.newPage()
    const errors = watchErrors(page)
    await page.goto(`${env.server.base}/`)
    await page.getByRole('button', { name: 'Start New Chat' }).click()
    await page.locator('.answer.final').first().waitFor()
    return { context, page, errors }
  }

  test('a message sent meanwhile says it was not sent and stays in its box; Start New Chat says the same', async () => {
    const { context, page, errors } = await startedChat()

    // The server is out of reach for the page's requests from now on (its stream stays: it is not a request of a form).
    await page.route('**/chat?*', (route) => route.abort('connectionrefused'))
    await page.locator('#message').fill('are you there?')
    await page.locator('#message').press('Enter')
    await page.locator('#notice', { hasText: UNREACHABLE }).waitFor()
    expect(await page.locator('#message').inputValue()).toBe('are you there?')
    expect(await page.locator('.msg.user').count()).toBe(1)
    // A lost stream tries again at most 5 s apart, however long the server was away.
    expect(
      await page.evaluate(
        () => (window as unknown as { htmx: { config: { sse: { reconnectMaxDelay: number } } } }).htmx.config.sse.reconnectMaxDelay,
      ),
    ).toBe(5000)
    await leaveScreenshot(page, 'unreachable-send')

    const landing = await context.newPage()
    await landing.goto(`${env.server.base}/`)
    await landing.route('**/start', (route) => route.abort('connectionrefused'))
    await landing.getByRole('button', { name: 'Start New Chat' }).click()
    await landing.locator('#new-chat-notice', { hasText: UNREACHABLE }).waitFor()
    await leaveScreenshot(landing, 'unreachable-start')
    // What the browser logs of the refused requests, and nothing else.
    expect(errors.filter((e) => !/ERR_CONNECTION_REFUSED|Failed to fetch/.test(e))).toEqual([])
    await context.close()
  })
  test('a message the server did not answer in time may have been taken: the page says so, not that it was not sent', async () => {
    const { context, page, errors } = await startedChat()
    // htmx gives up on an answer after its timeout (15 s on the page; shortened here), while the server may have taken it.
    await page.evaluate(() => {
      ;(window as unknown as { htmx: { config: { defaultTimeout: number } } }).htmx.config.defaultTimeout = 300
    })
    // The server takes the message; its answer is held until the page has given up on it.
    let taken = false
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let answered: Promise<void> | undefined
    await page.route('**/chat?*', async (route) => {
      const answer = await route.fetch()
      taken = true
      await held
      answered = route.fulfill({ response: answer }).catch(() => {})
    })
    await page.locator('#message').fill('slow one')
    await page.locator('#message').press('Enter')
    await page
      .locator('#notice', { hasText: 'The server did not answer in time: this may have been taken. Look before sending it again.' })
      .waitFor()
    expect(taken).toBe(true)
    expect(await page.locator('#notice').innerText()).not.toContain('not sent')
    release()
    await until(() => answered !== undefined, { what: 'the held answer to be let go' })
    await answered
    expect(errors.filter((e) => !/timeout|abort/i.test(e))).toEqual([])
    await context.close()
  })

  test('a rename that cannot reach the server says so in the list, and the next one that does clears it', async () => {
    const { context, page } = await startedChat()
    const item = page.locator('#recent li').first()
    await item.waitFor()
    await page.route('**/chats/rename', (route) => route.abort('connectionrefused'), { times: 1 })
    await item.locator('summary').click()
    await item.locator('input[name="title"]').fill('Renamed at last')
    await item.getByRole('button', { name: 'Rename' }).click()
    await page.locator('#recent .unreached', { hasText: UNREACHABLE }).waitFor()
    expect(await page.locator('#notice').innerText()).toBe('')
    await page.locator('#recent li').first().getByRole('button', { name: 'Rename' }).click()
    await page.locator('#recent li a', { hasText: 'Renamed at last' }).waitFor()
    expect(await page.locator('#recent .unreached').count()).toBe(0)
    await context.close()
  })
  test('a page whose stream cannot connect at first (refused, then 503) asks again until it can, and shows no error body', async () => {
    const { id } = (await (await fetch(`${env.server.base}/api/sessions`, { method: 'POST' })).json()) as { id: string }
    await fetch(`${env.server.base}/api/sessions/${id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hello again' }),
    })
    const context = await env.browser.newContext()
    const page = await context.newPage()
    const errors = watchErrors(page)
    const tries: string[] = []
    await page.route('**/events?*', (route) => {
      tries.push(route.request().url())
      if (tries.length === 1) return route.abort('connectionrefused')
      if (tries.length === 2)
        return route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"UNAVAILABLE","message":"busy"}}' })
      return route.continue()
    })
    await page.goto(`${env.server.base}/?client_id=${id}`)
    await page.locator('#connection[data-state="live"]').waitFor()
    await page.locator('.answer.final').first().waitFor()
    expect(tries.length).toBe(3)
    expect(await page.locator('#transcript').innerText()).not.toContain('"error"')
    expect(errors.filter((e) => !/ERR_CONNECTION_REFUSED|Failed to fetch|status of 503/.test(e))).toEqual([])
    await leaveScreenshot(page, 'first-connection-retried')
    await context.close()
  })
})

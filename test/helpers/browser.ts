import { existsSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'

/** Debian's chromium; Playwright never downloads a browser here. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * Whether the browser tests can run. Missing chromium skips them with one line locally, but fails them in CI,
 * where .ci/run installs it: a CI run that silently skipped the browser would prove nothing.
 */
export function browserAvailable(suite: string): boolean {
  if (existsSync(CHROMIUM)) return true
  if (process.env.CI === 'true') throw new Error(`${suite}: chromium is missing at ${CHROMIUM}, and CI must run the browser tests`)
  console.log(`skipping ${suite}: no chromium at ${CHROMIUM} (apt-get install -y chromium)`)
  return false
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  })
}

/** Collects page errors and console errors, which a test asserts are empty. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`)
  })
  return errors
}

/** Every browser test leaves a screenshot of where it ended, in test-results/<name>.png, then closes its page. */
export async function leaveScreenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${import.meta.dir}/../../test-results/${name}.png`, fullPage: true })
  await page.close()
}

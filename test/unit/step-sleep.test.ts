import { describe, expect, test } from 'bun:test'
import { sleep } from '../../src/steps/step.ts'

/** A signal that counts the abort listeners added to it. */
function countingSignal() {
  const controller = new AbortController()
  const signal = controller.signal
  let added = 0
  const add = signal.addEventListener.bind(signal)
  signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => {
    if (args[0] === 'abort') added++
    add(...args)
  }) as AbortSignal['addEventListener']
  return { controller, signal, added: () => added }
}

describe('step sleep', () => {
  test('a run that sleeps per token adds one abort listener, not one per sleep', async () => {
    const { signal, added } = countingSignal()
    for (let i = 0; i < 20; i++) await sleep(0, signal)
    expect(added()).toBe(1)
  })

  test('every sleep on a signal wakes at once when it aborts, however long it was to last', async () => {
    const { controller, signal } = countingSignal()
    await sleep(0, signal)
    // A minute each: only the abort can end them within the test's time.
    const sleeps = [sleep(60_000, signal), sleep(60_000, signal)]
    controller.abort()
    await Promise.all(sleeps)
    expect(signal.aborted).toBe(true)
  })

  test('a sleep after the abort resolves at once', async () => {
    const controller = new AbortController()
    controller.abort()
    await sleep(60_000, controller.signal)
  })
})

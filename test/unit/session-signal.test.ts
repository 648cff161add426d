import { expect, test } from 'bun:test'
import { SessionSignal } from '../../src/bus/session-signal.ts'

const never = new AbortController().signal
const settled = async (promises: Promise<unknown>[]) => {
  let done = 0
  for (const p of promises) void p.then(() => done++)
  await Promise.resolve()
  await Promise.resolve()
  return done
}

test('a few readers are woken by the notify itself', async () => {
  const bus = new SessionSignal()
  const waits = Array.from({ length: 3 }, () => bus.wait('s', never))
  bus.notify('s')
  expect(await settled(waits)).toBe(3)
  expect(bus.waiting).toBe(0)
})

test('a crowd of readers is woken shortly after a burst of notifies, not by each of them', async () => {
  const bus = new SessionSignal()
  const waits = Array.from({ length: 300 }, () => bus.wait('s', never))
  bus.notify('s')
  bus.notify('s')
  expect(await settled(waits)).toBe(0)
  await Promise.all(waits)
  expect(bus.waiting).toBe(0)
})

test('an aborted reader is released at once, crowd or not, and a timeout says it timed out', async () => {
  const bus = new SessionSignal()
  const controller = new AbortController()
  const waits = Array.from({ length: 300 }, () => bus.wait('s', controller.signal))
  controller.abort()
  expect(await settled(waits)).toBe(300)
  expect(await bus.wait('t', never, 5)).toBe(true)
})

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

test('waits of one length share a timer, yet each times out after its own full length', async () => {
  const bus = new SessionSignal()
  const t0 = performance.now()
  const first = bus.wait('a', never, 40).then((timedOut) => ({ timedOut, at: performance.now() - t0 }))
  // Not a wait for something: the second wait beginning later than the first, on the same timer, is what is tested.
  await Bun.sleep(20)
  const began = performance.now() - t0
  const second = bus.wait('b', never, 40).then((timedOut) => ({ timedOut, at: performance.now() - t0 }))
  const third = bus.wait('c', never, 40)
  bus.notify('c')
  expect(await third).toBe(false)
  expect((await first).timedOut).toBe(true)
  expect((await first).at).toBeGreaterThanOrEqual(39)
  const late = await second
  expect(late.timedOut).toBe(true)
  // A timer never fires early: the second wait, begun later, ends a full 40 ms after it began, not with the first.
  expect(late.at - began).toBeGreaterThanOrEqual(39)
  expect(bus.waiting).toBe(0)
})

test('a reader woken before its timeout is not resolved again by the timer, and a new wait gets a fresh timeout', async () => {
  const bus = new SessionSignal()
  const woken = bus.wait('s', never, 10)
  bus.notify('s')
  expect(await woken).toBe(false)
  // A wait of the same length begun after it has timed out: the first one's timer has fired by now.
  expect(await bus.wait('later', never, 10)).toBe(true)
  expect(bus.waiting).toBe(0)
  expect(await bus.wait('s', never, 10)).toBe(true)
})

test("a signal every stream shares (the server's shutdown) gets one listener, however many streams waited on it", async () => {
  const bus = new SessionSignal()
  const shutdown = new AbortController()
  let listeners = 0
  const add = shutdown.signal.addEventListener.bind(shutdown.signal)
  shutdown.signal.addEventListener = ((...args: Parameters<AbortSignal['addEventListener']>) => {
    listeners++
    add(...args)
  }) as AbortSignal['addEventListener']
  // 100 streams come and go, each waiting a few times with its own signal and the shared one.
  for (let i = 0; i < 100; i++) {
    const own = new AbortController()
    const stop = [own.signal, shutdown.signal]
    for (let j = 0; j < 3; j++) {
      const woken = bus.wait('s', stop)
      bus.notify('s')
      expect(await woken).toBe(false)
    }
    own.abort()
  }
  expect(listeners).toBe(1)
  // And it still ends every wait under way when it aborts.
  const waits = [0, 1, 2].map(() => bus.wait('s', [new AbortController().signal, shutdown.signal]))
  shutdown.abort()
  expect(await Promise.all(waits)).toEqual([false, false, false])
  expect(bus.waiting).toBe(0)
})

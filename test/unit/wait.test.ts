import { describe, expect, test } from 'bun:test'
import { eventually, settlesWithin, until, within } from '../helpers/wait.ts'

// The tests' own waiting: what a failure says is what a developer reads when a loaded machine is too slow.
describe('test waits', () => {
  test('until resolves once the condition holds, and a failure names what was awaited and what was seen', async () => {
    let n = 0
    await until(() => ++n >= 3, { everyMs: 1 })
    expect(n).toBe(3)
    const failed = await until(() => false, { timeoutMs: 20, what: 'the answer to end', describe: () => ({ events: 2 }) }).catch((e) => e)
    expect((failed as Error).message).toBe('timed out after 20 ms waiting for the answer to end; it saw: {"events":2}')
  })

  test('eventually gives the first defined value; a throwing probe fails at once', async () => {
    let n = 0
    expect(await eventually(() => (++n === 2 ? 'two' : undefined), { everyMs: 1 })).toBe('two')
    // At once: the wait's 10 s deadline is past this test's 5 s one.
    await expect(eventually(() => Promise.reject(new Error('broken probe')))).rejects.toThrow('broken probe')
  })

  test('within passes a promise through, or fails naming it; settlesWithin says which came first', async () => {
    expect(await within(Promise.resolve(7))).toBe(7)
    await expect(within(new Promise(() => {}), { timeoutMs: 10, what: 'the stream to end' })).rejects.toThrow(
      'timed out after 10 ms waiting for the stream to end',
    )
    expect(await settlesWithin(Promise.reject(new Error('settled')), 1000)).toBe(true)
    expect(await settlesWithin(new Promise(() => {}), 10)).toBe(false)
  })
})

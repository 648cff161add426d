import { describe, expect, test, vi } from 'bun:test'
import { installVitestShims, waitFor } from '../helpers/vitest-shims.ts'
import { within } from '../helpers/wait.ts'

describe('vitest shims for the conformance suite', () => {
  test('waitFor retries until the callback stops throwing, and answers its value', async () => {
    let calls = 0
    const value = await waitFor(
      () => {
        calls++
        if (calls < 3) throw new Error('not yet')
        return 'done'
      },
      { timeout: 5000, interval: 1 },
    )
    expect(value).toBe('done')
    expect(calls).toBe(3)
  })
  test('waitFor throws the last failure at its deadline', async () => {
    let calls = 0
    const failing = waitFor(
      () => {
        calls++
        throw new Error(`failure ${calls}`)
      },
      { timeout: 30, interval: 5 },
    )
    await expect(within(failing, { timeoutMs: 2000, what: 'waitFor to give up' })).rejects.toThrow(/^failure \d+$/)
    expect(calls).toBeGreaterThan(1)
  })
  test('installed, describe.runIf and vi.waitFor exist on bun:test’s own objects', () => {
    installVitestShims()
    const shimmed = describe as unknown as { runIf: (condition: unknown) => unknown }
    expect(shimmed.runIf(true)).toBe(describe)
    expect(shimmed.runIf(false)).toBe(describe.skip)
    expect((vi as unknown as { waitFor: unknown }).waitFor).toBe(waitFor)
  })
})

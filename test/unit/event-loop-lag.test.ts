import { expect, test } from 'bun:test'
import { EventLoopLagSampler } from '../../src/event-loop-lag.ts'
import { Metrics } from '../../src/metrics.ts'
import { until } from '../helpers/wait.ts'

/** The lag sampler runs while the process has work and parks when it has none: an idle server wakes for nothing. */

test('the sampler parks once the process has no work, takes no samples while parked, and wakes when work comes', async () => {
  let busy = true
  let samples = 0
  const sampler = new EventLoopLagSampler({ observe: () => samples++ }, 1, () => busy)
  try {
    await until(() => samples >= 3, { what: 'a few samples while busy' })
    busy = false
    await until(() => !sampler.sampling, { what: 'the sampler to park' })
    const parkedAt = samples
    // A timer well past the sampling interval: a sampler still running would have taken samples meanwhile.
    await Bun.sleep(20)
    expect(samples).toBe(parkedAt)
    busy = true
    sampler.wake()
    await until(() => samples > parkedAt + 2, { what: 'samples again after a wake' })
  } finally {
    sampler.stop()
  }
  sampler.wake()
  expect(sampler.sampling).toBe(false)
})

test('Metrics: a scrape, a request, a stream and a run each wake the sampler; a stream still open keeps it going', async () => {
  const metrics = new Metrics({ eventLoopLag: true })
  try {
    const count = async () => {
      const text = await metrics.render()
      return Number(/^stepstream_event_loop_lag_seconds_count (\S+)$/m.exec(text)?.[1] ?? 0)
    }
    await until(async () => (await count()) > 3, { what: 'samples after a scrape' })
    metrics.sseOpened('html')
    metrics.httpRequest('/x', 200)
    const before = await count()
    await until(async () => (await count()) > before + 3, { what: 'samples while a stream is open' })
    metrics.sseClosed('html')
  } finally {
    metrics.close()
  }
})

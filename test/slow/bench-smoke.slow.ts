import { expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { browserAvailable } from '../helpers/browser.ts'

const root = join(import.meta.dir, '../..')

// The harness end to end on a tiny load: builds what it needs, starts both servers, runs every scenario. It asserts
// only that each scenario produced numbers: timings on a shared machine are for the benchmark, not for tests.
// Both servers under every scenario (its deadline is two minutes): `bun run test:slow` runs it, not every `bun test`.
test('the benchmark harness runs every scenario against both servers and reports numbers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'stepstream-bench-smoke-'))
  try {
    const json = join(dir, 'results.json')
    const run = Bun.spawn([process.execPath, 'bench/run.ts', '--smoke', '--json', json], { cwd: root, stdout: 'pipe', stderr: 'pipe' })
    const [code, stdout, stderr] = await Promise.all([run.exited, new Response(run.stdout).text(), new Response(run.stderr).text()])
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' })
    expect(stdout).toContain('| scenario | metric | stepstream | baseline |')

    const { results } = JSON.parse(readFileSync(json, 'utf8')) as {
      results: Record<string, { stepstream?: Record<string, number>; baseline?: Record<string, number> }>
    }
    const numbers = (metrics: Record<string, number> | undefined) => Object.values(metrics ?? {}).filter(Number.isFinite).length
    expect(Object.keys(results).sort()).toEqual([
      'answer-bytes',
      'browser',
      'cold-start',
      'fan-out',
      'idle',
      'idle-cpu',
      'many-runs',
      'per-event',
    ])
    // The browser scenario skips itself without Chromium (CI has it, and browserAvailable fails there without it).
    const chromium = browserAvailable('the bench smoke test of the browser scenario')
    for (const [key, result] of Object.entries(results)) {
      if (key === 'browser' && !chromium) continue
      expect({ key, stepstream: numbers(result.stepstream) > 0 }).toEqual({ key, stepstream: true })
      // The baseline serves no HTML stream; every other scenario runs on it too.
      if (key !== 'answer-bytes') expect({ key, baseline: numbers(result.baseline) > 0 }).toEqual({ key, baseline: true })
    }
    // Every stream of the tiny load delivered every event on both servers.
    for (const key of ['fan-out', 'many-runs', 'per-event'] as const) {
      for (const server of ['stepstream', 'baseline'] as const) {
        const metrics = results[key]![server]!
        expect({ key, server, events: metrics.events }).toEqual({ key, server, events: metrics.expectedEvents })
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}, 120_000)

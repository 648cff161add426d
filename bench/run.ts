/**
 * `bun run bench`: runs every scenario against stepstream (the compiled binary) and the baseline (bench/baseline.ts,
 * compiled the same way), alternating which goes first from round to round, and prints one table with ratios and
 * the issue's targets.
 *
 *   bun run bench                 quick sizes, one round (about 3 minutes)
 *   bun run bench -- --full       the issue's sizes, 3 rounds (medians); the whole set also rewrites bench/RESULTS.md's
 *                                 table (the sections after it, each change's before and after, are kept)
 *   bun run bench -- --smoke      tiny sizes, for the smoke test
 *   --rounds <n>                  rounds per scenario, medians reported (default 1, 3 with --full)
 *   --only <key,key>              only these scenarios: cold-start, idle, idle-cpu, per-event, fan-out, many-runs,
 *                                 answer-bytes, browser
 *   --json <path>                 also write the medians as JSON
 *   --binary <path>               run this stepstream executable instead of dist/stepstream (before/after checks)
 *   --profile <dir>               run stepstream from source under `bun --cpu-prof`; one profile per server start
 *   --load-workers <n>            load worker processes the fan-out viewers are split over (default 2, 4 with --full)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { buildBaseline, ensureStepstreamBinary, ROOT } from './build.ts'
import { describeMachine } from './machine.ts'
import { baselineNotes, medianMetrics, SCALE_OUT_NOTE, table, warnings, type Results } from './report.ts'
import { answerBytes } from './scenarios/answer-bytes.ts'
import { browser } from './scenarios/browser.ts'
import { coldStart } from './scenarios/cold-start.ts'
import { fanOut } from './scenarios/fan-out.ts'
import { idle } from './scenarios/idle.ts'
import { idleCpu } from './scenarios/idle-cpu.ts'
import { manyRuns } from './scenarios/many-runs.ts'
import { PER_EVENT_SESSIONS, perEvent } from './scenarios/per-event.ts'
import type { Metrics, Scenario, Sizes } from './scenarios/scenario.ts'
import { baselineTarget, stepstreamTarget, type Target } from './server-process.ts'

/** The issue's sizes (`--full`); quick and smoke scale them down so a run ends in minutes or seconds. */
const SIZES: Record<'smoke' | 'quick' | 'full', Sizes> = {
  smoke: {
    idleStreams: 20,
    idleRounds: 1,
    fanOutViewers: 5,
    fanOutChars: 50,
    fanOutLoadWorkers: 1,
    manyRunsSessions: 5,
    manyRunsChars: 10,
    perEventSessions: 5,
    perEventChars: 10,
    idleCpuSettleS: 0.5,
    idleCpuWindowS: 1,
    answerChars: 100,
    browserMessages: 2,
    coldStarts: 1,
  },
  quick: {
    idleStreams: 1000,
    idleRounds: 3,
    fanOutViewers: 200,
    fanOutChars: 2000,
    fanOutLoadWorkers: 2,
    manyRunsSessions: 100,
    manyRunsChars: 100,
    perEventSessions: PER_EVENT_SESSIONS,
    perEventChars: 150,
    idleCpuSettleS: 6,
    idleCpuWindowS: 20,
    answerChars: 2000,
    browserMessages: 10,
    coldStarts: 5,
  },
  full: {
    idleStreams: 10_000,
    idleRounds: 3,
    fanOutViewers: 1000,
    fanOutChars: 2000,
    // Two workers reached 52% of a core reading what the baseline delivers to 1,000 viewers (2026-11-25 full run).
    fanOutLoadWorkers: 4,
    manyRunsSessions: 1000,
    manyRunsChars: 250,
    perEventSessions: PER_EVENT_SESSIONS,
    perEventChars: 250,
    idleCpuSettleS: 6,
    idleCpuWindowS: 20,
    answerChars: 2000,
    browserMessages: 30,
    coldStarts: 10,
  },
}

const SCENARIOS: Scenario[] = [coldStart, idle, idleCpu, perEvent, fanOut, manyRuns, answerBytes, browser]

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    full: { type: 'boolean', default: false },
    smoke: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'string' },
    binary: { type: 'string' },
    profile: { type: 'string' },
    'load-workers': { type: 'string' },
  },
})
const mode = values.smoke ? 'smoke' : values.full ? 'full' : 'quick'
const sizes = { ...SIZES[mode], ...(values['load-workers'] ? { fanOutLoadWorkers: Number(values['load-workers']) } : {}) }
// Ratios drift less than absolute numbers, but still run to run (the baseline's fan-out rate alone varied 100k to
// 190k events/s in one afternoon): the full run reports medians over three rounds.
const rounds = Number(values.rounds ?? (mode === 'full' ? 3 : 1))
const only = values.only?.split(',')
const scenarios = only ? SCENARIOS.filter((s) => only.includes(s.key)) : SCENARIOS
if (!(rounds >= 1) || !(sizes.fanOutLoadWorkers >= 1) || scenarios.length === 0) {
  process.stderr.write(
    `bench: --rounds and --load-workers must be 1 or more and --only must name some of: ${SCENARIOS.map((s) => s.key).join(', ')}\n`,
  )
  process.exit(2)
}

const log = (line: string) => process.stderr.write(`${line}\n`)
const started = Date.now()
const workDir = mkdtempSync(join(tmpdir(), 'stepstream-bench-data-'))
const baselineBinary = buildBaseline()
const targets: Target[] = [stepstreamTarget(stepstreamCommand()), baselineTarget(baselineBinary)]

const results: Results = {}
try {
  for (const scenario of scenarios) {
    const measured: Record<Target['name'], Metrics[]> = { stepstream: [], baseline: [] }
    for (let round = 0; round < rounds; round++) {
      // Alternate who goes first, so neither always runs on a machine still busy with (or cooled from) the other.
      for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
        const t0 = Date.now()
        const metrics = await scenario.run({ target, sizes, workDir })
        if (metrics) measured[target.name].push(metrics)
        log(
          `${scenario.key} · ${target.name} · round ${round + 1}: ${metrics ? JSON.stringify(rounded(metrics)) : 'n/a'} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
        )
      }
    }
    results[scenario.key] = {
      title: scenario.title(sizes),
      stepstream: measured.stepstream.length > 0 ? medianMetrics(measured.stepstream) : undefined,
      baseline: measured.baseline.length > 0 ? medianMetrics(measured.baseline) : undefined,
    }
  }
} finally {
  rmSync(workDir, { recursive: true, force: true })
  rmSync(join(baselineBinary, '..'), { recursive: true, force: true })
}

const args = process.argv.slice(2)
const command = `bun run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}`
const output = [
  table(results),
  '',
  'How each baseline was measured:',
  ...baselineNotes(results),
  '',
  SCALE_OUT_NOTE,
  ...warnings(results).map((w) => `\nWARNING: ${w}`),
].join('\n')
process.stdout.write(`\n${output}\n\n${command}: ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
if (values.json) writeFileSync(values.json, JSON.stringify({ mode, sizes, rounds, results }, null, 2))
// The record is the whole set only: a partial run (--only, --binary, --profile) must not overwrite it.
const wholeSet = scenarios.length === SCENARIOS.length && !values.binary && !values.profile
if (mode === 'full' && wholeSet) {
  const path = join(import.meta.dir, 'RESULTS.md')
  writeFileSync(path, resultsMarkdown(output, command) + keptHistory(existsSync(path) ? readFileSync(path, 'utf8') : ''))
}

/**
 * The sections of RESULTS.md after its table (each change's before and after, from its first `## ` heading on): a
 * full run replaces the table and keeps them, since they are the record of what was tried.
 */
function keptHistory(previous: string): string {
  const at = previous.search(/^## /m)
  return at === -1 ? '' : `\n${previous.slice(at)}`
}

/** The compiled binary (built when stale), another build given with --binary, or the sources under the profiler. */
function stepstreamCommand(): string[] {
  if (values.profile)
    return [process.execPath, '--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${values.profile}`, join(ROOT, 'src', 'main.ts')]
  return [values.binary ?? ensureStepstreamBinary()]
}

/** The commit the binary was built from, and whether the working tree differed from it. */
function sourceVersion(): string {
  const git = (...args: string[]) =>
    Bun.spawnSync(['git', ...args], { cwd: ROOT })
      .stdout.toString()
      .trim()
  const commit = git('rev-parse', '--short', 'HEAD')
  if (!commit) return 'outside git'
  return git('status', '--porcelain', '--', 'src', 'templates', 'public') ? `commit ${commit} plus uncommitted changes` : `commit ${commit}`
}

function rounded(metrics: Metrics): Metrics {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, Math.round(v * 10) / 10]))
}

function resultsMarkdown(tableText: string, cmd: string): string {
  return [
    '# Benchmark results',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`${cmd}\` (${rounds} rounds, medians; ${((Date.now() - started) / 1000).toFixed(0)} s):`,
    `stepstream's compiled binary (${values.binary ?? sourceVersion()}) against bench/baseline.ts (raw \`Bun.serve\`, compiled the same`,
    'way), on 127.0.0.1:',
    '',
    ...describeMachine(),
    '',
    tableText,
    '',
    'Ratios are stepstream / baseline (or / the original design, computed, for the answer bytes). Latency is receive',
    "time minus the event's `ts` (millisecond resolution). See bench/README.md for what each scenario does.",
    '',
  ].join('\n')
}

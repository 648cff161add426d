import type { Metrics } from './scenarios/scenario.ts'

/** Turns the measured metrics into the table `bun run bench` prints and RESULTS.md keeps, targets included. */

/** Per scenario key, per server: the medians over rounds (undefined when the scenario does not apply). */
export type Results = Record<string, { title: string; stepstream?: Metrics; baseline?: Metrics }>

interface Target {
  text: string
  met: (stepstream: Metrics, baseline: Metrics | undefined) => boolean
}

interface Row {
  scenario: string
  label: string
  metric: string
  unit: string
  digits?: number
  /** Where the comparison column comes from: the baseline's metric (default), or another stepstream metric. */
  compareWith?: { metric: string; label: string }
  target?: Target
}

const ratioOf = (s: Metrics, b: Metrics | undefined, metric: string) => s[metric]! / b![metric]!

/** Every row of the table, with the issue's targets where it sets one. */
const ROWS: Row[] = [
  {
    scenario: 'idle',
    label: 'server RSS per open stream',
    metric: 'rssPerConnKiB',
    unit: 'KiB',
    digits: 1,
    target: { text: '≤ 1.5× baseline', met: (s, b) => ratioOf(s, b, 'rssPerConnKiB') <= 1.5 },
  },
  { scenario: 'idle', label: 'server RSS per open stream, lowest round', metric: 'rssPerConnMinKiB', unit: 'KiB', digits: 1 },
  { scenario: 'idle', label: 'server RSS per open stream, highest round', metric: 'rssPerConnMaxKiB', unit: 'KiB', digits: 1 },
  { scenario: 'idle', label: 'server RSS with the streams open', metric: 'rssAfterMiB', unit: 'MiB', digits: 1 },
  { scenario: 'idle', label: 'load client CPU (busiest worker)', metric: 'clientCpuPercent', unit: '%' },
  {
    scenario: 'fan-out',
    label: 'delivered events/s',
    metric: 'eventsPerSec',
    unit: 'ev/s',
    target: { text: '≥ 0.8× baseline', met: (s, b) => ratioOf(s, b, 'eventsPerSec') >= 0.8 },
  },
  { scenario: 'fan-out', label: 'p50 latency', metric: 'p50Ms', unit: 'ms' },
  {
    scenario: 'fan-out',
    label: 'p99 latency',
    metric: 'p99Ms',
    unit: 'ms',
    target: { text: '≤ 1.5× baseline', met: (s, b) => ratioOf(s, b, 'p99Ms') <= 1.5 },
  },
  { scenario: 'fan-out', label: 'server CPU', metric: 'serverCpuPercent', unit: '% core' },
  { scenario: 'fan-out', label: 'load client CPU (busiest worker)', metric: 'clientCpuPercent', unit: '%' },
  { scenario: 'fan-out', label: 'load client worker processes', metric: 'loadWorkers', unit: 'processes' },
  { scenario: 'fan-out', label: 'event-loop lag p99 (bucket bound)', metric: 'loopLagP99Ms', unit: 'ms' },
  { scenario: 'fan-out', label: 'event-loop lag max', metric: 'loopLagMaxMs', unit: 'ms', digits: 1 },
  {
    scenario: 'fan-out',
    label: 'event-loop stalls over 5 ms',
    metric: 'loopStalls',
    unit: 'samples',
  },
  { scenario: 'many-runs', label: 'p50 token latency', metric: 'p50Ms', unit: 'ms' },
  {
    scenario: 'many-runs',
    label: 'p99 token latency',
    metric: 'p99Ms',
    unit: 'ms',
    target: { text: '≤ 50 ms', met: (s) => s.p99Ms! <= 50 },
  },
  { scenario: 'many-runs', label: 'events/s persisted and delivered', metric: 'persistedPerSec', unit: 'ev/s' },
  { scenario: 'many-runs', label: 'share of the offered 50 tokens/s per run kept', metric: 'pacePercent', unit: '%' },
  { scenario: 'many-runs', label: 'pace each run kept, median run', metric: 'runPaceP50', unit: '%' },
  { scenario: 'many-runs', label: 'pace each run kept, slowest 5% of runs', metric: 'runPaceP5', unit: '%' },
  {
    scenario: 'many-runs',
    label: 'first to last run start (the client posting the messages)',
    metric: 'startSpreadS',
    unit: 's',
    digits: 1,
  },
  { scenario: 'many-runs', label: 'server CPU', metric: 'serverCpuPercent', unit: '% core' },
  { scenario: 'many-runs', label: 'load client CPU (busiest worker)', metric: 'clientCpuPercent', unit: '%' },
  {
    scenario: 'many-runs',
    label: 'p99 token latency, SQLite beside memory',
    metric: 'p99Ms',
    unit: 'ms',
    compareWith: { metric: 'p99MsMemory', label: 'memory store' },
    target: { text: '≤ 2× memory', met: (s) => s.p99Ms! <= 2 * s.p99MsMemory! },
  },
  {
    scenario: 'many-runs',
    label: 'pace the slowest 5% of runs kept, SQLite beside memory',
    metric: 'runPaceP5',
    unit: '%',
    compareWith: { metric: 'runPaceP5Memory', label: 'memory store' },
    target: { text: '≥ 95% (SQLite)', met: (s) => s.runPaceP5! >= 95 },
  },
  { scenario: 'many-runs', label: 'event-loop lag p99 (bucket bound)', metric: 'loopLagP99Ms', unit: 'ms' },
  { scenario: 'many-runs', label: 'event-loop lag max', metric: 'loopLagMaxMs', unit: 'ms', digits: 1 },
  {
    scenario: 'many-runs',
    label: 'event-loop stalls over 5 ms',
    metric: 'loopStalls',
    unit: 'samples',
    compareWith: { metric: 'loopStallsMemory', label: 'memory store' },
    target: { text: 'none (SQLite)', met: (s) => s.loopStalls === 0 },
  },
  {
    scenario: 'answer-bytes',
    label: 'bytes on the wire',
    metric: 'answerBytes',
    unit: 'B',
    compareWith: { metric: 'originalBytes', label: 'original design' },
    target: { text: '≤ 2× text + fixed/event', met: (s) => s.overheadPerEvent! <= s.overheadPerEventShort! + 1 },
  },
  {
    scenario: 'answer-bytes',
    label: 'per event beyond 2× text',
    metric: 'overheadPerEvent',
    unit: 'B/event',
    digits: 1,
    compareWith: { metric: 'originalOverheadPerEvent', label: 'original design' },
  },
  { scenario: 'browser', label: 'quiet server: submit → first partial painted, p50', metric: 'quietFirstP50Ms', unit: 'ms', digits: 1 },
  { scenario: 'browser', label: 'quiet server: submit → first partial painted, p99', metric: 'quietFirstP99Ms', unit: 'ms', digits: 1 },
  { scenario: 'browser', label: 'quiet server: submit → final painted, p50', metric: 'quietFinalP50Ms', unit: 'ms', digits: 1 },
  { scenario: 'browser', label: 'quiet server: submit → final painted, p99', metric: 'quietFinalP99Ms', unit: 'ms', digits: 1 },
  { scenario: 'browser', label: 'under many runs: submit → first partial painted, p50', metric: 'loadedFirstP50Ms', unit: 'ms', digits: 1 },
  { scenario: 'browser', label: 'under many runs: submit → first partial painted, p99', metric: 'loadedFirstP99Ms', unit: 'ms', digits: 1 },
  { scenario: 'browser', label: 'under many runs: submit → final painted, p50', metric: 'loadedFinalP50Ms', unit: 'ms', digits: 1 },
  { scenario: 'browser', label: 'under many runs: submit → final painted, p99', metric: 'loadedFinalP99Ms', unit: 'ms', digits: 1 },
  {
    scenario: 'cold-start',
    label: 'spawn → first 200',
    metric: 'medianMs',
    unit: 'ms',
    digits: 1,
    target: { text: '≤ 150 ms', met: (s) => s.medianMs! <= 150 },
  },
]

function format(value: number | undefined, digits = 0): string {
  if (value === undefined) return '—'
  if (!Number.isFinite(value)) return 'n/a'
  return value.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** The results as a Markdown table (readable as plain text too), one row per metric. */
export function table(results: Results): string {
  const lines = ['| scenario | metric | stepstream | baseline | ratio | target | status |', '|---|---|---:|---:|---:|---|---|']
  let previous = ''
  for (const row of ROWS) {
    const result = results[row.scenario]
    if (!result?.stepstream) continue
    const s = result.stepstream
    const other = row.compareWith ? s[row.compareWith.metric] : result.baseline?.[row.metric]
    const ratio = other === undefined || other === 0 ? undefined : s[row.metric]! / other
    const otherText = other === undefined ? '—' : `${format(other, row.digits)}${row.compareWith ? ` (${row.compareWith.label})` : ''}`
    const status = row.target ? (row.target.met(s, result.baseline) ? 'met' : '**missed**') : ''
    const heading = result.title === previous ? '' : result.title
    previous = result.title
    lines.push(
      `| ${heading} | ${row.label} (${row.unit}) | ${format(s[row.metric], row.digits)} | ${otherText} | ${ratio === undefined ? '—' : `${format(ratio, 2)}×`} | ${row.target?.text ?? ''} | ${status} |`,
    )
  }
  return lines.join('\n')
}

/** Incomplete loads, said plainly under the table: a number from a load that lost streams is not comparable. */
export function warnings(results: Results): string[] {
  const out: string[] = []
  for (const [key, result] of Object.entries(results)) {
    for (const name of ['stepstream', 'baseline'] as const) {
      const m = result[name]
      if (!m) continue
      if (m.failed) out.push(`${key} on ${name}: ${m.failed} stream(s) failed or ended early`)
      if (m.expectedEvents !== undefined && m.events! < m.expectedEvents)
        out.push(`${key} on ${name}: ${m.events} of ${m.expectedEvents} events arrived`)
    }
  }
  return out
}

/** The per-scenario median over rounds, metric by metric. */
export function medianMetrics(rounds: Metrics[]): Metrics {
  const out: Metrics = {}
  for (const key of Object.keys(rounds[0] ?? {})) {
    const values = rounds.map((m) => m[key]!).sort((a, b) => a - b)
    out[key] = values[Math.floor((values.length - 1) / 2)]!
  }
  return out
}

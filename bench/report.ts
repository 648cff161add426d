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
  /** The baseline's metric to compare with when it is not `metric` (the baseline has one idle store, not two). */
  baselineMetric?: string
  target?: Target
}

const ratioOf = (s: Metrics, b: Metrics | undefined, metric: string, baselineMetric = metric) => s[metric]! / b![baselineMetric]!

/** Every row of the table, with the issue's targets where it sets one. */
const ROWS: Row[] = [
  {
    scenario: 'idle',
    label: 'server RSS per open stream',
    metric: 'rssPerConnKiB',
    unit: 'KiB',
    digits: 1,
    target: { text: '≤ 1.5× baseline at 10,000 streams (--full)', met: (s, b) => ratioOf(s, b, 'rssPerConnKiB') <= 1.5 },
  },
  { scenario: 'idle', label: 'server RSS per open stream, lowest round', metric: 'rssPerConnMinKiB', unit: 'KiB', digits: 1 },
  { scenario: 'idle', label: 'server RSS per open stream, highest round', metric: 'rssPerConnMaxKiB', unit: 'KiB', digits: 1 },
  { scenario: 'idle', label: 'server RSS with the streams open', metric: 'rssAfterMiB', unit: 'MiB', digits: 1 },
  { scenario: 'idle', label: 'load client CPU (busiest worker)', metric: 'clientCpuPercent', unit: '%' },
  {
    scenario: 'idle-cpu',
    label: 'server CPU, memory',
    metric: 'cpuPercentMemory',
    unit: '% core',
    digits: 2,
    target: { text: '≤ 0.3% of a core', met: (s) => s.cpuPercentMemory! <= 0.3 },
  },
  {
    scenario: 'idle-cpu',
    label: 'server CPU, SQLite (baseline: its one store)',
    metric: 'cpuPercentSqlite',
    baselineMetric: 'cpuPercentMemory',
    unit: '% core',
    digits: 2,
    target: { text: '≤ 0.3% of a core', met: (s) => s.cpuPercentSqlite! <= 0.3 },
  },
  {
    scenario: 'per-event',
    label: 'server CPU per delivered event, memory',
    metric: 'cpuPerEventUsMemory',
    unit: 'µs',
    digits: 1,
    target: { text: '≤ 1.3× baseline', met: (s, b) => ratioOf(s, b, 'cpuPerEventUsMemory') <= 1.3 },
  },
  {
    scenario: 'per-event',
    label: 'server CPU per delivered event, SQLite (baseline: one INSERT per event)',
    metric: 'cpuPerEventUsSqlite',
    unit: 'µs',
    digits: 1,
    target: { text: '≤ 1.3× baseline', met: (s, b) => ratioOf(s, b, 'cpuPerEventUsSqlite') <= 1.3 },
  },
  {
    scenario: 'per-event',
    label: 'delivery p99, SQLite beside memory',
    metric: 'p99MsSqlite',
    unit: 'ms',
    compareWith: { metric: 'p99MsMemory', label: 'memory store' },
    target: { text: '≤ 2× memory', met: (s) => s.p99MsSqlite! <= 2 * s.p99MsMemory! },
  },
  {
    scenario: 'per-event',
    label: 'worst delivery delay, SQLite',
    metric: 'maxMsSqlite',
    unit: 'ms',
    target: { text: '≤ 25 ms', met: (s) => s.maxMsSqlite! <= 25 },
  },
  { scenario: 'per-event', label: 'worst delivery delay, memory', metric: 'maxMsMemory', unit: 'ms' },
  { scenario: 'per-event', label: 'delivery p99, memory', metric: 'p99MsMemory', unit: 'ms' },
  { scenario: 'per-event', label: 'delivery p99, SQLite', metric: 'p99MsSqlite', unit: 'ms' },
  { scenario: 'per-event', label: 'share of the offered pace kept, memory', metric: 'pacePercentMemory', unit: '%' },
  { scenario: 'per-event', label: 'share of the offered pace kept, SQLite', metric: 'pacePercentSqlite', unit: '%' },
  { scenario: 'per-event', label: 'server CPU, SQLite', metric: 'serverCpuPercentSqlite', unit: '% core' },
  { scenario: 'per-event', label: 'load client CPU (busiest worker), SQLite', metric: 'clientCpuPercentSqlite', unit: '%' },
  {
    scenario: 'fan-out',
    label: 'delivered events/s',
    metric: 'eventsPerSec',
    unit: 'ev/s',
    target: { text: '≥ 0.9× baseline', met: (s, b) => ratioOf(s, b, 'eventsPerSec') >= 0.9 },
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
  {
    scenario: 'browser',
    label: 'under many runs: submit → first partial painted, p50',
    metric: 'loadedFirstP50Ms',
    unit: 'ms',
    digits: 1,
    target: { text: '≤ 2× baseline', met: (s, b) => ratioOf(s, b, 'loadedFirstP50Ms') <= 2 },
  },
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
    const other = row.compareWith ? s[row.compareWith.metric] : result.baseline?.[row.baselineMetric ?? row.metric]
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

/**
 * How each scenario's comparison column was measured, printed under the table: a ratio means nothing without it.
 * The baseline is bench/baseline.ts, compiled like stepstream, run in the same invocation right before or after it.
 */
const BASELINES: Record<string, string> = {
  'cold-start': 'the baseline binary started the same way (no store to open).',
  idle: 'the baseline holding the same number of idle streams, one per session, after the same warm-up (it keeps no store).',
  'idle-cpu':
    'the baseline started, asked /healthz and left idle the same way, once (it has no store, so both stepstream rows compare with it).',
  'per-event':
    "the baseline under the same load twice: events in memory (memory rows), and one autocommit INSERT per event into a WAL SQLite file with synchronous = NORMAL before the event is written (SQLite rows); the p99 SQLite row compares with stepstream's own memory store.",
  'fan-out': 'the baseline fed by the same echo loop at delay 0, its events in memory, one encoding written to every viewer.',
  'many-runs':
    "the baseline under the same load, its events in memory; the 'beside memory' rows compare with stepstream's own memory store.",
  'answer-bytes': 'no baseline run: the original design is computed from the frames stepstream sent (bench/README.md).',
  browser: "the baseline's smallest chat page (one EventSource, deltas appended), driven by the same script beside the same load.",
}

/** One line per scenario in the results: what its comparison column is. */
export function baselineNotes(results: Results): string[] {
  return Object.keys(results)
    .filter((key) => BASELINES[key])
    .map((key) => `- ${key}: ${BASELINES[key]}`)
}

/** The scale-out rows of issue 24 need Redis and several processes: a script of their own measures them. */
export const SCALE_OUT_NOTE =
  'Scale-out (`--workers 2` CPU per event ≤ 1.15× one process; two instances routed by chat ≤ 1.1×): not run here; `bun bench/redis-scale.ts` reports them (needs redis-server).'

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

/**
 * A load worker process: opens the SSE streams the orchestrator asks for, reads every event, and reports counts,
 * bytes, a latency histogram and its own CPU time. Several run side by side when a scenario needs more sockets than
 * one process may open (the open-files limit), or more CPU than one event loop has.
 *
 * Latency is receive time minus the event's `ts`, which the server stamps when the event is emitted; both clocks
 * are this machine's wall clock, and `ts` has millisecond resolution.
 */
import { newHistogram, record, toSparse } from './histogram.ts'
import { emptyStats, type OpenCommand, type WorkerCommand, type WorkerReport, type WorkerStats } from './load-protocol.ts'
import { SseStream, type SseMessage } from './sse-client.ts'

const started = Date.now()
const cpuAtStart = process.cpuUsage()
const histogram = newHistogram()
const streams: SseStream[] = []
const stats: WorkerStats = emptyStats(0)
let finished = 0
let reported = false

const send = (report: WorkerReport) => process.send?.(report)

/** `ts` is ISO 8601 with milliseconds ("2026-01-02T03:04:05.678Z"): 24 characters after `"ts":"`. */
function onMessage(message: SseMessage, receivedAt: number): number | undefined {
  stats.events++
  if (receivedAt > stats.lastReceivedAt) stats.lastReceivedAt = receivedAt
  const at = message.data.indexOf('"ts":"')
  if (at < 0) return undefined
  const ts = Date.parse(message.data.slice(at + 6, at + 30))
  if (stats.firstTs === 0 || ts < stats.firstTs) stats.firstTs = ts
  record(histogram, receivedAt - ts)
  return ts
}

function fail(error: string) {
  stats.failed++
  if (stats.errors.length < 5) stats.errors.push(error)
}

function report() {
  if (reported) return
  reported = true
  for (const stream of streams) stream.close()
  const cpu = process.cpuUsage(cpuAtStart)
  stats.cpuMicros = cpu.user + cpu.system
  stats.wallMs = Date.now() - started
  stats.bodyBytes = streams.reduce((sum, s) => sum + s.bodyBytes, 0)
  stats.latency = toSparse(histogram)
  send({ kind: 'done', stats })
  // Give the IPC message a moment to leave before the process goes.
  setTimeout(() => process.exit(0), 50)
}

function open(command: OpenCommand) {
  stats.streams = command.paths.length
  setTimeout(report, command.deadlineMs)
  let next = 0
  let settled = 0
  const settle = () => {
    settled++
    if (settled === command.paths.length) send({ kind: 'opened', opened: stats.opened, failed: stats.failed })
    else startNext()
  }
  const ended = () => {
    finished++
    if (command.until === 'final' && finished === command.paths.length) report()
  }
  const startNext = () => {
    if (next >= command.paths.length) return
    const path = command.paths[next++]!
    let isOpen = false
    let sawFinal = false
    let firstPartialTs = 0
    let partials = 0
    const stream: SseStream = new SseStream({
      host: command.host,
      port: command.port,
      path,
      onOpen: () => {
        isOpen = true
        stats.opened++
        settle()
      },
      onMessage: (message, receivedAt) => {
        const ts = onMessage(message, receivedAt)
        if (message.event === 'partial' && ts !== undefined && partials++ === 0) firstPartialTs = ts
        if (command.until === 'final' && message.event === 'final' && !sawFinal) {
          sawFinal = true
          if (partials > 0 && ts !== undefined) stats.runs.push([firstPartialTs, ts, partials])
          stream.close()
        }
      },
      onClose: (error) => {
        if (!isOpen) {
          fail(error ?? 'closed before the stream opened')
          settle()
        } else if (command.until === 'final' && !sawFinal) fail(error ?? 'closed before its final event')
        ended()
      },
    })
    streams.push(stream)
  }
  for (let i = 0; i < command.concurrency; i++) startNext()
  if (command.paths.length === 0) send({ kind: 'opened', opened: 0, failed: 0 })
}

process.on('message', (command: WorkerCommand) => {
  if (command.kind === 'open') open(command)
  else report()
})
// The orchestrator went away: nothing would read the report, so stop holding sockets.
process.on('disconnect', () => process.exit(0))

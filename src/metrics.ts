import { Counter, collectDefaultMetrics, Gauge, Histogram, type Metric, Registry } from 'prom-client'
import { EVENT_TYPES, type EventType } from './events.ts'
import { EventLoopLagSampler, LAG_IDLE_AFTER_MS } from './event-loop-lag.ts'

/** Why a request was turned away, as `stepstream_rejected_total{reason}` counts it. */
export type RejectReason = 'rate_limit' | 'connections' | 'connections_per_ip' | 'auth' | 'origin' | 'body_size' | 'message_size'

/** What a Durable Streams request did, as `stepstream_stream_operations_total{operation}` counts it. */
export type StreamOperation = 'create' | 'append' | 'read' | 'long-poll' | 'sse' | 'head' | 'delete' | 'preflight'

/** Which of the two SSE streams a connection is. */
export type StreamKind = 'html' | 'json'

/** What the stores report: each stored event, and (SQLite) how long each group commit took. */
export interface StoreMetrics {
  /** One event became visible in the log. A plain add: it runs once per event. */
  eventPublished(type: EventType): void
  /** One transaction of the group-commit writer took this long; seconds. */
  storeCommit(seconds: number): void
}

/** What the runner reports about runs. */
export interface RunMetrics {
  runStarted(): void
  /** The run's closing event is stored: `outcome` is its type (`final`, `interrupt`, `error`). */
  runEnded(step: string, outcome: string, seconds: number): void
  /** The step's first event after `start` (a token, a tool call or its closing event) is stored; seconds from the run's start. */
  firstEvent(step: string, seconds: number): void
}

export interface MetricsOptions {
  /** Also collect prom-client's process metrics (CPU, memory, handles, GC); default false (tests build many). */
  processMetrics?: boolean
  /** Also sample the event loop's lag every 2 ms (src/event-loop-lag.ts); default false. Call `close()` to stop it. */
  eventLoopLag?: boolean
}

/** Seconds: from a fast echo token (ms) to a long model answer (minutes). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300]
/** Events behind; a stream reads at most 256 events at a time (src/sse/session-stream.ts), so the top bucket is 256. */
const LAG_BUCKETS = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256]
/** Seconds: a commit of a few rows takes tens of microseconds; a stalled disk, hundreds of milliseconds. */
const COMMIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
/**
 * Seconds: the timer's own jitter is under a millisecond; 5 ms is the "stall" (bench/run.ts counts samples
 * above it); a checkpoint or a long merge holds the loop for tens of milliseconds.
 */
export const LOOP_LAG_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

/**
 * prom-client's per-space heap gauges: they read `v8.getHeapSpaceStatistics()`, which walks the whole heap under Bun,
 * holding the loop for every scrape (bench/PROFILE-III.md). The heap's size and use stay (`nodejs_heap_size_*_bytes`
 * read `process.memoryUsage()`, which does not walk it).
 */
const HEAP_WALKS = ['nodejs_heap_space_size_total_bytes', 'nodejs_heap_space_size_used_bytes', 'nodejs_heap_space_size_available_bytes']

/**
 * The server's Prometheus metrics, one registry per app (tests build many apps in one process). Injected into the
 * HTTP layer, the runner and the store; nothing imports a global registry.
 *
 * The per-event counts (events published, events delivered) are plain number additions read by prom-client only
 * when `/metrics` is scraped: a labelled prom-client `inc()` costs ~150 ns (it hashes its labels), a plain add ~3 ns,
 * and the fan-out benchmark delivers ~140,000 events a second.
 */
export class Metrics implements StoreMetrics, RunMetrics {
  readonly registry = new Registry()
  readonly #published = Object.fromEntries(EVENT_TYPES.map((type) => [type, 0])) as Record<EventType, number>
  #delivered = 0
  readonly #sse: Record<StreamKind, Gauge.Internal<string>>
  readonly #lag = new PlainHistogram(LAG_BUCKETS)
  readonly #runsActive: Gauge
  readonly #runDuration: Histogram<'step' | 'outcome'>
  readonly #firstEvent: Histogram<'step'>
  readonly #requests: Counter<'route' | 'status'>
  readonly #streamOperations: Counter<'operation' | 'status'>
  readonly #rejected: Counter<'reason'>
  readonly #commit: Histogram
  readonly #loopLag: EventLoopLagSampler | undefined
  /** Open streams and runs in this process, and when it last answered a request: the lag sampler runs while any. */
  #openStreams = 0
  #openRuns = 0
  #lastRequestAt = Number.NEGATIVE_INFINITY

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry]
    // prom-client's loop-lag monitor wakes the loop every 10 ms and reads 0 under Bun (the sampler below measures it):
    // once a second it costs nothing; at 10 ms it was most of an idle server's CPU.
    if (options.processMetrics) {
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1000 })
      for (const name of HEAP_WALKS) this.registry.removeSingleMetric(name)
    }
    const published = this.#published
    new Counter({
      name: 'stepstream_events_published_total',
      help: 'Events stored in the session logs, by type.',
      labelNames: ['type'],
      registers,
      collect() {
        this.reset()
        for (const type of EVENT_TYPES) this.inc({ type }, published[type])
      },
    })
    const connections = new Gauge({
      name: 'stepstream_sse_connections',
      help: 'Open SSE connections, by stream.',
      labelNames: ['stream'],
      registers,
    })
    // Set to 0 at once: a labelled series is only written once it has a value, and a dashboard wants the zero.
    for (const stream of ['html', 'json']) connections.set({ stream }, 0)
    this.#sse = { html: connections.labels({ stream: 'html' }), json: connections.labels({ stream: 'json' }) }
    const read = () => this.#delivered
    new Counter({
      name: 'stepstream_events_delivered_total',
      help: 'Events written to SSE connections (one per event per connection).',
      registers,
      collect() {
        this.reset()
        this.inc(read())
      },
    })
    this.registry.registerMetric(
      this.#lag.metric(
        'stepstream_sse_lag_events',
        'How many events a stream is behind its session log when it wakes to read (at most one read of 256).',
      ),
    )
    this.#runsActive = new Gauge({ name: 'stepstream_runs_active', help: 'Runs this process is executing.', registers })
    this.#runDuration = new Histogram({
      name: 'stepstream_run_duration_seconds',
      help: 'Run durations, from the start of the step to its closing event, by step and outcome.',
      labelNames: ['step', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    })
    this.#firstEvent = new Histogram({
      name: 'stepstream_time_to_first_event_seconds',
      help: "Seconds from a run's start to the first event its step stores after `start`, by step.",
      labelNames: ['step'],
      buckets: DURATION_BUCKETS,
      registers,
    })
    this.#requests = new Counter({
      name: 'stepstream_http_requests_total',
      help: 'HTTP requests answered, by route template and status.',
      labelNames: ['route', 'status'],
      registers,
    })
    this.#streamOperations = new Counter({
      name: 'stepstream_stream_operations_total',
      help: 'Durable Streams requests answered (/v1/stream/*), by operation and status (an SSE read when it starts).',
      labelNames: ['operation', 'status'],
      registers,
    })
    this.#rejected = new Counter({
      name: 'stepstream_rejected_total',
      help: 'Requests refused by a limit or by auth, by reason.',
      labelNames: ['reason'],
      registers,
    })
    this.#commit = new Histogram({
      name: 'stepstream_store_commit_seconds',
      help: 'Duration of the SQLite group-commit transactions.',
      buckets: COMMIT_BUCKETS,
      registers,
    })
    if (options.eventLoopLag) this.#loopLag = this.#sampleLoopLag()
  }

  /** Stops the event-loop sampler, if there is one; safe to call twice. */
  close(): void {
    this.#loopLag?.stop()
  }

  #sampleLoopLag(): EventLoopLagSampler {
    const lag = new PlainHistogram(LOOP_LAG_BUCKETS)
    this.registry.registerMetric(
      lag.metric(
        'stepstream_event_loop_lag_seconds',
        'How late the event loop ran a timer due every 2 ms while the server had work (open streams, runs, a request in the last 5 s): each sample is one wait; over 5 ms is a stall.',
      ),
    )
    // An idle server takes no samples: what the histogram counts is the loop under work (LAG_IDLE_AFTER_MS).
    const sampler = new EventLoopLagSampler(lag, undefined, () => this.#busy())
    new Gauge({
      name: 'stepstream_event_loop_lag_max_seconds',
      help: 'The largest event-loop lag sampled since the process started.',
      registers: [this.registry],
      collect() {
        this.set(sampler.maxSeconds)
      },
    })
    return sampler
  }

  eventPublished(type: EventType): void {
    this.#published[type]++
  }

  /** A stream wrote `events` events after finding itself `lag` events behind its log. Once per read of every stream. */
  eventsDelivered(events: number, lag: number): void {
    this.#delivered += events
    this.#lag.observe(lag)
  }

  sseOpened(kind: StreamKind): void {
    this.#sse[kind].inc()
    this.#openStreams++
    this.#loopLag?.wake()
  }

  sseClosed(kind: StreamKind): void {
    this.#sse[kind].dec()
    this.#openStreams--
  }

  runStarted(): void {
    this.#runsActive.inc()
    this.#openRuns++
    this.#loopLag?.wake()
  }

  runEnded(step: string, outcome: string, seconds: number): void {
    this.#runsActive.dec()
    this.#openRuns--
    this.#runDuration.observe({ step, outcome }, seconds)
  }

  firstEvent(step: string, seconds: number): void {
    this.#firstEvent.observe({ step }, seconds)
  }

  /** `route` is the route's template (`/api/sessions/:id`), never a path with an id in it. */
  httpRequest(route: string, status: number): void {
    this.#requests.inc({ route, status: String(status) })
    this.#asked()
  }

  /** Work arrived (a request, a scrape): the lag sampler runs for LAG_IDLE_AFTER_MS more at least. */
  #asked(): void {
    this.#lastRequestAt = performance.now()
    this.#loopLag?.wake()
  }

  /** Whether the process has work to sample the event loop under. */
  #busy(): boolean {
    return this.#openStreams > 0 || this.#openRuns > 0 || performance.now() - this.#lastRequestAt < LAG_IDLE_AFTER_MS
  }

  streamOperation(operation: StreamOperation, status: number): void {
    this.#streamOperations.inc({ operation, status: String(status) })
  }

  rejected(reason: RejectReason): void {
    this.#rejected.inc({ reason })
  }

  storeCommit(seconds: number): void {
    this.#commit.observe(seconds)
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    this.#asked()
    return this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }
}

/**
 * A histogram without labels kept in a plain array and written out by prom-client's registry when scraped. It is
 * observed once per read of every stream: prom-client's own `observe` (~125 ns: it hashes the empty label set and
 * updates an object per bucket) cost the fan-out benchmark about a tenth of its throughput (0.53–0.58× the baseline
 * with it, 0.66× without, in the same session); finding the bucket in a small array costs a few nanoseconds.
 */
class PlainHistogram {
  readonly #counts: Float64Array
  #sum = 0
  #count = 0

  /** @param bounds the buckets' upper bounds, ascending; `+Inf` is implied. */
  constructor(private readonly bounds: readonly number[]) {
    this.#counts = new Float64Array(bounds.length)
  }

  observe(value: number): void {
    this.#sum += value
    this.#count++
    for (let i = 0; i < this.bounds.length; i++) {
      if (value <= this.bounds[i]!) {
        this.#counts[i]!++
        return
      }
    }
  }

  /**
   * What a prom-client Registry reads from a metric (`name`, `help`, `type`, `get()`; `reset()` for
   * `registry.resetMetrics()`): the same shape its own Histogram's `get()` gives, cumulative buckets then sum and count.
   */
  metric(name: string, help: string): Metric {
    const get = async () => {
      let cumulative = 0
      const buckets = this.bounds.map((le, i) => {
        cumulative += this.#counts[i]!
        return { metricName: `${name}_bucket`, labels: { le }, value: cumulative }
      })
      return {
        name,
        help,
        type: 'histogram',
        aggregator: 'sum',
        values: [
          ...buckets,
          { metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: this.#count },
          { metricName: `${name}_sum`, labels: {}, value: this.#sum },
          { metricName: `${name}_count`, labels: {}, value: this.#count },
        ],
      }
    }
    const reset = () => {
      this.#counts.fill(0)
      this.#sum = 0
      this.#count = 0
    }
    // The registry accepts any object of this shape; its type names only prom-client's own classes.
    return { name, help, type: 'histogram', get, reset } as unknown as Metric
  }
}

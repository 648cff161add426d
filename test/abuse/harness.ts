import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.ts'

/**
 * What every abuse property shares: a stepstream process on a real port (`bun src/main.ts`, as deployed), a probe of
 * its `/healthz` from a process of its own, and the checks made after each batch of hostile requests — the process
 * is alive, `/healthz` answered every probe within HEALTH_MS, its RSS is under RSS_BOUND_BYTES, no answer was a 5xx,
 * every 4xx says what went wrong in a sentence.
 *
 * Seeds and sizes come from the environment so a failure can be replayed: FUZZ_SEED (printed at the start of each
 * file and in every failure), FUZZ_RUNS (batches per property; the bounded defaults keep `bun test` under a minute),
 * FUZZ_SECONDS (a time budget per property instead: `bun run fuzz`).
 */

export const ROOT = join(import.meta.dir, '../..')

/** The longest a `/healthz` probe may take while the abuse runs; milliseconds (issue 20). */
export const HEALTH_MS = Number(process.env.FUZZ_HEALTH_MS ?? 250)

/**
 * The most resident memory the server may hold at the end of a batch; bytes. An idle server holds ~90 MiB and every
 * body it reads is capped at 1 MiB, so 512 MiB leaves room for a few hundred requests in flight, not for a body
 * that grows with what is sent (finding 2 grew RSS by 440 MiB with one request).
 */
export const RSS_BOUND_BYTES = Number(process.env.FUZZ_RSS_MIB ?? 512) * 1024 * 1024

const seedFromEnv = process.env.FUZZ_SEED
/** The seed of every property in this process. */
export const SEED = seedFromEnv === undefined ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : Number(seedFromEnv)
const FUZZ_SECONDS = process.env.FUZZ_SECONDS === undefined ? undefined : Number(process.env.FUZZ_SECONDS)

/** Announces the seed once per file, so that a red run in CI can be replayed with FUZZ_SEED. */
export function announceSeed(file: string): void {
  process.stderr.write(`abuse ${file}: FUZZ_SEED=${SEED}${FUZZ_SECONDS ? ` FUZZ_SECONDS=${FUZZ_SECONDS}` : ''}\n`)
}

/**
 * fast-check's parameters for a property of `runs` batches by default: FUZZ_RUNS overrides the count, FUZZ_SECONDS
 * makes it run until that budget is spent (at most 1,000,000 batches). No shrinking in the bounded run (each try
 * costs real requests): the failing batch is reported as it was, with the seed and the path to replay it.
 */
export function fcParams(runs: number) {
  const numRuns = FUZZ_SECONDS ? 1_000_000 : Number(process.env.FUZZ_RUNS ?? runs)
  return {
    seed: SEED,
    numRuns,
    endOnFailure: process.env.FUZZ_SHRINK !== '1',
    ...(FUZZ_SECONDS ? { interruptAfterTimeLimit: FUZZ_SECONDS * 1000, markInterruptAsFailure: false } : {}),
  }
}

/** The per-test timeout a property of `runs` batches needs: generous, since the machine may be shared. */
export const propertyTimeout = (ms: number) => (FUZZ_SECONDS ? FUZZ_SECONDS * 1000 + 60_000 : ms)

/** The resident set of process `pid`, from /proc; bytes (0 where /proc is not there). */
export function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : 0
  } catch {
    return 0
  }
}

interface Probe {
  kind: string
  start: number
  end: number
  status: number
}

/** The probes of `/healthz` a child process makes (health-probe.ts), read between batches. */
class HealthProbe {
  readonly #proc: Bun.Subprocess<'ignore', 'pipe', 'ignore'>
  #lines: Probe[] = []
  #waiters: (() => void)[] = []

  constructor(base: string) {
    this.#proc = Bun.spawn([process.execPath, join(import.meta.dir, 'health-probe.ts'), base, '40'], {
      stdout: 'pipe',
      stderr: 'ignore',
      stdin: 'ignore',
    })
    const stdout = this.#proc.stdout
    void (async () => {
      let pending = ''
      const decoder = new TextDecoder()
      const reader = stdout.getReader()
      for (let next = await reader.read(); !next.done; next = await reader.read()) {
        pending += decoder.decode(next.value, { stream: true })
        const lines = pending.split('\n')
        pending = lines.pop()!
        for (const line of lines) {
          const [kind, start, end, status] = line.split(' ')
          this.#lines.push({ kind: kind!, start: Number(start), end: Number(end), status: Number(status) })
        }
        for (const wake of this.#waiters.splice(0)) wake()
      }
    })()
  }

  #serverProbes(): number {
    return this.#lines.filter((p) => p.kind === 'server').length
  }

  /**
   * The probes of stepstream since the last call that were late by its fault (over `limitMs`, or failed, while a
   * control probe made within the same time answered in under half of it), once two probes started after this call
   * have answered (so a stall that began during the batch is caught by the probe stuck in it); waits at most 7 s.
   * Late probes the control cannot vouch for (the whole machine was slow) are counted apart.
   */
  async settle(limitMs: number): Promise<{ late: Probe[]; unjudged: number; total: number }> {
    const seen = this.#serverProbes()
    const deadline = Date.now() + 7000
    while (this.#serverProbes() < seen + 2 && Date.now() < deadline) {
      await Promise.race([new Promise<void>((wake) => this.#waiters.push(wake)), Bun.sleep(100)])
    }
    const probes = this.#lines.splice(0)
    const server = probes.filter((p) => p.kind === 'server')
    const controls = probes.filter((p) => p.kind === 'control')
    const slow = server.filter((p) => p.status !== 200 || p.end - p.start > limitMs)
    if (server.length < seen + 2) slow.push({ kind: 'server', start: 0, end: 7000, status: 0 })
    const vouched = (p: Probe) =>
      p.start === 0 || controls.some((c) => c.status === 200 && c.start >= p.start && c.end <= p.end && c.end - c.start <= limitMs / 2)
    const late = slow.filter(vouched)
    return { late, unjudged: slow.length - late.length, total: server.length }
  }

  stop(): void {
    this.#proc.kill()
  }
}

export interface AbuseServerOptions {
  /** Flags after `--port 0 --host 127.0.0.1`. */
  args: string[]
  env?: Record<string, string>
}

/**
 * A stepstream process under abuse. `check()` after each batch throws a sentence listing every broken promise; a
 * process that died is started again (so the next property can run) and the batch fails.
 */
export class AbuseServer {
  server!: SpawnedServer
  #probe!: HealthProbe
  /** Problems with single answers, noted by `note` during the batch. */
  #problems: string[] = []
  #logFrom = 0

  private constructor(private readonly options: AbuseServerOptions) {}

  static async start(options: AbuseServerOptions): Promise<AbuseServer> {
    const abused = new AbuseServer(options)
    await abused.#spawn()
    return abused
  }

  get base(): string {
    return this.server.base
  }

  get pid(): number {
    return this.server.proc.pid
  }

  async #spawn(): Promise<void> {
    this.server = await spawnServer([process.execPath, 'src/main.ts'], { cwd: ROOT, args: this.options.args, env: this.options.env })
    this.#probe = new HealthProbe(this.server.base)
    this.#logFrom = 0
  }

  /** Records what was wrong with one answer; `check()` reports it. */
  note(problem: string): void {
    this.#problems.push(problem)
  }

  /** The server's log lines since the last check that are errors (an unhandled error's stack among them). */
  errorLog(): string[] {
    const log = this.server.log()
    const lines = log.slice(this.#logFrom).split('\n')
    return lines.filter((line) => /"level":"(error|fatal)"|^\s+at |TypeError|RangeError|panic/.test(line)).slice(0, 20)
  }

  /**
   * Runs what is not abuse (a warm-up: the first run of a step loads its packages) and forgets how the probes fared
   * meanwhile; what it threw is thrown.
   */
  async unjudged(work: () => Promise<void>): Promise<void> {
    await work()
    await this.#probe.settle(HEALTH_MS)
    this.#problems = []
    this.#logFrom = this.server.log().length
  }

  /**
   * Runs one batch of abuse, then `check`s: what the batch threw (a refused connection, say) is one more problem, and
   * a dead server is started again, so that the next batch and the next property run.
   */
  async batch(name: string, abuse: () => Promise<void>): Promise<void> {
    try {
      await abuse()
    } catch (error) {
      this.note(`the batch threw: ${error instanceof Error ? error.message : String(error)}`)
    }
    await this.check(name)
  }

  /** After a batch: alive, healthy within HEALTH_MS, RSS under the bound, and no answer noted as wrong. */
  async check(batch: string): Promise<void> {
    const problems = this.#problems.splice(0)
    const { late, unjudged, total } = await this.#probe.settle(HEALTH_MS)
    if (late.length > 0) {
      problems.push(
        `/healthz answered ${late.length} of ${total} probes late or not at all (limit ${HEALTH_MS} ms): ${late
          .slice(0, 5)
          .map((p) =>
            p.status === 200 ? `${(p.end - p.start).toFixed(0)} ms` : `status ${p.status} after ${(p.end - p.start).toFixed(0)} ms`,
          )
          .join(', ')}`,
      )
    }
    if (unjudged > 0)
      process.stderr.write(`abuse: ${unjudged} slow /healthz probes not judged after batch ${batch}: the machine itself was slow\n`)
    const exit = this.server.proc.exitCode
    if (exit !== null || this.server.proc.killed) {
      problems.push(`the server died (exit code ${exit}); its last log lines:\n${this.server.log().slice(-3000)}`)
      this.#probe.stop()
      await this.#spawn()
    } else {
      const rss = rssOf(this.pid)
      if (rss > RSS_BOUND_BYTES) {
        problems.push(`the server's RSS is ${(rss / 2 ** 20).toFixed(0)} MiB, over the bound of ${RSS_BOUND_BYTES / 2 ** 20} MiB`)
      }
    }
    const errors = this.errorLog()
    this.#logFrom = this.server.log().length
    if (problems.length > 0) {
      const log = errors.length ? `\nserver error log:\n${errors.join('\n').slice(0, 4000)}` : ''
      throw new Error(`after batch ${batch} (FUZZ_SEED=${SEED}):\n- ${problems.join('\n- ')}${log}`)
    }
  }

  async stop(): Promise<void> {
    this.#probe.stop()
    await this.server.stop()
  }
}

/** Three words or more and some punctuation, without a stack trace: what a person can read and act on. */
export function isSentence(text: unknown): boolean {
  if (typeof text !== 'string') return false
  const words = text.match(/\p{L}{2,}/gu) ?? []
  return words.length >= 3 && /[.!?:]/.test(text) && !/\n\s+at\s|^\w*Error:/m.test(text)
}

/** The sentence a 4xx body carries, by its content type: JSON's `error.message` (or `error`, `message`), HTML's text. */
export function sentenceOf(contentType: string, body: string): string | undefined {
  if (/json/.test(contentType)) {
    try {
      const parsed = JSON.parse(body) as { error?: unknown; message?: unknown }
      const error = parsed.error as { message?: unknown } | string | undefined
      const text = typeof error === 'string' ? error : (error?.message ?? parsed.message)
      return typeof text === 'string' ? text : undefined
    } catch {
      return undefined
    }
  }
  // The page's sentence: the longest text between two tags.
  return body
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '\u0001')
    .split(/<[^>]*>/)
    .map((part) => part.replace(/&[a-z#0-9]+;/gi, '"').trim())
    .sort((a, b) => b.length - a.length)[0]
}

export interface Answer {
  status: number
  contentType: string
  body: string
  /** Answered by the app (it sets X-Request-Id) rather than by Bun's HTTP parser before the app saw the request. */
  fromApp: boolean
  /** The Location header of a redirect. */
  location?: string | null
}

/**
 * True for a Location a browser may take off-site: anything but a path of this origin, judged as the issue asks —
 * no `//`, `/\\`, whitespace or control character (raw or percent-encoded) right after the first `/`, and no raw
 * control character anywhere.
 */
export function leavesOrigin(location: string): boolean {
  if (!location.startsWith('/')) return true
  // Only escaped whitespace and control characters are decoded: a browser keeps `%2F` a literal in a path.
  const decoded = location.replace(/%(0[0-9a-f]|1[0-9a-f]|20|7f)/gi, (code) => String.fromCharCode(Number.parseInt(code.slice(1), 16)))
  const control = (c: string | undefined) => c !== undefined && (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)
  // A browser drops a tab or newline anywhere in a URL, and reads `/\\` as `//`: a second slash after them leaves.
  return /^\/[/\\\s]/.test(decoded) || control(decoded[1]) || [...location].some(control)
}

/**
 * What is wrong with `answer` to `what`, if anything: a 5xx, or a 4xx without a sentence. Bun's own refusals of
 * malformed HTTP (before the app sees the request) are exempt from the sentence: the app cannot word them.
 */
export function answerProblem(what: string, answer: Answer, method: string): string | undefined {
  if (answer.status >= 500) {
    // A full store is a refusal the issue asks for (a budget in bytes), with its own code and sentence.
    if (answer.status === 503 && /"STORE_FULL"/.test(answer.body)) return undefined
    return `${what} answered ${answer.status}: ${answer.body.slice(0, 300)}`
  }
  if (answer.status >= 300 && answer.status < 400 && answer.location != null && leavesOrigin(answer.location)) {
    return `${what} redirected off this origin: Location ${JSON.stringify(answer.location)}`
  }
  if (answer.status >= 400 && answer.fromApp && method !== 'HEAD') {
    const sentence = sentenceOf(answer.contentType, answer.body)
    if (!isSentence(sentence)) {
      return `${what} answered ${answer.status} without a sentence (${answer.contentType || 'no content type'}): ${JSON.stringify(answer.body.slice(0, 300))}`
    }
  }
  return undefined
}

/**
 * A publisher session of its own on `base`, with an open run: its id, publisher token and run id, the run's
 * `Authorization` header and its events path. `headers` go with the session's creation (the server's token, with auth on).
 */
export async function openPublisherRun(base: string, headers: Record<string, string> = {}) {
  const created = await fetch(`${base}/api/sessions`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: '{"publisher":true}',
  })
  const made = (await created.json()) as { id: string; publisher_token: string }
  const auth = { authorization: `Bearer ${made.publisher_token}` }
  const opened = await fetch(`${base}/api/sessions/${made.id}/runs`, { method: 'POST', headers: auth })
  const { run_id } = (await opened.json()) as { run_id: string }
  return { id: made.id, token: made.publisher_token, run: run_id, auth, path: `/api/sessions/${made.id}/runs/${run_id}/events` }
}

import { parseArgs } from 'node:util'
import type { BucketRate } from './http/token-bucket.ts'
import {
  CLOSING_RESERVE_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_SESSION_BYTES,
  DEFAULT_MAX_STORE_BYTES,
  MAX_BODY_BYTES,
} from './limits.ts'
import { LOG_LEVELS, type LogLevel } from './log.ts'
import { SYSTEM_PROMPT } from './steps/conversation.ts'
import { parseDuration } from './store/retention-policy.ts'

/** Where events are kept: an embedded SQLite file (the default), process memory, or a Redis shared by instances. */
export type StoreSpec = { kind: 'sqlite'; path: string } | { kind: 'memory' } | { kind: 'redis'; url: string }

export interface Config {
  /** TCP port; defaults to 8080. */
  port: number
  /** Interface to listen on; defaults to 0.0.0.0 (every interface). */
  host: string
  store: StoreSpec
  /** The step of new sessions, by its registered name (`echo`); main checks that it exists. */
  step: string
  /** How long a cancelled step may take to return before the runner closes its run; milliseconds, default 2000. */
  cancelGraceMs: number
  /** A publishing program silent this long has its run closed with an error; milliseconds, default 60,000. */
  publishTimeoutMs: number
  /** `--store memory` only: sessions held at once; default 10,000. */
  maxSessions: number
  /** `--store memory` only: events held across all sessions; default 1,000,000. */
  maxEvents: number
  /**
   * Bytes one chat's events may take (every store); default 64 MiB. Past it: 413 SESSION_FULL. SQLite and Redis count
   * each event's JSON as stored; the memory store, which holds events parsed, what one costs to hold: its JSON plus
   * MEMORY_VALUE_BYTES a value and MEMORY_CELL_BYTES an object, array or string (limits.ts, memory-store.ts heldBytes).
   */
  maxSessionBytes: number
  /**
   * `--store memory` only: bytes all chats' events may take together, counted as held (JSON plus what each parsed
   * value costs: see maxSessionBytes); default 256 MiB. Past it: 503 STORE_FULL.
   */
  maxStoreBytes: number
  /** Pause between two characters of the echo step; milliseconds, default 50. */
  echoDelayMs: number
  /** A quiet stream gets a comment this often; milliseconds, default 15,000. */
  heartbeatMs: number
  /** Sessions idle longer than this are deleted with their events; milliseconds, default 30 days. */
  retentionMs: number
  /** Events kept per session, the oldest deleted first; default 100,000. */
  maxEventsPerSession: number
  /** `--store redis://…` only: how long a run's lease lasts unrenewed; milliseconds, default 10,000. */
  runLeaseMs: number
  /** Processes serving one port (`--workers`, redis store only); default 1: this process serves alone. */
  workers: number
  logLevel: LogLevel
  /** The longest message accepted; bytes of UTF-8, default 32 KiB (`--max-message-bytes`). */
  maxMessageBytes: number
  /** SSE connections open at once in all; default 10,000. */
  maxConnections: number
  /** SSE connections open at once from one client address; default 100. */
  maxConnectionsPerIp: number
  /** The token bucket per client address on new chats, messages and sign-ins; undefined when `--rate-limit off`. */
  rateLimit: BucketRate | undefined
  /** Take the client's address from `X-Forwarded-For` (set only behind a reverse proxy that writes it). */
  trustProxy: boolean
  /** Bearer tokens that open every route but /healthz (`--auth-token`); empty: no auth unless a token file is given. */
  authTokens: string[]
  /** A file of tokens, one a line (`#` comments), read at start; undefined when not given. */
  authTokenFile: string | undefined
  /** How long a browser sign-in lasts before /login asks again; milliseconds, default 7 days (`--login-ttl`). */
  loginTtlMs: number
  openai: OpenAiConfig
  agui: AguiConfig
}

/** How the `agui` step reaches its AG-UI agent. */
export interface AguiConfig {
  /** The agent's AG-UI endpoint (it takes a POSTed RunAgentInput and answers SSE); required for the agui step. */
  url?: string
  /** Sent with every request (`--agui-header "Name: value"`, repeated), e.g. the agent's auth; never logged. */
  headers: Record<string, string>
  /** A request that sends no byte for this long ends the run with an error; milliseconds, default 120,000. */
  requestTimeoutMs: number
}

/** How the `openai` step reaches its model server. */
export interface OpenAiConfig {
  /** The server's OpenAI-compatible base URL, up to `/v1`; default https://api.openai.com/v1. */
  baseUrl: string
  /** Sent as `Authorization: Bearer`; never logged. Optional for a server on this machine or a private network. */
  apiKey?: string
  /** The model every request names; required for the openai step. */
  model?: string
  /** The system message every conversation starts with; default the original tutorial's. */
  systemPrompt: string
  /** Rounds of tool calls a run may make before it ends with an error; default 8. */
  maxToolRounds: number
  /** A request that sends no byte for this long ends the run with an error; milliseconds, default 120,000. */
  requestTimeoutMs: number
}

export type ParsedConfig = { kind: 'run'; config: Config } | { kind: 'help' } | { kind: 'version' } | { kind: 'error'; message: string }

interface FlagSpec {
  env: string[]
  help: string
  /** A switch that takes no value (`--trust-proxy`); its env twin is true for `1`, `true` or `yes`. */
  boolean?: true
  /** A flag that may be given several times (`--agui-header`); its env twin holds one value a line. */
  multiple?: true
}

/** Every flag, its environment twins and its help line; `--help` prints this table. */
export const FLAGS: Record<string, FlagSpec> = {
  port: { env: ['STEPSTREAM_PORT', 'PORT'], help: 'TCP port to listen on (default 8080)' },
  host: { env: ['STEPSTREAM_HOST'], help: 'interface to listen on (default 0.0.0.0)' },
  store: {
    env: ['STEPSTREAM_STORE'],
    help: 'sqlite:<path> (default sqlite:./stepstream.db), memory, or redis://[user:pass@]host:port[/db] (rediss:// for TLS)',
  },
  workers: {
    env: ['STEPSTREAM_WORKERS'],
    help: 'redis store: run this many processes on one port, e.g. one per core (default 1)',
  },
  'run-lease': {
    env: ['STEPSTREAM_RUN_LEASE'],
    help: "redis store: milliseconds a run holds its chat unrenewed; a dead server's run is closed after it (default 10000)",
  },
  step: { env: ['STEPSTREAM_STEP'], help: 'the step of new chats: echo (default), openai or agui' },
  'cancel-grace': {
    env: ['STEPSTREAM_CANCEL_GRACE'],
    help: 'milliseconds a cancelled step has to stop before its run is closed without it (default 2000)',
  },
  'echo-delay': { env: ['STEPSTREAM_ECHO_DELAY'], help: 'milliseconds between two echoed characters (default 50)' },
  heartbeat: { env: ['STEPSTREAM_HEARTBEAT'], help: 'milliseconds of quiet before a stream gets a keep-alive comment (default 15000)' },
  retention: { env: ['STEPSTREAM_RETENTION'], help: 'delete sessions idle longer than this, e.g. 30d (default), 12h, 90m' },
  'max-events-per-session': {
    env: ['STEPSTREAM_MAX_EVENTS_PER_SESSION'],
    help: 'events kept per session, oldest deleted first (default 100000)',
  },
  'publish-timeout': {
    env: ['STEPSTREAM_PUBLISH_TIMEOUT'],
    help: 'milliseconds a publishing program may stay silent before its run is closed with an error (default 60000)',
  },
  'max-sessions': { env: ['STEPSTREAM_MAX_SESSIONS'], help: 'memory store: chats held at once (default 10000)' },
  'max-events': { env: ['STEPSTREAM_MAX_EVENTS'], help: 'memory store: events held across all chats (default 1000000)' },
  'max-session-bytes': {
    env: ['STEPSTREAM_MAX_SESSION_BYTES'],
    help: `bytes one chat's events may take, as stored (default ${DEFAULT_MAX_SESSION_BYTES}); past it the chat takes no new message`,
  },
  'max-store-bytes': {
    env: ['STEPSTREAM_MAX_STORE_BYTES'],
    help: `memory store: bytes all chats' events may take together (default ${DEFAULT_MAX_STORE_BYTES})`,
  },
  'log-level': { env: ['STEPSTREAM_LOG_LEVEL'], help: `one of ${LOG_LEVELS.join(', ')} (default info)` },
  'openai-base-url': {
    env: ['STEPSTREAM_OPENAI_BASE_URL', 'OPENAI_BASE_URL'],
    help: 'openai step: the OpenAI-compatible API, up to /v1 (default https://api.openai.com/v1)',
  },
  'openai-api-key': {
    env: ['STEPSTREAM_OPENAI_API_KEY', 'OPENAI_API_KEY'],
    help: 'openai step: the API key (not needed for a server on localhost or a private network)',
  },
  model: { env: ['STEPSTREAM_MODEL'], help: 'openai step: the model to ask, e.g. gpt-4o-mini or llama3.2 (required)' },
  'system-prompt': { env: ['STEPSTREAM_SYSTEM_PROMPT'], help: `openai step: the system message (default "${SYSTEM_PROMPT}")` },
  'max-tool-rounds': {
    env: ['STEPSTREAM_MAX_TOOL_ROUNDS'],
    help: 'openai step: rounds of tool calls before a run gives up (default 8)',
  },
  'request-timeout': {
    env: ['STEPSTREAM_REQUEST_TIMEOUT'],
    help: 'openai and agui steps: milliseconds without a byte from the model server or agent before the run fails (default 120000)',
  },
  'agui-url': {
    env: ['STEPSTREAM_AGUI_URL'],
    help: 'agui step: the AG-UI endpoint of an agent, e.g. http://localhost:8000/agent (required)',
  },
  'agui-header': {
    env: ['STEPSTREAM_AGUI_HEADER'],
    help: 'agui step: a header sent to the agent, "Name: value" (repeat the flag for several; one a line in the env)',
    multiple: true,
  },
  'max-message-bytes': {
    env: ['STEPSTREAM_MAX_MESSAGE_BYTES'],
    help: `longest message accepted, bytes of UTF-8 (default ${DEFAULT_MAX_MESSAGE_BYTES}); longer gets 413`,
  },
  'max-connections': { env: ['STEPSTREAM_MAX_CONNECTIONS'], help: 'SSE streams open at once in all (default 10000); past it 429' },
  'max-connections-per-ip': {
    env: ['STEPSTREAM_MAX_CONNECTIONS_PER_IP'],
    help: 'SSE streams open at once from one client address (default 100); past it 429',
  },
  'rate-limit': {
    env: ['STEPSTREAM_RATE_LIMIT'],
    help: 'new chats, messages and sign-ins per client address: <n>/<s|m|h>[,<burst>] (default 30/m: a burst of 30, then 30 a minute) or off',
  },
  'trust-proxy': {
    env: ['STEPSTREAM_TRUST_PROXY'],
    help: 'take the client address from X-Forwarded-For (only behind a proxy that sets it)',
    boolean: true,
  },
  'auth-token': { env: ['STEPSTREAM_AUTH_TOKEN'], help: 'require this bearer token (or the sign-in cookie) on every route but /healthz' },
  'auth-token-file': { env: ['STEPSTREAM_AUTH_TOKEN_FILE'], help: 'like --auth-token, with the tokens read from a file, one a line' },
  'login-ttl': {
    env: ['STEPSTREAM_LOGIN_TTL'],
    help: 'how long a browser stays signed in, e.g. 7d (default), 12h or 90m; /logout ends it sooner',
  },
}

export function helpText(version: string): string {
  const lines = Object.entries(FLAGS).map(
    ([name, spec]) => `  --${name.padEnd(24)} ${spec.help}\n  ${''.padEnd(26)} env: ${spec.env.join(', ')}`,
  )
  return `stepstream ${version}: stream the events of running steps to browsers as HTML over Server-Sent Events.

Usage: stepstream [flags]   (a flag beats its environment variable)

${lines.join('\n')}
  --help                     print this and exit
  --version                  print the version and exit
`
}

class ConfigError extends Error {}

/** The smallest byte budget accepted: a budget must hold more than the reserve kept for closing events. */
const MIN_BUDGET_BYTES = 2 * CLOSING_RESERVE_BYTES

/** Shortest token accepted: a guessable token would make auth decorative; characters. */
export const MIN_TOKEN_CHARS = 16

/** The tokens of `--auth-token` (one, or several separated by commas) or of a token file's lines. */
export function authTokens(raw: string): string[] {
  const tokens = raw
    .split(/[,\n]/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  for (const token of tokens) {
    if (token.length < MIN_TOKEN_CHARS || /[^\x21-\x7e]/.test(token)) {
      throw new ConfigError(
        `an auth token must be at least ${MIN_TOKEN_CHARS} printable ASCII characters without spaces (try: openssl rand -hex 32)`,
      )
    }
  }
  return tokens
}

function integer(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw)
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new ConfigError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  }
  return value
}

function duration(name: string, raw: string): number {
  const ms = parseDuration(raw)
  if (!ms) throw new ConfigError(`--${name} must be a duration like 30d, 12h or 90m, got ${JSON.stringify(raw)}`)
  return ms
}

/** Browsers keep a cookie 400 days at most (RFC 6265bis): a longer sign-in would outlive its cookie. */
const MAX_LOGIN_TTL_MS = 400 * 24 * 3600 * 1000

function loginTtl(raw: string): number {
  const ms = duration('login-ttl', raw)
  if (ms > MAX_LOGIN_TTL_MS)
    throw new ConfigError(`--login-ttl must be at most 400d (browsers keep a cookie no longer), got ${JSON.stringify(raw)}`)
  return ms
}

/** @param example a URL the flag could take, for the sentence. */
function httpUrl(name: string, raw: string, example: string): string {
  const parsed = URL.canParse(raw) ? new URL(raw) : undefined
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
    throw new ConfigError(`--${name} must be an http:// or https:// URL such as ${example}, got ${JSON.stringify(raw)}`)
  }
  return raw.replace(/\/+$/, '')
}

/** `--agui-header "Name: value"` values as headers; a value without a name, or a name that is not a token, is refused. */
export function headerList(raw: readonly string[]): Record<string, string> {
  const headers: [string, string][] = []
  for (const line of raw) {
    const match = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/.exec(line)
    if (!match || /[\r\n\0]/.test(match[2]!)) {
      // Never the value: it is usually a credential.
      throw new ConfigError('--agui-header must be "Name: value", e.g. "Authorization: Bearer …"; one of them is not')
    }
    headers.push([match[1]!, match[2]!])
  }
  // Own properties, whatever the name (a header called __proto__ included): never an assignment to an object's key.
  return Object.fromEntries(headers)
}

const UNIT_MS = new Map([
  ['s', 1000],
  ['m', 60_000],
  ['h', 3_600_000],
])

/** `30/m` (a burst of 30, refilled at 30 a minute), `120/h,10` (a burst of 10, 120 an hour), or `off`. */
export function rateLimitSpec(raw: string): BucketRate | undefined {
  if (raw === 'off') return undefined
  const match = /^(\d{1,7})\/([smh])(?:,(\d{1,7}))?$/.exec(raw.trim())
  const rate = Number(match?.[1])
  const burst = match?.[3] === undefined ? rate : Number(match[3])
  if (!match || rate < 1 || burst < 1) {
    throw new ConfigError(`--rate-limit must be like 30/m, 120/h,10 or off, got ${JSON.stringify(raw)}`)
  }
  return { capacity: burst, perMs: UNIT_MS.get(match[2]!)! / rate }
}

function storeSpec(raw: string): StoreSpec {
  if (raw === 'memory') return { kind: 'memory' }
  if (/^rediss?:\/\//.test(raw)) {
    const url = URL.canParse(raw) ? new URL(raw) : undefined
    if (!url?.hostname || !/^(\/\d{0,2})?$/.test(url.pathname)) {
      throw new ConfigError(`--store must be redis://[user:pass@]host:port[/db], got ${JSON.stringify(redacted(raw))}`)
    }
    return { kind: 'redis', url: raw }
  }
  if (raw.startsWith('sqlite:') && raw.length > 'sqlite:'.length) return { kind: 'sqlite', path: raw.slice('sqlite:'.length) }
  throw new ConfigError(`--store must be sqlite:<path>, memory or redis://host:port, got ${JSON.stringify(redacted(raw))}`)
}

/** A store URL without its password, for messages and logs. */
export function redacted(raw: string): string {
  return raw.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/, '$1***@')
}

/** Reads flags, then environment twins, then defaults. Pure: the caller prints and exits. */
export function parseConfig(argv: string[], env: Record<string, string | undefined>): ParsedConfig {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(
          Object.entries(FLAGS).map(([name, spec]) => [
            name,
            { type: spec.boolean ? ('boolean' as const) : ('string' as const), ...(spec.multiple && { multiple: true }) },
          ]),
        ),
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    })
    if (values.help) return { kind: 'help' }
    if (values.version) return { kind: 'version' }
    // object-key-ok: parseArgs' values, FLAGS and the environment, each read by this server's own flag and variable names.
    const get = (name: string, fallback: string): string => {
      const flag = (values as Record<string, string | boolean | undefined>)[name]
      if (typeof flag === 'string') return flag
      for (const key of FLAGS[name]!.env) if (env[key] !== undefined && env[key] !== '') return env[key]!
      return fallback
    }
    // object-key-ok: as get.
    const all = (name: string): string[] => {
      const flag = (values as Record<string, unknown>)[name]
      if (Array.isArray(flag)) return flag as string[]
      for (const key of FLAGS[name]!.env) if (env[key]) return env[key]!.split(/\r?\n/).filter((line) => line.trim() !== '')
      return []
    }
    // object-key-ok: as get.
    const on = (name: string): boolean => {
      if ((values as Record<string, unknown>)[name] === true) return true
      return FLAGS[name]!.env.some((key) => /^(1|true|yes)$/i.test(env[key] ?? ''))
    }
    const step = get('step', 'echo')
    const logLevel = get('log-level', 'info')
    if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
      throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`)
    }
    const config: Config = {
      port: integer('port', get('port', '8080'), 0, 65535),
      host: get('host', '0.0.0.0'),
      store: storeSpec(get('store', 'sqlite:./stepstream.db')),
      step,
      cancelGraceMs: integer('cancel-grace', get('cancel-grace', '2000'), 0, 600_000),
      publishTimeoutMs: integer('publish-timeout', get('publish-timeout', '60000'), 100, 86_400_000),
      maxSessions: integer('max-sessions', get('max-sessions', '10000'), 1, 100_000_000),
      maxEvents: integer('max-events', get('max-events', '1000000'), 1, 1_000_000_000),
      maxSessionBytes: integer('max-session-bytes', get('max-session-bytes', String(DEFAULT_MAX_SESSION_BYTES)), MIN_BUDGET_BYTES, 2 ** 50),
      maxStoreBytes: integer('max-store-bytes', get('max-store-bytes', String(DEFAULT_MAX_STORE_BYTES)), MIN_BUDGET_BYTES, 2 ** 50),
      echoDelayMs: integer('echo-delay', get('echo-delay', '50'), 0, 60_000),
      heartbeatMs: integer('heartbeat', get('heartbeat', '15000'), 100, 3_600_000),
      retentionMs: duration('retention', get('retention', '30d')),
      maxEventsPerSession: integer('max-events-per-session', get('max-events-per-session', '100000'), 1, 1_000_000_000),
      runLeaseMs: integer('run-lease', get('run-lease', '10000'), 300, 3_600_000),
      workers: integer('workers', get('workers', '1'), 1, 1024),
      logLevel: logLevel as LogLevel,
      openai: {
        baseUrl: httpUrl('openai-base-url', get('openai-base-url', 'https://api.openai.com/v1'), 'http://localhost:11434/v1'),
        apiKey: get('openai-api-key', '') || undefined,
        model: get('model', '') || undefined,
        systemPrompt: get('system-prompt', SYSTEM_PROMPT),
        maxToolRounds: integer('max-tool-rounds', get('max-tool-rounds', '8'), 0, 100),
        requestTimeoutMs: integer('request-timeout', get('request-timeout', '120000'), 100, 3_600_000),
      },
      agui: {
        url: get('agui-url', '') ? httpUrl('agui-url', get('agui-url', ''), 'http://localhost:8000/agent') : undefined,
        headers: headerList(all('agui-header')),
        requestTimeoutMs: integer('request-timeout', get('request-timeout', '120000'), 100, 3_600_000),
      },
      maxMessageBytes: integer('max-message-bytes', get('max-message-bytes', String(DEFAULT_MAX_MESSAGE_BYTES)), 1, MAX_BODY_BYTES / 2),
      maxConnections: integer('max-connections', get('max-connections', '10000'), 1, 10_000_000),
      maxConnectionsPerIp: integer('max-connections-per-ip', get('max-connections-per-ip', '100'), 1, 10_000_000),
      rateLimit: rateLimitSpec(get('rate-limit', '30/m')),
      trustProxy: on('trust-proxy'),
      authTokens: authTokens(get('auth-token', '')),
      authTokenFile: get('auth-token-file', '') || undefined,
      loginTtlMs: loginTtl(get('login-ttl', '7d')),
    }
    if (config.workers > 1 && config.store.kind !== 'redis') {
      throw new ConfigError('--workers above 1 needs --store redis://…: processes share their chats only through Redis')
    }
    if (config.workers > 1 && config.port === 0) throw new ConfigError('--workers above 1 needs a fixed --port for its processes to share')
    return { kind: 'run', config }
  } catch (error) {
    // parseArgs explains unknown flags and missing values in its own words; keep them on one line.
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error)
    return { kind: 'error', message: `${message} (see --help)` }
  }
}

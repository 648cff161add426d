import type { ListenOptions, ServerOptions } from './create-server.ts'
import {
  DEFAULT_CANCEL_GRACE_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_HOST,
  DEFAULT_LONG_POLL_MS,
  DEFAULT_LOG_LEVEL,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_IP,
  DEFAULT_MAX_EVENTS,
  DEFAULT_MAX_EVENTS_PER_SESSION,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_MAX_SESSION_BYTES,
  DEFAULT_MAX_SESSIONS,
  DEFAULT_MAX_STORE_BYTES,
  DEFAULT_PORT,
  DEFAULT_RATE_LIMIT,
  DEFAULT_RETENTION_MS,
  DEFAULT_RUN_LEASE_MS,
  DEFAULT_SIGN_IN_TTL_MS,
  DEFAULT_SQLITE_PATH,
  DEFAULT_STEP,
  DEFAULT_WORKERS,
} from './defaults.ts'
import { authTokens, ConfigError, type ConfigPart, flagLines, type Flags, type FlagReader, integer, readFlags } from './flags.ts'
import type { BucketRate } from './http/token-bucket.ts'
import { CLOSING_RESERVE_BYTES, MAX_BODY_BYTES } from './limits.ts'
import { LOG_LEVELS, type LogLevel } from './log.ts'
import { type AguiConfig, aguiConfig } from './steps/agui-config.ts'
import { type EchoConfig, echoConfig } from './steps/echo-config.ts'
import { type OpenAiConfig, openAiConfig } from './steps/openai-config.ts'
import { publishConfig } from './publish/publish-config.ts'
import { parseDuration } from './log/retention-policy.ts'
import { type StoreSpec, storeSpec } from './store-spec.ts'

export { authTokens, MIN_TOKEN_CHARS } from './flags.ts'
export { redacted, type StoreSpec } from './store-spec.ts'
export type { AguiConfig, EchoConfig, OpenAiConfig }

/** What the flags say: where to listen, how many processes, what to log, the server's options and each step's. */
export interface Config {
  /** `--port` and `--host`. */
  listen: Required<Pick<ListenOptions, 'port' | 'hostname'>>
  /** Processes serving one port (`--workers`, redis store only); default DEFAULT_WORKERS (1). */
  workers: number
  /** `--log-level`; default DEFAULT_LOG_LEVEL (info). */
  logLevel: LogLevel
  /** What createServer is given, but the steps: main builds those from `steps`. */
  server: ServerOptions & { store: StoreSpec; defaultStep: string; cancelGraceMs: number }
  /** Each built-in step's own options, parsed by its part (src/steps/*-config.ts). */
  steps: { echo: EchoConfig; openai: OpenAiConfig; agui: AguiConfig }
}

export type ParsedConfig = { kind: 'run'; config: Config } | { kind: 'help' } | { kind: 'version' } | { kind: 'error'; message: string }

/** A unit's length in milliseconds, from the one table of units (retention-policy.ts): `s`, `m`, `h` or `d`. */
const unitMs = (unit: string): number => parseDuration(`1${unit}`)!

/** A duration as `--retention` takes it (`30d`), in the largest unit that divides it. */
const durationText = (ms: number): string => {
  const unit = ['d', 'h', 'm', 's'].find((u) => ms % unitMs(u) === 0)
  if (unit === undefined) throw new Error(`${ms} ms is no whole number of seconds`)
  return `${ms / unitMs(unit)}${unit}`
}

/** A token bucket as `--rate-limit` takes it (`30/m`). */
const rateText = (rate: BucketRate): string => {
  const unit = ['s', 'm', 'h'].find((u) => Number.isInteger(unitMs(u) / rate.perMs))
  if (unit === undefined) throw new Error('the rate is no whole number an hour')
  const perUnit = unitMs(unit) / rate.perMs
  return `${perUnit}/${unit}${rate.capacity === perUnit ? '' : `,${rate.capacity}`}`
}

/** The server's own flags; each step kind declares its own beside it (src/steps/*-config.ts, src/publish/publish-config.ts). */
const SERVER_FLAGS: Flags = {
  port: { env: ['STEPSTREAM_PORT', 'PORT'], value: '<n>', default: String(DEFAULT_PORT), help: 'TCP port to listen on' },
  host: { env: ['STEPSTREAM_HOST'], value: '<address>', default: DEFAULT_HOST, help: 'interface to listen on' },
  store: {
    env: ['STEPSTREAM_STORE'],
    value: '<store>',
    default: `sqlite:${DEFAULT_SQLITE_PATH}`,
    help: 'sqlite:<path>, memory, or redis://[user:pass@]host:port[/db] (rediss:// for TLS)',
  },
  workers: {
    env: ['STEPSTREAM_WORKERS'],
    value: '<n>',
    default: String(DEFAULT_WORKERS),
    help: 'redis store: run this many processes on one port, e.g. one per core',
  },
  'run-lease': {
    env: ['STEPSTREAM_RUN_LEASE'],
    value: '<ms>',
    default: String(DEFAULT_RUN_LEASE_MS),
    help: "redis store: milliseconds a run holds its chat unrenewed; a dead server's run is closed after it",
  },
  step: { env: ['STEPSTREAM_STEP'], value: '<name>', default: DEFAULT_STEP, help: 'the step of new chats: echo, openai or agui' },
  'cancel-grace': {
    env: ['STEPSTREAM_CANCEL_GRACE'],
    value: '<ms>',
    default: String(DEFAULT_CANCEL_GRACE_MS),
    help: 'milliseconds a cancelled step has to stop before its run is closed without it',
  },
  heartbeat: {
    env: ['STEPSTREAM_HEARTBEAT'],
    value: '<ms>',
    default: String(DEFAULT_HEARTBEAT_MS),
    help: 'milliseconds of quiet before a stream gets a keep-alive comment',
  },
  'long-poll-ms': {
    env: ['STEPSTREAM_LONG_POLL_MS'],
    value: '<ms>',
    default: String(DEFAULT_LONG_POLL_MS),
    help: 'milliseconds a Durable Streams long-poll waits for data before answering 204',
  },
  retention: {
    env: ['STEPSTREAM_RETENTION'],
    value: '<duration>',
    default: durationText(DEFAULT_RETENTION_MS),
    help: 'delete sessions idle longer than this, e.g. 12h or 90m',
  },
  'max-events-per-session': {
    env: ['STEPSTREAM_MAX_EVENTS_PER_SESSION'],
    value: '<n>',
    default: String(DEFAULT_MAX_EVENTS_PER_SESSION),
    help: 'events kept per session, oldest deleted first',
  },
  'max-sessions': {
    env: ['STEPSTREAM_MAX_SESSIONS'],
    value: '<n>',
    help: `chats and Durable Streams held at once, on every store (the memory store holds ${DEFAULT_MAX_SESSIONS} unless told; SQLite and Redis no bound)`,
  },
  'max-events': {
    env: ['STEPSTREAM_MAX_EVENTS'],
    value: '<n>',
    default: String(DEFAULT_MAX_EVENTS),
    help: 'memory store: events held across all chats',
  },
  'max-session-bytes': {
    env: ['STEPSTREAM_MAX_SESSION_BYTES'],
    value: '<bytes>',
    default: String(DEFAULT_MAX_SESSION_BYTES),
    help: "bytes one chat's events may take, as stored; past it the chat takes no new message",
  },
  'max-store-bytes': {
    env: ['STEPSTREAM_MAX_STORE_BYTES'],
    value: '<bytes>',
    default: String(DEFAULT_MAX_STORE_BYTES),
    help: "memory store: bytes all chats' events may take together",
  },
  'log-level': { env: ['STEPSTREAM_LOG_LEVEL'], value: '<level>', default: DEFAULT_LOG_LEVEL, help: `one of ${LOG_LEVELS.join(', ')}` },
  'max-message-bytes': {
    env: ['STEPSTREAM_MAX_MESSAGE_BYTES'],
    value: '<bytes>',
    default: String(DEFAULT_MAX_MESSAGE_BYTES),
    help: 'longest message accepted, bytes of UTF-8; longer gets 413',
  },
  'max-connections': {
    env: ['STEPSTREAM_MAX_CONNECTIONS'],
    value: '<n>',
    default: String(DEFAULT_MAX_CONNECTIONS),
    help: 'SSE streams open at once in all; past it 429',
  },
  'max-connections-per-ip': {
    env: ['STEPSTREAM_MAX_CONNECTIONS_PER_IP'],
    value: '<n>',
    default: String(DEFAULT_MAX_CONNECTIONS_PER_IP),
    help: 'SSE streams open at once from one client address; past it 429',
  },
  'rate-limit': {
    env: ['STEPSTREAM_RATE_LIMIT'],
    value: '<n>/<s|m|h>[,<burst>]',
    default: rateText(DEFAULT_RATE_LIMIT),
    help: 'new chats, messages, streams and sign-ins per client address (30/m: a burst of 30, then 30 a minute), or off',
  },
  'trust-proxy': {
    env: ['STEPSTREAM_TRUST_PROXY'],
    help: 'take the client address from X-Forwarded-For (only behind a proxy that sets it)',
    boolean: true,
  },
  'auth-token': {
    env: ['STEPSTREAM_AUTH_TOKEN'],
    value: '<token>',
    help: 'require this bearer token (or the sign-in cookie) on every route but /healthz',
  },
  'auth-token-file': {
    env: ['STEPSTREAM_AUTH_TOKEN_FILE'],
    value: '<path>',
    help: 'like --auth-token, with the tokens read from a file, one a line',
  },
  'private-viewer-links': {
    env: ['STEPSTREAM_PRIVATE_VIEWER_LINKS'],
    help: "with auth: a chat's read-only link needs the token too (by default it opens its chat without it)",
    boolean: true,
  },
  'login-ttl': {
    env: ['STEPSTREAM_LOGIN_TTL'],
    value: '<duration>',
    default: durationText(DEFAULT_SIGN_IN_TTL_MS),
    help: 'how long a browser stays signed in, e.g. 12h or 90m; /logout ends it sooner',
  },
}

/** Every flag: the server's, then each step kind's. `--help` prints this table and parseConfig reads it. */
export const FLAGS: Flags = { ...SERVER_FLAGS, ...publishConfig.flags, ...echoConfig.flags, ...openAiConfig.flags, ...aguiConfig.flags }

export function helpText(version: string): string {
  return `stepstream ${version}: stream the events of running steps to browsers as HTML over Server-Sent Events.

Usage: stepstream [flags]   (a flag beats its environment variable)

${flagLines(FLAGS).join('\n')}
  --help                             print this and exit
  --version                          print the version and exit
`
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

/** `30/m` (a burst of 30, refilled at 30 a minute), `120/h,10` (a burst of 10, 120 an hour), or `off`. */
export function rateLimitSpec(raw: string): BucketRate | undefined {
  if (raw === 'off') return undefined
  const match = /^(\d{1,7})\/([smh])(?:,(\d{1,7}))?$/.exec(raw.trim())
  const rate = Number(match?.[1])
  const burst = match?.[3] === undefined ? rate : Number(match[3])
  if (!match || rate < 1 || burst < 1) {
    throw new ConfigError(`--rate-limit must be like 30/m, 120/h,10 or off, got ${JSON.stringify(raw)}`)
  }
  return { capacity: burst, perMs: unitMs(match[2]!) / rate }
}

/** The smallest byte budget accepted: a budget must hold more than the reserve kept for closing events. */
const MIN_BUDGET_BYTES = 2 * CLOSING_RESERVE_BYTES

/** The server's own options, from its flags. */
function serverOptions(read: FlagReader): Config['server'] {
  const bytes = (name: string) => integer(name, read.get(name), MIN_BUDGET_BYTES, 2 ** 50)
  return {
    store: storeSpec(read.get('store')),
    defaultStep: read.get('step'),
    cancelGraceMs: integer('cancel-grace', read.get('cancel-grace'), 0, 600_000),
    ...publishConfig.parse(read),
    heartbeatMs: integer('heartbeat', read.get('heartbeat'), 100, 3_600_000),
    longPollMs: integer('long-poll-ms', read.get('long-poll-ms'), 100, 600_000),
    retention: {
      idleMs: duration('retention', read.get('retention')),
      maxEventsPerSession: integer('max-events-per-session', read.get('max-events-per-session'), 1, 1_000_000_000),
    },
    storeLimits: {
      maxSessions: read.get('max-sessions') ? integer('max-sessions', read.get('max-sessions'), 1, 100_000_000) : undefined,
      maxEvents: integer('max-events', read.get('max-events'), 1, 1_000_000_000),
      maxSessionBytes: bytes('max-session-bytes'),
      maxStoreBytes: bytes('max-store-bytes'),
    },
    redis: { leaseMs: integer('run-lease', read.get('run-lease'), 300, 3_600_000) },
    maxMessageBytes: integer('max-message-bytes', read.get('max-message-bytes'), 1, MAX_BODY_BYTES / 2),
    connections: {
      max: integer('max-connections', read.get('max-connections'), 1, 10_000_000),
      maxPerIp: integer('max-connections-per-ip', read.get('max-connections-per-ip'), 1, 10_000_000),
    },
    rateLimit: rateLimitSpec(read.get('rate-limit')) ?? false,
    trustProxy: read.on('trust-proxy'),
    auth: {
      tokens: authTokens(read.get('auth-token')),
      tokenFile: read.get('auth-token-file') || undefined,
      ttlMs: loginTtl(read.get('login-ttl')),
      viewerLinks: read.on('private-viewer-links') ? 'private' : 'open',
    },
  }
}

/** The whole configuration: the server's part, then each step's part, read from one table. */
const configPart: ConfigPart<Config> = {
  flags: FLAGS,
  parse(read) {
    const logLevel = read.get('log-level')
    if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
      throw new ConfigError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`)
    }
    const config: Config = {
      listen: { port: integer('port', read.get('port'), 0, 65535), hostname: read.get('host') },
      workers: integer('workers', read.get('workers'), 1, 1024),
      logLevel: logLevel as LogLevel,
      server: serverOptions(read),
      steps: { echo: echoConfig.parse(read), openai: openAiConfig.parse(read), agui: aguiConfig.parse(read) },
    }
    if (config.workers > 1 && config.server.store.kind !== 'redis') {
      throw new ConfigError('--workers above 1 needs --store redis://…: processes share their chats only through Redis')
    }
    const { auth } = config.server
    if (auth?.viewerLinks === 'private' && auth.tokens?.length === 0 && auth.tokenFile === undefined) {
      throw new ConfigError('--private-viewer-links needs --auth-token or --auth-token-file: without auth every link opens without a token')
    }
    if (config.workers > 1 && config.listen.port === 0)
      throw new ConfigError('--workers above 1 needs a fixed --port for its processes to share')
    return config
  },
}

/**
 * Reads flags, then environment twins, then defaults (defaults.ts, through the table). Pure: the caller prints and
 * exits. `seen`, when given, collects the name of each flag read.
 */
export function parseConfig(argv: string[], env: Record<string, string | undefined>, seen?: Set<string>): ParsedConfig {
  try {
    const flags = readFlags(configPart.flags, argv, env, seen)
    if (flags.help) return { kind: 'help' }
    if (flags.version) return { kind: 'version' }
    return { kind: 'run', config: configPart.parse(flags.read) }
  } catch (error) {
    // parseArgs explains unknown flags and missing values in its own words; keep them on one line.
    const message = error instanceof Error ? error.message.split('\n')[0]! : String(error)
    return { kind: 'error', message: `${message} (see --help)` }
  }
}

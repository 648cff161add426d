import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { parseConfig } from '../../src/config.ts'
import { createServer } from '../../src/create-server.ts'
import * as defaults from '../../src/defaults.ts'
import { MAX_BODY_BYTES } from '../../src/limits.ts'
import { silentLogger } from '../../src/log.ts'

const root = join(import.meta.dir, '../..')

const parsedDefaults = () => {
  const parsed = parseConfig([], {})
  if (parsed.kind !== 'run') throw new Error(`the defaults do not parse: ${JSON.stringify(parsed)}`)
  return parsed.config
}

/** Every key of the parsed configuration, at any depth: the names of the options a flag sets. */
function keysOf(value: unknown, into = new Set<string>()): Set<string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return into
  for (const [key, inner] of Object.entries(value)) {
    into.add(key)
    keysOf(inner, into)
  }
  return into
}

describe('every default is written once, in src/defaults.ts', () => {
  test('the flags apply the table', () => {
    const d = defaults
    expect(parsedDefaults()).toEqual({
      listen: { port: d.DEFAULT_PORT, hostname: d.DEFAULT_HOST },
      workers: d.DEFAULT_WORKERS,
      logLevel: d.DEFAULT_LOG_LEVEL,
      server: {
        store: { kind: 'sqlite', path: d.DEFAULT_SQLITE_PATH },
        defaultStep: d.DEFAULT_STEP,
        cancelGraceMs: d.DEFAULT_CANCEL_GRACE_MS,
        publishTimeoutMs: d.DEFAULT_PUBLISH_TIMEOUT_MS,
        heartbeatMs: d.DEFAULT_HEARTBEAT_MS,
        longPollMs: d.DEFAULT_LONG_POLL_MS,
        retention: { idleMs: d.DEFAULT_RETENTION_MS, maxEventsPerSession: d.DEFAULT_MAX_EVENTS_PER_SESSION },
        storeLimits: {
          // None unless set: the memory store holds DEFAULT_MAX_SESSIONS, SQLite and Redis no bound.
          maxSessions: undefined,
          maxEvents: d.DEFAULT_MAX_EVENTS,
          maxSessionBytes: d.DEFAULT_MAX_SESSION_BYTES,
          maxStoreBytes: d.DEFAULT_MAX_STORE_BYTES,
        },
        redis: { leaseMs: d.DEFAULT_RUN_LEASE_MS },
        maxMessageBytes: d.DEFAULT_MAX_MESSAGE_BYTES,
        connections: { max: d.DEFAULT_MAX_CONNECTIONS, maxPerIp: d.DEFAULT_MAX_CONNECTIONS_PER_IP },
        rateLimit: d.DEFAULT_RATE_LIMIT,
        trustProxy: false,
        auth: { tokens: [], tokenFile: undefined, ttlMs: d.DEFAULT_SIGN_IN_TTL_MS, viewerLinks: 'open' },
      },
      steps: {
        echo: { delayMs: d.DEFAULT_ECHO_DELAY_MS },
        openai: {
          baseUrl: d.DEFAULT_OPENAI_BASE_URL,
          apiKey: undefined,
          model: undefined,
          models: [],
          systemPrompt: d.SYSTEM_PROMPT,
          maxToolRounds: d.DEFAULT_MAX_TOOL_ROUNDS,
          requestTimeoutMs: d.DEFAULT_REQUEST_TIMEOUT_MS,
        },
        agui: { url: undefined, headers: {}, requestTimeoutMs: d.DEFAULT_REQUEST_TIMEOUT_MS },
      },
    })
  })

  test('createServer fills what an embedder leaves out from the table', async () => {
    const server = await createServer({ log: silentLogger })
    try {
      expect(server.deps).toMatchObject({
        heartbeatMs: defaults.DEFAULT_HEARTBEAT_MS,
        retryMs: defaults.DEFAULT_RETRY_MS,
        maxMessageBytes: defaults.DEFAULT_MAX_MESSAGE_BYTES,
        maxBodyBytes: MAX_BODY_BYTES,
        rateLimit: defaults.DEFAULT_RATE_LIMIT,
        trustProxy: false,
        auth: undefined,
      })
      expect(server.deps.steps.defaultStep).toBe(defaults.DEFAULT_STEP)
      expect(server.deps.publishing.timeoutMs).toBe(defaults.DEFAULT_PUBLISH_TIMEOUT_MS)
    } finally {
      await server.stop()
    }
  })

  test('no other module restates one: no constant of the same name, no number as the fallback of an option a flag sets, no number as the default a flag prints', async () => {
    const names = new Set(Object.keys(defaults))
    const options = keysOf(parsedDefaults())
    const restated: string[] = []
    for await (const path of new Bun.Glob('src/**/*.{ts,tsx}').scan(root)) {
      if (path === 'src/defaults.ts' || path === 'src/limits.ts') continue
      const lines = (await Bun.file(join(root, path)).text()).split('\n')
      lines.forEach((line, i) => {
        const constant = /\bconst\s+([A-Z][A-Z0-9_]*)\s*[:=]/.exec(line)?.[1]
        if (constant !== undefined && names.has(constant)) restated.push(`${path}:${i + 1}: ${constant}`)
        for (const match of line.matchAll(/\.(\w+)\s*\?\?\s*-?\d/g)) {
          if (options.has(match[1]!)) restated.push(`${path}:${i + 1}: ${line.trim()}`)
        }
        // A flag's `default:` (what --help prints and parsing applies) is built from the table, never written as a number.
        if (/\bdefault:\s*(?:String\(\s*)?['"`]?-?\d/.test(line)) restated.push(`${path}:${i + 1}: ${line.trim()}`)
      })
    }
    expect(restated).toEqual([])
  })
})

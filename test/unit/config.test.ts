import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { FLAGS, helpText, parseConfig } from '../../src/config.ts'
import { shownDefault } from '../../src/flags.ts'

const run = (argv: string[], env: Record<string, string> = {}) => {
  const parsed = parseConfig(argv, env)
  if (parsed.kind !== 'run') throw new Error(`expected a config, got ${JSON.stringify(parsed)}`)
  return parsed.config
}

describe('config', () => {
  test('defaults: port 8080, SQLite at ./stepstream.db, echo at 50 ms, heartbeat 15 s, long-poll 20 s', () => {
    expect(run([])).toEqual({
      listen: { port: 8080, hostname: '0.0.0.0' },
      workers: 1,
      logLevel: 'info',
      server: {
        store: { kind: 'sqlite', path: './stepstream.db' },
        defaultStep: 'echo',
        cancelGraceMs: 2000,
        publishTimeoutMs: 60_000,
        heartbeatMs: 15_000,
        longPollMs: 20_000,
        retention: { idleMs: 30 * 24 * 3600 * 1000, maxEventsPerSession: 100_000 },
        storeLimits: { maxSessions: undefined, maxEvents: 1_000_000, maxSessionBytes: 64 * 1024 * 1024, maxStoreBytes: 256 * 1024 * 1024 },
        redis: { leaseMs: 10_000 },
        maxMessageBytes: 32 * 1024,
        connections: { max: 10_000, maxPerIp: 100 },
        rateLimit: { capacity: 30, perMs: 2000 },
        trustProxy: false,
        auth: { tokens: [], tokenFile: undefined, ttlMs: 7 * 24 * 3600 * 1000, viewerLinks: 'open' },
      },
      steps: {
        echo: { delayMs: 50 },
        openai: {
          baseUrl: 'https://api.openai.com/v1',
          apiKey: undefined,
          model: undefined,
          models: [],
          systemPrompt: 'You are a helpful assistant.',
          maxToolRounds: 8,
          requestTimeoutMs: 120_000,
        },
        agui: { url: undefined, headers: {}, requestTimeoutMs: 120_000 },
      },
    })
  })

  test('the agui flags: the URL, repeated headers (one a line in the env), and a header without a name refused without its value', () => {
    const fromFlags = run([
      '--step=agui',
      '--agui-url',
      'http://localhost:8000/agent/',
      '--agui-header',
      'Authorization: Bearer sk-secret',
      '--agui-header',
      'X-Tenant:  blue ',
      '--request-timeout',
      '5000',
    ])
    expect(fromFlags.server.defaultStep).toBe('agui')
    expect(fromFlags.steps.agui).toEqual({
      url: 'http://localhost:8000/agent',
      headers: { Authorization: 'Bearer sk-secret', 'X-Tenant': 'blue' },
      requestTimeoutMs: 5000,
    })
    const fromEnv = run([], { STEPSTREAM_AGUI_URL: 'https://agent.example/run', STEPSTREAM_AGUI_HEADER: 'A: 1\nB: 2\n' }).steps.agui
    expect(fromEnv).toEqual({ url: 'https://agent.example/run', headers: { A: '1', B: '2' }, requestTimeoutMs: 120_000 })
    const bad = parseConfig(['--agui-header', 'sk-secret-no-name'], {})
    expect(bad.kind).toBe('error')
    expect(bad.kind === 'error' && bad.message).toContain('--agui-header must be "Name: value"')
    expect(bad.kind === 'error' && bad.message).not.toContain('sk-secret-no')
    expect(parseConfig(['--agui-url', 'ftp://x'], {}).kind).toBe('error')
  })

  test('the openai flags, their env twins (OPENAI_API_KEY too), and a trailing slash dropped from the base URL', () => {
    const fromFlags = run([
      '--step=openai',
      '--openai-base-url',
      'http://localhost:11434/v1/',
      '--openai-api-key',
      'sk-flag',
      '--model',
      'llama3.2',
      '--system-prompt',
      'Be brief.',
      '--max-tool-rounds',
      '3',
      '--request-timeout',
      '5000',
    ])
    expect(fromFlags.server.defaultStep).toBe('openai')
    expect(fromFlags.steps.openai).toEqual({
      baseUrl: 'http://localhost:11434/v1',
      apiKey: 'sk-flag',
      model: 'llama3.2',
      models: ['llama3.2'],
      systemPrompt: 'Be brief.',
      maxToolRounds: 3,
      requestTimeoutMs: 5000,
    })
    const fromEnv = run([], {
      OPENAI_API_KEY: 'sk-env',
      STEPSTREAM_MODEL: 'gpt-4o-mini',
      STEPSTREAM_OPENAI_BASE_URL: 'https://openrouter.ai/api/v1',
      STEPSTREAM_MAX_TOOL_ROUNDS: '0',
      STEPSTREAM_REQUEST_TIMEOUT: '250',
    }).steps.openai
    expect(fromEnv).toMatchObject({ apiKey: 'sk-env', model: 'gpt-4o-mini', baseUrl: 'https://openrouter.ai/api/v1', maxToolRounds: 0 })
    expect(fromEnv.requestTimeoutMs).toBe(250)
    expect(run([], { OPENAI_API_KEY: 'sk-env', STEPSTREAM_OPENAI_API_KEY: 'sk-ours' }).steps.openai.apiKey).toBe('sk-ours')
  })

  test('flags in both spellings, and a flag beats its environment twin', () => {
    const config = run(['--port=9000', '--store', 'memory', '--echo-delay', '0'], { STEPSTREAM_PORT: '1234', STEPSTREAM_HEARTBEAT: '500' })
    expect(config).toMatchObject({
      listen: { port: 9000 },
      server: { store: { kind: 'memory' }, heartbeatMs: 500 },
      steps: { echo: { delayMs: 0 } },
    })
    expect(run(['--retention', '12h', '--max-events-per-session', '50']).server.retention).toEqual({
      idleMs: 12 * 3600 * 1000,
      maxEventsPerSession: 50,
    })
  })

  test('PORT is read when STEPSTREAM_PORT is absent', () => {
    expect(run([], { PORT: '3000' }).listen.port).toBe(3000)
    expect(run([], { PORT: '3000', STEPSTREAM_PORT: '4000' }).listen.port).toBe(4000)
  })

  test('sqlite:<path> keeps the path', () => {
    expect(run(['--store', 'sqlite:/tmp/a b.db']).server.store).toEqual({ kind: 'sqlite', path: '/tmp/a b.db' })
  })

  test('redis:// and rediss:// URLs are kept whole; --workers and --run-lease need the shared store', () => {
    expect(run(['--store', 'redis://u:p@h:6380/2']).server.store).toEqual({ kind: 'redis', url: 'redis://u:p@h:6380/2' })
    expect(run(['--store', 'rediss://cache.example:6380']).server.store).toEqual({ kind: 'redis', url: 'rediss://cache.example:6380' })
    const workers = run(['--store', 'redis://h:6379', '--workers', '2', '--run-lease', '3000'], { STEPSTREAM_WORKERS: '4' })
    expect([workers.workers, workers.server.redis?.leaseMs]).toEqual([2, 3000])
    expect(run([], { STEPSTREAM_STORE: 'redis://h', STEPSTREAM_WORKERS: '3' }).workers).toBe(3)
  })

  test('a redis password never appears in the refusal', () => {
    const parsed = parseConfig(['--store', 'redis://user:s3cret@h:6379/x/y'], {})
    expect(parsed).toMatchObject({ kind: 'error' })
    expect((parsed as { message: string }).message).not.toContain('s3cret')
  })

  test('--login-ttl: how long a browser sign-in lasts (7 days by default), its env twin, and at most 400 days', () => {
    expect(run([]).server.auth?.ttlMs).toBe(7 * 24 * 3600 * 1000)
    expect(run(['--login-ttl', '12h']).server.auth?.ttlMs).toBe(12 * 3600 * 1000)
    expect(run([], { STEPSTREAM_LOGIN_TTL: '90m' }).server.auth?.ttlMs).toBe(90 * 60 * 1000)
    expect(run(['--login-ttl', '400d']).server.auth?.ttlMs).toBe(400 * 24 * 3600 * 1000)
    for (const bad of ['401d', 'soon', '0d']) {
      const parsed = parseConfig(['--login-ttl', bad], {})
      expect(parsed.kind).toBe('error')
      expect((parsed as { message: string }).message).toContain('--login-ttl must be')
    }
    expect(helpText('1')).toContain('--login-ttl')
  })

  test('--help and --version', () => {
    expect(parseConfig(['--help'], {})).toEqual({ kind: 'help' })
    expect(parseConfig(['-h'], {})).toEqual({ kind: 'help' })
    expect(parseConfig(['--version'], {})).toEqual({ kind: 'version' })
    const help = helpText('1.2.3')
    for (const flag of [
      '--port',
      '--host',
      '--store',
      '--step',
      '--echo-delay',
      '--heartbeat',
      '--log-level',
      '--retention',
      '--max-events-per-session',
      '--openai-base-url',
      '--openai-api-key',
      '--model',
      '--system-prompt',
      '--max-tool-rounds',
      '--request-timeout',
      '--workers',
      '--run-lease',
      'redis://',
      'OPENAI_API_KEY',
      'STEPSTREAM_ECHO_DELAY',
      'PORT',
    ]) {
      expect(help).toContain(flag)
    }
  })

  test.each([
    [['--port', 'abc'], /--port must be a whole number/],
    [['--port', '70000'], /--port/],
    [['--echo-delay', '-5'], /--echo-delay/],
    [['--heartbeat', '10'], /--heartbeat/],
    [['--long-poll-ms', '50'], /--long-poll-ms must be a whole number from 100/],
    [['--store', 'postgres://x'], /--store must be/],
    [['--store', 'sqlite:'], /--store must be/],
    [['--store', 'redis://'], /--store must be redis:\/\//],
    [['--store', 'redis://h:6379/db'], /--store must be redis:\/\//],
    [['--workers', '2'], /--workers above 1 needs --store redis/],
    [['--workers', '0', '--store', 'redis://h'], /--workers must be/],
    [['--workers', '2', '--store', 'redis://h', '--port', '0'], /fixed --port/],
    [['--run-lease', '10'], /--run-lease/],
    [['--cancel-grace', 'soon'], /--cancel-grace/],
    [['--log-level', 'loud'], /--log-level/],
    [['--retention', 'forever'], /--retention/],
    [['--retention', '0d'], /--retention/],
    [['--max-events-per-session', '0'], /--max-events-per-session/],
    [['--openai-base-url', 'localhost:11434'], /--openai-base-url must be an http/],
    [['--openai-base-url', 'ftp://x/v1'], /--openai-base-url must be an http/],
    [['--max-tool-rounds', '-1'], /--max-tool-rounds/],
    [['--request-timeout', '0'], /--request-timeout/],
    [['--nope'], /Unknown option/],
    [['stray'], /positional/i],
    [['--port'], /argument missing/],
  ])('%p is refused in one line', (argv, pattern) => {
    const parsed = parseConfig(argv as string[], {})
    expect(parsed.kind).toBe('error')
    const message = (parsed as { message: string }).message
    expect(message).toMatch(pattern as RegExp)
    expect(message).not.toContain('\n')
  })

  test('a bad environment value is refused too', () => {
    expect(parseConfig([], { STEPSTREAM_ECHO_DELAY: 'fast' })).toMatchObject({ kind: 'error' })
  })
})

describe('operating flags', () => {
  test('limits, --trust-proxy and auth tokens from flags and from their environment twins', () => {
    const config = run(
      ['--max-message-bytes', '1000', '--max-connections=50', '--max-connections-per-ip', '5', '--rate-limit', 'off', '--trust-proxy'],
      {
        STEPSTREAM_AUTH_TOKEN: 'a-token-of-sixteen-chars,another-token-0123456',
      },
    )
    expect(config.server).toMatchObject({
      maxMessageBytes: 1000,
      connections: { max: 50, maxPerIp: 5 },
      rateLimit: false,
      trustProxy: true,
    })
    expect(config.server.auth?.tokens).toEqual(['a-token-of-sixteen-chars', 'another-token-0123456'])
    expect(run([], { STEPSTREAM_TRUST_PROXY: '1', STEPSTREAM_AUTH_TOKEN_FILE: '/etc/tokens' }).server).toMatchObject({
      trustProxy: true,
      auth: { tokenFile: '/etc/tokens' },
    })
  })

  test('a short token or a bad limit is one line and exit 2', () => {
    for (const argv of [
      ['--auth-token', 'short'],
      ['--rate-limit', 'fast'],
      ['--max-connections', '0'],
      ['--max-message-bytes', '-1'],
    ]) {
      const parsed = parseConfig(argv, {})
      expect(parsed.kind).toBe('error')
      expect(parsed.kind === 'error' && !parsed.message.includes('\n')).toBe(true)
    }
  })

  test('byte budgets: --max-session-bytes and --max-store-bytes, or their env twins; one smaller than the closing reserve is refused', () => {
    const config = run(['--max-session-bytes', '1048576'], { STEPSTREAM_MAX_STORE_BYTES: '8388608' })
    expect([config.server.storeLimits?.maxSessionBytes, config.server.storeLimits?.maxStoreBytes]).toEqual([1024 * 1024, 8 * 1024 * 1024])
    const parsed = parseConfig(['--max-session-bytes', '1000'], {})
    expect(parsed.kind === 'error' && parsed.message).toContain('--max-session-bytes must be a whole number from 131072')
    expect(helpText('1')).toContain('--max-session-bytes')
    expect(helpText('1')).toContain('STEPSTREAM_MAX_STORE_BYTES')
  })

  test('--help lists the operating flags', () => {
    for (const flag of [
      '--max-message-bytes',
      '--max-connections',
      '--max-connections-per-ip',
      '--rate-limit',
      '--trust-proxy',
      '--auth-token',
      '--auth-token-file',
    ]) {
      expect(helpText('1')).toContain(flag)
    }
  })
})

describe('--help is printed from the table that parses', () => {
  const help = helpText('1')
  const lines = help.split('\n')
  /** A flag's line of --help and the line after it (its environment twins). */
  const entryOf = (name: string) => {
    const at = lines.findIndex((line) => new RegExp(`^ {2}--${name}(?: |$)`).test(line))
    return at < 0 ? undefined : { line: lines[at]!, env: lines[at + 1] ?? '' }
  }

  test('every flag parseConfig takes is in --help, with the shape of its value, its line, its default and its env twins', () => {
    for (const [name, flag] of Object.entries(FLAGS)) {
      const entry = entryOf(name)
      if (!entry) throw new Error(`--${name} is missing from --help`)
      expect(flag.help.trim()).not.toBe('')
      expect(entry.line).toContain(flag.help)
      if (flag.value) expect(entry.line).toContain(`--${name} ${flag.value}`)
      if (flag.default !== undefined) expect(entry.line).toContain(`(default ${shownDefault(flag.default)})`)
      expect(entry.env).toContain(`env: ${flag.env.join(', ')}`)
    }
  })

  test('every flag --help shows is one parseConfig takes', () => {
    const shown = [...help.matchAll(/^ {2}--([a-z-]+)/gm)].map((match) => match[1]!)
    expect(shown.filter((name) => name !== 'help' && name !== 'version').sort()).toEqual(Object.keys(FLAGS).sort())
    for (const name of shown) {
      const parsed = parseConfig([`--${name}`], {})
      expect(parsed.kind === 'error' ? parsed.message : '').not.toMatch(/Unknown option/)
    }
  })

  test('the defaults --help shows are the ones applied: giving each of them changes nothing', () => {
    const argv = Object.entries(FLAGS).flatMap(([name, flag]) => (flag.default === undefined ? [] : [`--${name}`, flag.default]))
    expect(argv.length).toBeGreaterThan(20)
    expect(run(argv)).toEqual(run([]))
  })

  test('every flag of the table is read by a part, and no part reads a flag the table lacks', () => {
    const seen = new Set<string>()
    expect(parseConfig([], {}, seen).kind).toBe('run')
    expect([...seen].sort()).toEqual(Object.keys(FLAGS).sort())
  })
})

test('steps own their config: config.ts composes their parts, and nothing under src/steps or src/publish imports it', async () => {
  const root = join(import.meta.dir, '../..')
  const importers: string[] = []
  for await (const path of new Bun.Glob('src/{steps,publish}/**/*.{ts,tsx}').scan(root)) {
    if (/from '(\.\.\/)+config\.ts'/.test(await Bun.file(join(root, path)).text())) importers.push(path)
  }
  expect(importers).toEqual([])
})

describe('per-chat models: --models and --model', () => {
  test('--models is the list New Chat offers; --model is its default, else the first; either alone works, and the env twin', () => {
    expect(run(['--models', 'a, b,c']).steps.openai).toMatchObject({ model: 'a', models: ['a', 'b', 'c'] })
    expect(run(['--models', 'a,b', '--model', 'b']).steps.openai).toMatchObject({ model: 'b', models: ['a', 'b'] })
    expect(run(['--model', 'solo']).steps.openai).toMatchObject({ model: 'solo', models: ['solo'] })
    expect(run([], { STEPSTREAM_MODELS: 'x,y' }).steps.openai).toMatchObject({ model: 'x', models: ['x', 'y'] })
    expect(helpText('1')).toMatch(/--models <a,b,…> +openai step: the models New Chat offers/)
    expect(helpText('1')).toContain('STEPSTREAM_MODELS')
  })

  test.each([
    [['--models', 'a,b', '--model', 'c'], /--model "c" must be one of --models \(a, b\)/],
    [['--models', 'a,,b'], /--models must be/],
    [['--models', 'a b'], /--models must be/],
    [['--models', ` ${'m'.repeat(201)}`], /--models must be/],
    [['--models', Array.from({ length: 101 }, (_, i) => `m${i}`).join(',')], /--models must be up to 100/],
  ])('%p is refused in one line', (argv, pattern) => {
    const parsed = parseConfig(argv as string[], {})
    expect(parsed.kind).toBe('error')
    const message = (parsed as { message: string }).message
    expect(message).toMatch(pattern as RegExp)
    expect(message).not.toContain('\n')
  })

  test('the binary exits 2 with one line for a --model outside --models', () => {
    const main = join(import.meta.dir, '../../src/main.ts')
    const bad = Bun.spawnSync([process.execPath, main, '--store', 'memory', '--models', 'a,b', '--model', 'c'], { stderr: 'pipe' })
    expect(bad.exitCode).toBe(2)
    const lines = bad.stderr.toString().trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('--model "c" must be one of --models (a, b)')
  })
})

describe('read-only links with auth on: --private-viewer-links', () => {
  test('off by default (links open), on with the flag or its env twin, listed in --help', () => {
    const token = ['--auth-token', 'a-token-of-sixteen-chars']
    expect(run(token).server.auth?.viewerLinks).toBe('open')
    expect(run([...token, '--private-viewer-links']).server.auth?.viewerLinks).toBe('private')
    expect(run(token, { STEPSTREAM_PRIVATE_VIEWER_LINKS: '1' }).server.auth?.viewerLinks).toBe('private')
    expect(run(['--auth-token-file', '/etc/tokens', '--private-viewer-links']).server.auth?.viewerLinks).toBe('private')
    expect(helpText('1')).toMatch(/--private-viewer-links +with auth: a chat's read-only link needs the token too/)
    expect(helpText('1')).toContain('STEPSTREAM_PRIVATE_VIEWER_LINKS')
  })

  test('without auth it means nothing: refused in one line', () => {
    const parsed = parseConfig(['--private-viewer-links'], {})
    expect(parsed).toEqual({
      kind: 'error',
      message: '--private-viewer-links needs --auth-token or --auth-token-file: without auth every link opens without a token (see --help)',
    })
  })
})

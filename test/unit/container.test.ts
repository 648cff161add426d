import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { parseConfig } from '../../src/config.ts'
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.ts'

// What Dockerfile and compose.yaml promise that can be checked without a container engine: the image's user, volume,
// port and defaults (read by the real flag parser), its health check (run against a real server), and that the
// compose file's nginx is built from the files test/e2e/nginx.test.ts runs a real nginx with.

const root = join(import.meta.dir, '../..')
const read = (file: string) => Bun.file(join(root, file)).text()

interface Instruction {
  keyword: string
  args: string
}

/** Dockerfile instructions of its last stage (the image), continuation lines joined, comments left out. */
function finalStage(dockerfile: string): Instruction[] {
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  const instructions = lines.map((line) => {
    const [keyword = '', ...rest] = line.split(/\s+/)
    return { keyword: keyword.toUpperCase(), args: rest.join(' ') }
  })
  const from = instructions.findLastIndex((i) => i.keyword === 'FROM')
  return instructions.slice(from)
}

const args = (stage: Instruction[], keyword: string): string[] => stage.filter((i) => i.keyword === keyword).map((i) => i.args)
const one = (stage: Instruction[], keyword: string): string => {
  const found = args(stage, keyword)
  if (found.length !== 1) throw new Error(`the image should have one ${keyword}, it has ${found.length}`)
  return found[0]!
}

/** `ENV A=1 B=2` (the only form the Dockerfile uses), as the variables the image starts with. */
function imageEnv(stage: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const line of args(stage, 'ENV')) {
    for (const pair of line.split(/\s+/)) {
      const [name, value] = pair.split('=') as [string, string]
      env[name] = value
    }
  }
  return env
}

/** An exec-form (JSON array) instruction's words: a shell form would need /bin/sh and would not get signals. */
const execForm = (text: string): string[] => JSON.parse(text) as string[]

let stage: Instruction[]
let env: Record<string, string>
let entrypoint: string[]

beforeAll(async () => {
  stage = finalStage(await read('Dockerfile'))
  env = imageEnv(stage)
  entrypoint = execForm(one(stage, 'ENTRYPOINT'))
})

describe('the Dockerfile', () => {
  test('the image runs as a user that is not root, which owns /data', () => {
    const [uid = '', gid = ''] = one(stage, 'USER').split(':')
    // Numeric, so that an engine (Kubernetes' runAsNonRoot) can tell it is not root without reading /etc/passwd.
    expect(uid).toMatch(/^\d+$/)
    expect(Number(uid)).toBeGreaterThan(0)
    const run = args(stage, 'RUN').join(' ')
    // The user and group the image creates are the ones it runs as.
    expect(run).toContain(`--uid ${uid} --gid ${gid}`)
    expect(run).toContain(`groupadd --system --gid ${gid}`)
    expect(run).toMatch(/chown \S+ \/data/)
  })

  test('its data is the volume /data: the default store is a SQLite file there', () => {
    expect(args(stage, 'VOLUME')).toEqual(['/data'])
    const parsed = parseConfig(entrypoint.slice(1), env)
    if (parsed.kind !== 'run') throw new Error(`the image's flags do not parse: ${JSON.stringify(parsed)}`)
    expect(parsed.config.server.store).toEqual({ kind: 'sqlite', path: '/data/stepstream.db' })
  })

  test('it listens on every interface, on the port it exposes', () => {
    const parsed = parseConfig(entrypoint.slice(1), env)
    if (parsed.kind !== 'run') throw new Error(`the image's flags do not parse: ${JSON.stringify(parsed)}`)
    expect(parsed.config.listen.hostname).toBe('0.0.0.0')
    expect(args(stage, 'EXPOSE')).toEqual([String(parsed.config.listen.port)])
  })

  test('flags after the image name keep its defaults: they come from the environment', () => {
    const parsed = parseConfig(
      [...entrypoint.slice(1), '--step', 'openai', '--model', 'm', '--openai-base-url', 'http://127.0.0.1:1/v1'],
      env,
    )
    if (parsed.kind !== 'run') throw new Error(`the image's flags do not parse: ${JSON.stringify(parsed)}`)
    expect(parsed.config.server.store).toEqual({ kind: 'sqlite', path: '/data/stepstream.db' })
    expect(parsed.config.server.defaultStep).toBe('openai')
  })

  test('the image holds the one executable `bun run build` makes, and runs it', () => {
    const copies = args(stage, 'COPY')
    expect(copies).toEqual([`--from=build /src/dist/stepstream ${entrypoint[0]}`])
    expect(entrypoint).toHaveLength(1)
  })

  test('the build context holds what the build stage copies', async () => {
    const dockerfile = await read('Dockerfile')
    const allowed = (await read('.dockerignore'))
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/$/, ''))
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(' '))
    expect(copied.length).toBeGreaterThan(3)
    for (const path of copied) expect(allowed).toContain(path)
  })
})

describe("the image's health check", () => {
  let server: SpawnedServer
  beforeAll(async () => {
    server = await spawnServer([process.execPath, 'src/main.ts'], { args: ['--store', 'memory'] })
  })
  afterAll(async () => {
    await server?.stop()
  })

  /** The HEALTHCHECK's command with this Bun in place of the executable (which is this Bun, built in). */
  async function check(port: string): Promise<number> {
    const command = execForm(one(stage, 'HEALTHCHECK').replace(/^.*?CMD\s+/, '')).map((word) =>
      word === entrypoint[0] ? process.execPath : word,
    )
    const proc = Bun.spawn(command, {
      env: { ...env, PATH: process.env.PATH ?? '', STEPSTREAM_PORT: port },
      stdout: 'ignore',
      stderr: 'ignore',
    })
    return proc.exited
  }

  test('passes against a server that answers /healthz on STEPSTREAM_PORT', async () => {
    expect(await check(new URL(server.base).port)).toBe(0)
  })

  test('fails where nothing listens', async () => {
    // Port 1 (tcpmux) is closed on this machine and refuses at once.
    expect(await check('1')).toBe(1)
  })
})

describe('compose.yaml', () => {
  interface Service {
    image?: string
    build?: string
    environment?: Record<string, string>
    volumes?: string[]
  }
  let services: Map<string, Service>
  beforeAll(async () => {
    const compose = Bun.YAML.parse(await read('compose.yaml')) as { services: Record<string, Service> }
    services = new Map(Object.entries(compose.services))
  })
  const instances = () => [...services].filter(([, service]) => service.build === '.')

  test('two instances of the image, on its Redis, behind nginx they trust', () => {
    expect(instances()).toHaveLength(2)
    expect(services.has('redis')).toBe(true)
    for (const [name, service] of instances()) {
      const parsed = parseConfig(entrypoint.slice(1), { ...env, ...service.environment })
      if (parsed.kind !== 'run') throw new Error(`${name}'s settings do not parse: ${JSON.stringify(parsed)}`)
      const store = parsed.config.server.store
      expect(store.kind).toBe('redis')
      expect(store.kind === 'redis' && new URL(store.url).hostname).toBe('redis')
      expect(parsed.config.server.trustProxy).toBe(true)
    }
  })

  test("nginx's site is deploy/nginx-site.sh's, from the deploy files the nginx test runs", async () => {
    const nginx = services.get('nginx')!
    expect(nginx.volumes).toEqual([
      './deploy/nginx.conf:/etc/stepstream/nginx.conf:ro',
      './deploy/nginx-redis.conf:/etc/stepstream/nginx-redis.conf:ro',
      // The nginx image runs /docker-entrypoint.d/*.sh before nginx; the script reads /etc/stepstream by default.
      './deploy/nginx-site.sh:/docker-entrypoint.d/40-stepstream-site.sh:ro',
    ])
    expect(await read('deploy/nginx-site.sh')).toContain(':-/etc/stepstream}')
    expect(await read('test/e2e/nginx.test.ts')).toContain("'nginx-site.sh'")
    // The image runs a script only if it may execute it.
    expect((await Bun.file(join(root, 'deploy/nginx-site.sh')).stat()).mode & 0o111).toBe(0o111)
  })

  test('nginx reaches each instance by its service name, on the port the image listens on', () => {
    const upstreams = services.get('nginx')!.environment!.STEPSTREAM_UPSTREAMS!.split(' ')
    expect(upstreams).toEqual(instances().map(([name]) => `${name}:${env.STEPSTREAM_PORT}`))
  })
})

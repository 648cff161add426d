import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import packageJson from '../../package.json' with { type: 'json' }
import { artifactName, RELEASE_TARGETS, sha256File } from '../../scripts/release.ts'
import { executableFormat, type ExecutableFormat } from '../helpers/executable-format.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { SseReader, hasEnd } from '../helpers/sse-client.ts'
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.ts'
import { startChat } from '../helpers/start-chat.ts'

slowTests()

const root = join(import.meta.dir, '../..')
const out = mkdtempSync(join(tmpdir(), 'stepstream-release-'))
const version = packageJson.version
const fileOf = (name: string) => join(out, artifactName(version, RELEASE_TARGETS.find((t) => t.name === name)!))

beforeAll(() => {
  // One `bun run release` for the whole file, into a private folder so parallel work on dist/ is untouched.
  // Measured on 2 shared cores: ~5 s with Bun's cache of target runtimes warm, ~12 s when it downloads all six.
  const started = performance.now()
  const build = Bun.spawnSync([process.execPath, 'run', 'release', '--out', out], { cwd: root, stdout: 'pipe', stderr: 'pipe' })
  if (build.exitCode !== 0) throw new Error(`bun run release failed: ${build.stderr.toString()}`)
  process.stderr.write(`bun run release: ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
}, 240_000)

afterAll(() => rmSync(out, { recursive: true, force: true }))

test('the release folder holds the six artifacts and SHA256SUMS, nothing else', () => {
  expect(readdirSync(out).sort()).toEqual(
    [
      'SHA256SUMS',
      `stepstream-${version}-darwin-arm64`,
      `stepstream-${version}-darwin-x64`,
      `stepstream-${version}-linux-arm64`,
      `stepstream-${version}-linux-x64`,
      `stepstream-${version}-linux-x64-musl`,
      `stepstream-${version}-windows-x64.exe`,
    ].sort(),
  )
})

describe('each artifact is the format and CPU its name says, read from its header bytes', () => {
  const expected: Record<string, Omit<ExecutableFormat, 'executable'>> = {
    'linux-x64': { format: 'elf', arch: 'x64', interpreter: '/lib64/ld-linux-x86-64.so.2' },
    'linux-arm64': { format: 'elf', arch: 'arm64', interpreter: '/lib/ld-linux-aarch64.so.1' },
    'linux-x64-musl': { format: 'elf', arch: 'x64', interpreter: '/lib/ld-musl-x86_64.so.1' },
    'darwin-x64': { format: 'mach-o', arch: 'x64' },
    'darwin-arm64': { format: 'mach-o', arch: 'arm64' },
    'windows-x64': { format: 'pe', arch: 'x64' },
  }
  for (const [name, want] of Object.entries(expected)) {
    test(name, async () => {
      const header = await Bun.file(fileOf(name))
        .slice(0, 64 * 1024)
        .bytes()
      expect(executableFormat(header)).toEqual({ ...want, executable: true })
    })
  }
})

test('every artifact embeds the page assets and the templates, byte for byte', async () => {
  const assets = await Promise.all(['public/app.js', 'public/app.css'].map((path) => Bun.file(join(root, path)).bytes()))
  for (const target of RELEASE_TARGETS) {
    const bytes = Buffer.from(await Bun.file(fileOf(target.name)).arrayBuffer())
    for (const asset of assets)
      expect({ target: target.name, found: bytes.indexOf(asset) >= 0 }).toEqual({ target: target.name, found: true })
    // A sentence of templates/page.tsx: the JSX is compiled into the bundle, its text survives minification.
    expect({ target: target.name, found: bytes.includes('Watch a step think, live.') }).toEqual({
      target: target.name,
      found: true,
    })
  }
})

test('SHA256SUMS lists every artifact with its SHA-256, in the format sha256sum -c checks', async () => {
  const lines = (await Bun.file(join(out, 'SHA256SUMS')).text()).trimEnd().split('\n')
  const files = readdirSync(out).filter((name) => name !== 'SHA256SUMS')
  expect(lines).toHaveLength(files.length)
  for (const file of files) expect(lines).toContain(`${await sha256File(join(out, file))}  ${file}`)
  const check = Bun.spawnSync(['sha256sum', '-c', 'SHA256SUMS'], { cwd: out })
  expect(check.exitCode).toBe(0)
})

test('--version prints the version of package.json and the commit it was built from', () => {
  const hash = Bun.spawnSync(['git', 'rev-parse', '--short=12', 'HEAD'], { cwd: root }).stdout.toString().trim()
  expect(hash).toMatch(/^[0-9a-f]{12}$/)
  const printed = Bun.spawnSync([fileOf('linux-x64'), '--version'], { cwd: tmpdir() })
  expect(printed.exitCode).toBe(0)
  expect(printed.stdout.toString()).toMatch(new RegExp(`^stepstream ${version.replaceAll('.', '\\.')} \\(${hash}(-dirty)?\\)\\n$`))
})

describe('the README install: download, verify, chmod +x, run, alone in an empty folder', () => {
  const download = mkdtempSync(join(tmpdir(), 'stepstream-install-'))
  const data = join(download, 'data')
  const name = artifactName(version, RELEASE_TARGETS.find((t) => t.name === 'linux-x64')!)
  let server: SpawnedServer

  beforeAll(async () => {
    // What a person downloads: the one file for their machine and SHA256SUMS, which lists all six.
    copyFileSync(fileOf('linux-x64'), join(download, name))
    copyFileSync(join(out, 'SHA256SUMS'), join(download, 'SHA256SUMS'))
    chmodSync(join(download, name), 0o755)
    mkdirSync(data)
    server = await spawnServer([join(download, name)], { cwd: data, args: ['--echo-delay', '5'] })
  })

  afterAll(async () => {
    await server?.stop()
    rmSync(download, { recursive: true, force: true })
  })

  test('sha256sum -c --ignore-missing verifies the one file downloaded', () => {
    const check = Bun.spawnSync(['sha256sum', '-c', 'SHA256SUMS', '--ignore-missing'], { cwd: download })
    expect(check.exitCode).toBe(0)
    expect(check.stdout.toString()).toBe(`${name}: OK\n`)
  })

  test('the data goes to ./stepstream.db in the folder it runs from, and the first log line says so', () => {
    const listening = JSON.parse(
      server
        .log()
        .split('\n')
        .find((line) => line.includes('"msg":"listening"'))!,
    )
    expect(listening.database).toBe(join(data, 'stepstream.db'))
    expect(readdirSync(data).sort()).toEqual(['stepstream.db', 'stepstream.db-shm', 'stepstream.db-wal', 'stepstream.db.lock'])
  })

  test('it serves the page and its assets', async () => {
    const page = await fetch(`${server.base}/`)
    expect(page.status).toBe(200)
    const assets = [...(await page.text()).matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!)
    expect(assets.length).toBeGreaterThanOrEqual(4)
    for (const asset of assets) expect((await fetch(`${server.base}${asset}`)).status).toBe(200)
  })

  test('it streams an echo run to its final event', async () => {
    const id = (await startChat(server.base)).split('=')[1]!
    const stream = await SseReader.open(`${server.base}/api/sessions/${id}/stream`)
    const messages = await stream.until((m) => hasEnd(m))
    stream.close()
    expect(messages.filter((m) => m.event === 'partial').length).toBeGreaterThan(1)
    expect(messages.at(-1)!.event).toBe('final')
    expect(JSON.parse(messages.at(-1)!.data).text).toBe('Hello! Please tell me a short story about a robot.')
  })
})

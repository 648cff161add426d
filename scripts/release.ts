import { mkdirSync, readdirSync, rmSync } from 'node:fs'
import { basename, join } from 'node:path'
import { parseArgs } from 'node:util'
import { gitCommit, VERSION } from '../src/version.ts'

/**
 * `bun run release [--out <folder>] [--only linux-x64,darwin-arm64]`: one executable per platform, each with the
 * templates and assets embedded and the version and commit built in, and a SHA256SUMS file beside them (the format
 * `sha256sum -c` reads). Bun cross-compiles: each target's runtime comes from the npm registry once and is then
 * kept in Bun's install cache (~/.bun/install/cache), so the next release only bundles.
 */

export interface ReleaseTarget {
  /** `<os>-<arch>[-musl]`, the end of the file name. */
  name: string
  /** What `bun build --compile --target` takes. */
  bunTarget: string
}

// x64 targets take Bun's baseline runtime (x86-64-v2, any CPU since 2008): the default "modern" one needs AVX2 and
// dies with "Illegal instruction" on older servers and on VMs that hide AVX2, before a line of ours runs.
export const RELEASE_TARGETS: readonly ReleaseTarget[] = [
  { name: 'linux-x64', bunTarget: 'bun-linux-x64-baseline' },
  { name: 'linux-arm64', bunTarget: 'bun-linux-arm64' },
  { name: 'linux-x64-musl', bunTarget: 'bun-linux-x64-baseline-musl' },
  { name: 'darwin-x64', bunTarget: 'bun-darwin-x64-baseline' },
  { name: 'darwin-arm64', bunTarget: 'bun-darwin-arm64' },
  { name: 'windows-x64', bunTarget: 'bun-windows-x64-baseline' },
]

/** `stepstream-0.1.0-linux-x64`, with `.exe` for Windows, which runs nothing without it. */
export const artifactName = (version: string, target: ReleaseTarget) =>
  `stepstream-${version}-${target.name}${target.name.startsWith('windows-') ? '.exe' : ''}`

/**
 * The `bun build` command line of an executable, for `bun run build` (no target: this machine's) and for each release
 * artifact; `--define` takes JavaScript expressions, hence the JSON quotes.
 */
export function compileCommand(target: ReleaseTarget | undefined, outfile: string, version: string, commit: string): string[] {
  return [
    // The Bun running this script, not whichever `bun` the PATH finds first (another version, or none).
    process.execPath,
    'build',
    'src/main.ts',
    '--compile',
    ...(target ? [`--target=${target.bunTarget}`] : []),
    // Compiled to bytecode, the executable skips parsing its 4 MB of JavaScript at every start: cold start 152 → 53
    // ms (bench/, cold start). Bytecode needs the CommonJS format, hence no top-level await in src/main.ts.
    '--bytecode',
    '--format=cjs',
    '--minify',
    // Embedded in the executable: a stack trace in the logs names our source lines, not the minified bundle's.
    '--sourcemap',
    '--define',
    `STEPSTREAM_VERSION=${JSON.stringify(version)}`,
    '--define',
    `STEPSTREAM_COMMIT=${JSON.stringify(commit)}`,
    '--outfile',
    outfile,
  ]
}

/** SHA-256 of a file, in hex, read in chunks: an artifact is ~100 MB. */
export async function sha256File(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher('sha256')
  const reader = Bun.file(path).stream().getReader()
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) hasher.update(chunk.value)
  return hasher.digest('hex')
}

/** The lines of SHA256SUMS: `<hex>  <file name>` (two spaces: text mode), sorted by name, as `sha256sum` writes them. */
export const sumsText = (sums: readonly { name: string; sha256: string }[]) =>
  [...sums]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map(({ name, sha256 }) => `${sha256}  ${name}\n`)
    .join('')

const ROOT = join(import.meta.dir, '..')

function pick(only: string | undefined): readonly ReleaseTarget[] {
  if (only === undefined) return RELEASE_TARGETS
  return only.split(',').map((name) => {
    const target = RELEASE_TARGETS.find((t) => t.name === name.trim())
    if (!target)
      throw new Error(`--only: no target called ${JSON.stringify(name)}; the targets are ${RELEASE_TARGETS.map((t) => t.name).join(', ')}`)
    return target
  })
}

/** Builds `targets` into `out`, replacing the artifacts and SHA256SUMS an earlier release left there; returns their paths. */
export async function release(out: string, targets: readonly ReleaseTarget[], commit: string): Promise<string[]> {
  mkdirSync(out, { recursive: true })
  for (const old of readdirSync(out)) if (old.startsWith('stepstream-') || old === 'SHA256SUMS') rmSync(join(out, old))
  const files: string[] = []
  for (const target of targets) {
    const outfile = join(out, artifactName(VERSION, target))
    const started = performance.now()
    const build = Bun.spawnSync(compileCommand(target, outfile, VERSION, commit), { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
    if (build.exitCode !== 0) throw new Error(`building ${target.name} failed:\n${build.stderr.toString()}${build.stdout.toString()}`)
    // With --compile the map is embedded (traces name src/ lines with no file beside the binary); the copy Bun
    // also writes beside it is not part of the release.
    rmSync(`${outfile}.map`, { force: true })
    const mb = (Bun.file(outfile).size / 1e6).toFixed(1)
    process.stdout.write(`${basename(outfile)}  ${mb} MB  ${((performance.now() - started) / 1000).toFixed(1)} s\n`)
    files.push(outfile)
  }
  const sums = await Promise.all(files.map(async (file) => ({ name: basename(file), sha256: await sha256File(file) })))
  await Bun.write(join(out, 'SHA256SUMS'), sumsText(sums))
  return files
}

if (import.meta.main) {
  try {
    const { values } = parseArgs({ options: { out: { type: 'string' }, only: { type: 'string' } } })
    const out = values.out ?? join(ROOT, 'dist', 'release')
    // A release without a commit would print "unknown" forever; refuse instead of shipping that.
    const commit = gitCommit(ROOT)
    if (commit === undefined) throw new Error('cannot read the commit: run the release from a git checkout with git installed')
    await release(out, pick(values.only), commit)
    process.stdout.write(`SHA256SUMS written in ${out} (version ${VERSION}, commit ${commit})\n`)
  } catch (error) {
    process.stderr.write(`release: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
}

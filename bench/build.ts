import { mkdtempSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Builds the two executables the benchmark runs: stepstream's own `dist/stepstream` and the compiled baseline. */

export const ROOT = join(import.meta.dir, '..')
export const STEPSTREAM_BINARY = join(ROOT, 'dist', 'stepstream')

/** The newest modification time under the folders and files the binary is built from; epoch milliseconds. */
function newestSource(paths: string[]): number {
  let newest = 0
  const visit = (path: string) => {
    const stat = statSync(path, { throwIfNoEntry: false })
    if (!stat) return
    if (stat.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry))
    else newest = Math.max(newest, stat.mtimeMs)
  }
  for (const path of paths) visit(join(ROOT, path))
  return newest
}

function run(cmd: string[]): void {
  const result = Bun.spawnSync(cmd, { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' })
  if (result.exitCode !== 0) throw new Error(`${cmd.join(' ')} failed:\n${result.stderr.toString()}${result.stdout.toString()}`)
}

/** Runs `bun run build` when dist/stepstream is missing or older than its sources; returns its path. */
export function ensureStepstreamBinary(): string {
  const built = statSync(STEPSTREAM_BINARY, { throwIfNoEntry: false })?.mtimeMs ?? 0
  if (built < newestSource(['src', 'templates', 'public', 'package.json'])) run([process.execPath, 'run', 'build'])
  return STEPSTREAM_BINARY
}

/**
 * Compiles bench/baseline.ts the way stepstream is compiled (`--compile --minify`) into a fresh temporary folder,
 * so both servers start the same kind of executable and the cold starts compare.
 */
export function buildBaseline(): string {
  const outfile = join(mkdtempSync(join(tmpdir(), 'stepstream-bench-')), 'baseline')
  run([process.execPath, 'build', join(ROOT, 'bench', 'baseline.ts'), '--compile', '--minify', '--outfile', outfile])
  return outfile
}

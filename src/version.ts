import packageJson from '../package.json' with { type: 'json' }

// `bun run release` (scripts/release.ts) replaces these two names with string literals through `--define`. Run
// from source they are never declared, and `typeof` of an undeclared name is 'undefined', not a ReferenceError.
declare const STEPSTREAM_VERSION: string | undefined
declare const STEPSTREAM_COMMIT: string | undefined

/** The version of this build: the one built in by the release, else package.json's. */
export const VERSION: string = typeof STEPSTREAM_VERSION === 'string' ? STEPSTREAM_VERSION : packageJson.version

/**
 * The commit of the source tree at `cwd`: 12 hex digits of HEAD, with `-dirty` when files differ from it; undefined
 * when there is no git, no repository, or no folder (a compiled binary's own folder is virtual: `/$bunfs/root`).
 */
export function gitCommit(cwd: string): string | undefined {
  try {
    const head = Bun.spawnSync(['git', 'rev-parse', '--short=12', 'HEAD'], { cwd, stdout: 'pipe', stderr: 'ignore' })
    const hash = head.stdout.toString().trim()
    if (head.exitCode !== 0 || !/^[0-9a-f]{7,40}$/.test(hash)) return undefined
    // Tracked files only: an untracked scratch file does not change what is built.
    const status = Bun.spawnSync(['git', 'status', '--porcelain', '--untracked-files=no'], { cwd, stdout: 'pipe', stderr: 'ignore' })
    return status.exitCode === 0 && status.stdout.toString().trim() !== '' ? `${hash}-dirty` : hash
  } catch {
    // Bun.spawnSync throws when `git` is not installed or `cwd` does not exist.
    return undefined
  }
}

/** The commit this build came from: built in by the release, else asked of git beside the source, else `unknown`. */
export function buildCommit(): string {
  if (typeof STEPSTREAM_COMMIT === 'string') return STEPSTREAM_COMMIT
  return gitCommit(import.meta.dir) ?? 'unknown'
}

/** What `stepstream --version` prints: `stepstream 0.1.0 (0123456789ab)`. */
export const versionLine = (version: string, commit: string) => `stepstream ${version} (${commit})\n`

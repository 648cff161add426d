/**
 * `bun run build [--outfile PATH]`: the executable for this machine (default dist/stepstream), with the version and
 * the commit built in like a release's, so that `stepstream --version` names the source it came from.
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { CHECKPOINT_WORKER_ENTRY } from '../src/store/sqlite-checkpointer.ts'
import { gitCommit, VERSION } from '../src/version.ts'

const root = join(import.meta.dir, '..')
const { values } = parseArgs({ args: process.argv.slice(2), options: { outfile: { type: 'string' } } })
const commit = gitCommit(root) ?? 'unknown'
const build = Bun.spawnSync(
  [
    'bun',
    'build',
    'src/main.ts',
    // A Worker's source is bundled only when listed as an entrypoint of its own (Bun's docs, "Worker").
    CHECKPOINT_WORKER_ENTRY,
    '--compile',
    '--minify',
    '--sourcemap',
    '--outfile',
    values.outfile ?? join('dist', 'stepstream'),
    '--define',
    `STEPSTREAM_VERSION=${JSON.stringify(VERSION)}`,
    '--define',
    `STEPSTREAM_COMMIT=${JSON.stringify(commit)}`,
  ],
  { cwd: root, stdout: 'inherit', stderr: 'inherit' },
)
process.exit(build.exitCode ?? 1)

/**
 * `bun run build [--outfile PATH]`: the executable for this machine (default dist/stepstream), with the version and
 * the commit built in like a release's, so that `stepstream --version` names the source it came from.
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { gitCommit, VERSION } from '../src/version.ts'
import { compileCommand } from './release.ts'

const root = join(import.meta.dir, '..')
const { values } = parseArgs({ args: process.argv.slice(2), options: { outfile: { type: 'string' } } })
const command = compileCommand(undefined, values.outfile ?? join('dist', 'stepstream'), VERSION, gitCommit(root) ?? 'unknown')
const build = Bun.spawnSync(command, { cwd: root, stdout: 'inherit', stderr: 'inherit' })
process.exit(build.exitCode ?? 1)

import { expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import packageJson from '../../package.json' with { type: 'json' }
import { gitCommit, VERSION, versionLine } from '../../src/version.ts'
import { slowTests } from '../helpers/slow-tests.ts'

// It runs bun src/main.ts: seconds on a loaded machine, past Bun's 5 s default.
slowTests()

const root = join(import.meta.dir, '../..')

test('from source, --version prints the version of package.json and the commit git reports', () => {
  const hash = Bun.spawnSync(['git', 'rev-parse', '--short=12', 'HEAD'], { cwd: root }).stdout.toString().trim()
  // From another folder: the commit is the source tree's, not the working folder's.
  const printed = Bun.spawnSync([process.execPath, join(root, 'src/main.ts'), '--version'], { cwd: tmpdir() })
  expect(printed.exitCode).toBe(0)
  expect(printed.stdout.toString()).toMatch(
    new RegExp(`^stepstream ${packageJson.version.replaceAll('.', '\\.')} \\(${hash}(-dirty)?\\)\\n$`),
  )
  expect(VERSION).toBe(packageJson.version)
})

test('outside a git repository, or in a folder that does not exist, there is no commit rather than a crash', () => {
  const alone = mkdtempSync(join(tmpdir(), 'stepstream-nogit-'))
  try {
    expect(gitCommit(alone)).toBeUndefined()
    expect(gitCommit(join(alone, 'missing'))).toBeUndefined()
  } finally {
    rmSync(alone, { recursive: true, force: true })
  }
})

test('the version line names both', () => {
  expect(versionLine('1.2.3', 'unknown')).toBe('stepstream 1.2.3 (unknown)\n')
})

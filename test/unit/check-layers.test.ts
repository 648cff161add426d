import { describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { ALLOWED_HOPS, collectImports, report, findCycles, misplacedPackages, nodeOf, valueImports } from '../../scripts/check-layers.ts'

/** A throwaway source tree: path → text. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'layers-'))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  return dir
}

const check = (dir: string, allowed: readonly (readonly [string, string])[] = []) => {
  const roots = [join(dir, 'src')]
  return findCycles(collectImports(roots).files, roots, allowed)
}

describe('the folder graph of src/ (scripts/check-layers.ts)', () => {
  test('finds a cycle between two folders and names it with the imports behind each hop', () => {
    const dir = tree({
      'src/agui/map.ts': "import { parse } from '../steps/parse.ts'\nexport const map = parse",
      'src/steps/parse.ts': 'export const parse = 1',
      'src/steps/answer.ts': "import { map } from '../agui/map.ts'\nexport const answer = map",
    })
    const { cycles, stale } = check(dir)
    expect(stale).toEqual([])
    expect(cycles).toHaveLength(1)
    const src = join(dir, 'src')
    expect(cycles[0]!.nodes).toEqual([`${src}/agui`, `${src}/steps`])
    expect(cycles[0]!.hops[0]!.imports).toEqual([{ from: `${src}/agui/map.ts`, to: `${src}/steps/parse.ts` }])
    const text = report(cycles, stale)
    expect(text).toContain(`cycle: ${src}/agui → ${src}/steps → ${src}/agui`)
    expect(text).toContain(`${src}/steps/answer.ts imports ${src}/agui/map.ts`)
  })

  test('a cycle through a file at the top of src/ and a longer ring are found too', () => {
    const dir = tree({
      'src/config.ts': "import { step } from './steps/step.ts'\nexport const config = step",
      'src/steps/step.ts': "import { store } from '../store/store.ts'\nexport const step = store",
      'src/store/store.ts': "import { config } from '../config.ts'\nexport const store = config",
    })
    const src = join(dir, 'src')
    expect(check(dir).cycles.map((cycle) => cycle.nodes)).toEqual([[`${src}/config.ts`, `${src}/steps`, `${src}/store`]])
  })

  test('type-only imports do not count; `import { type A }`, `export … from` and import() do', () => {
    expect(valueImports('a.ts', "import type { A } from './a.ts'\nexport type { B } from './b.ts'")).toEqual([])
    expect(
      valueImports(
        'a.ts',
        "import { type A } from './a.ts'\nexport { b } from './b.ts'\nimport './c.ts'\nconst d = () => import('./d.ts')",
      ),
    ).toEqual(['./a.ts', './b.ts', './c.ts', './d.ts'])
    const dir = tree({
      'src/agui/map.ts': "import type { Parse } from '../steps/parse.ts'\nexport type Map = Parse",
      'src/steps/parse.ts': "import { map } from '../agui/map.ts'\nexport type Parse = typeof map",
    })
    expect(check(dir).cycles).toEqual([])
  })

  test('imports inside a folder, of subfolders and of packages are no hops', () => {
    const dir = tree({
      'src/steps/tools/tool.ts':
        "import { step } from '../step.ts'\nimport { Type } from '@sinclair/typebox'\nexport const tool = [step, Type]",
      'src/steps/step.ts': "import { tool } from './tools/tool.ts'\nexport const step = tool",
    })
    expect(nodeOf(join(dir, 'src/steps/tools/tool.ts'), [join(dir, 'src')])).toBe(`${join(dir, 'src')}/steps`)
    expect(check(dir).cycles).toEqual([])
  })

  test('an allowed hop mutes its cycle, and an allowed hop that closes no cycle is reported as stale', () => {
    const dir = tree({
      'src/a/x.ts': "import { y } from '../b/y.ts'\nexport const x = y",
      'src/b/y.ts': "import { x } from '../a/x.ts'\nexport const y = x",
      'src/c/z.ts': "import { y } from '../b/y.ts'\nexport const z = y",
    })
    const src = join(dir, 'src')
    const { cycles, stale } = check(dir, [
      [`${src}/b`, `${src}/a`],
      [`${src}/c`, `${src}/b`],
    ])
    expect(cycles).toEqual([])
    expect(stale).toEqual([`${src}/c → ${src}/b`])
  })

  test('the web framework is loaded only where PACKAGE_HOMES says: an event model that imports Elysia is named', () => {
    const dir = tree({
      'src/events.ts': "import { t } from 'elysia'\nimport type { Static } from '@elysiajs/html'\nexport const Text = t.String()",
      'src/http/api.ts': "import { Elysia } from 'elysia'\nimport { Text } from '../events.ts'\nexport const api = [Elysia, Text]",
      'src/steps/tool.ts': "import { Type } from '@sinclair/typebox/compiler'\nexport const tool = Type",
    })
    const roots = [join(dir, 'src')]
    const homes = new Map([['elysia', [`${roots[0]}/http`]]])
    expect(misplacedPackages(collectImports(roots).packages, roots, homes)).toEqual([
      `${roots[0]}/events.ts imports elysia, which only ${roots[0]}/http may load (check-layers.ts PACKAGE_HOMES)`,
    ])
  })

  test('stepstream’s own src/ and templates/ have no cycle (beyond the allow-list, whose entries all still close one), and Elysia stays in HTTP', () => {
    const roots = ['src', 'templates']
    const { files, packages } = collectImports(roots)
    expect(findCycles(files, roots, ALLOWED_HOPS)).toEqual({ cycles: [], stale: [] })
    expect(misplacedPackages(packages, roots)).toEqual([])
  })
})

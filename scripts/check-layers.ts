/**
 * `bun run check:layers`: fails when the folders of `src/` import each other in a cycle, naming the cycle and the
 * imports that close it. A cycle between folders means neither can be understood, tested or replaced without the
 * other; docs/architecture.md draws the order they follow instead.
 *
 * The graph has one node per folder directly under a root (`src/steps`, with `src/steps/tools` inside it) and one
 * per file at the top of a root (`src/events.ts`, `src/config.ts`). An edge is a value import between two nodes:
 * `import`, `export … from` and `import()` of a relative path. `import type` and `export type` are erased and do
 * not count; `import { type A }` does, because under `verbatimModuleSyntax` it still loads the module.
 *
 * It also fails when a package of PACKAGE_HOMES (the web framework) is loaded outside its homes. Exits 1 with one
 * block per cycle and one line per such import, 0 when there is none.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import ts from 'typescript'

/** A value import from one file to another, as paths under the roots given. */
export interface Import {
  from: string
  to: string
}

/** One cycle: its nodes in order (the first imports the second, …, the last imports the first), and the imports behind each hop. */
export interface LayerCycle {
  nodes: string[]
  hops: { from: string; to: string; imports: Import[] }[]
}

/**
 * Hops that may still close a cycle, as `[from, to]` of two nodes, each with a comment naming the change that removes
 * it. Empty: the couplings issue 21 names between config.ts, steps/ and store/ (steps reading their options' types
 * from config.ts, the store's default ECHO_STEP) are `import type` or a name, not value imports. The check fails on
 * an entry that closes no cycle, so one added for a change in flight is deleted when that change lands.
 */
export const ALLOWED_HOPS: readonly (readonly [string, string])[] = []

/** A value import of a package (`elysia`, `@elysiajs/html`) by a file. */
export interface PackageImport {
  from: string
  name: string
}

/**
 * Packages that only some nodes may load, and which. The web framework stays in the HTTP layer and the assembly, so
 * that the event model, the steps, the runs and the stores load (and are tested, and embedded) without it.
 */
const HTTP_AND_ASSEMBLY = ['src/http', 'src/app.ts', 'src/create-server.ts', 'src/server.ts', 'src/main.ts']
export const PACKAGE_HOMES: ReadonlyMap<string, readonly string[]> = new Map([
  ['elysia', HTTP_AND_ASSEMBLY],
  ['@elysiajs/html', HTTP_AND_ASSEMBLY],
])

/** The value imports of every .ts/.tsx file under `roots`: of other files, and of packages. */
export function collectImports(roots: readonly string[]): { files: Import[]; packages: PackageImport[] } {
  const files: Import[] = []
  const packages: PackageImport[] = []
  for (const file of roots.flatMap(sourceFiles)) {
    for (const specifier of valueImports(file, readFileSync(file, 'utf8'))) {
      if (specifier.startsWith('.')) files.push({ from: file, to: join(dirname(file), specifier) })
      else packages.push({ from: file, name: packageName(specifier) })
    }
  }
  return { files, packages }
}

/** `@scope/name` or `name`, without the path inside the package; `node:` and `bun:` modules are their own name. */
const packageName = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/')

/** One line per import of a package (of `homes`) by a node that is not among its homes. */
export function misplacedPackages(
  packages: readonly PackageImport[],
  roots: readonly string[],
  homes: ReadonlyMap<string, readonly string[]> = PACKAGE_HOMES,
): string[] {
  return packages.flatMap(({ from, name }) => {
    const allowed = homes.get(name)
    const node = nodeOf(from, roots)
    if (!allowed || !node || allowed.includes(node)) return []
    return [`${from} imports ${name}, which only ${allowed.join(', ')} may load (check-layers.ts PACKAGE_HOMES)`]
  })
}

/** The relative-or-bare specifiers `text` (the source of `file`) loads at run time. */
export function valueImports(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, file.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS)
  const found: string[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!node.importClause?.isTypeOnly) found.push(node.moduleSpecifier.text)
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      if (!node.isTypeOnly) found.push(node.moduleSpecifier.text)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [argument] = node.arguments
      if (argument && ts.isStringLiteralLike(argument)) found.push(argument.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

/** The node `file` belongs to: its folder directly under one of `roots`, or itself when it sits at a root's top. */
export function nodeOf(file: string, roots: readonly string[]): string | undefined {
  for (const root of roots) {
    const inside = relative(root, file)
    if (inside === '' || inside.startsWith('..')) continue
    const [first, ...rest] = inside.split(sep)
    return join(root, rest.length > 0 ? first! : inside)
      .split(sep)
      .join('/')
  }
  return undefined
}

/**
 * The cycles among the nodes of `roots` that `imports` make, leaving out the hops in `allowed`; plus the allowed
 * hops that close no cycle any more (stale entries to delete).
 */
export function findCycles(
  imports: readonly Import[],
  roots: readonly string[],
  allowed: readonly (readonly [string, string])[] = [],
): { cycles: LayerCycle[]; stale: string[] } {
  const hops = new Map<string, Map<string, Import[]>>()
  for (const edge of imports) {
    const from = nodeOf(edge.from, roots)
    const to = nodeOf(edge.to, roots)
    if (!from || !to || from === to) continue
    const out = hops.get(from) ?? new Map<string, Import[]>()
    hops.set(from, out)
    out.set(to, [...(out.get(to) ?? []), edge])
  }
  const isAllowed = (from: string, to: string) => allowed.some(([a, b]) => a === from && b === to)
  const everyHop = (from: string) => [...(hops.get(from)?.keys() ?? [])]
  const keptHop = (from: string) => everyHop(from).filter((to) => !isAllowed(from, to))

  const whole = components(hops.keys(), everyHop)
  const stale = allowed.filter(([from, to]) => !hops.get(from)?.has(to) || whole.get(from) !== whole.get(to)).map(([a, b]) => `${a} → ${b}`)

  const kept = components(hops.keys(), keptHop)
  const cycles: LayerCycle[] = []
  for (const members of groupBy(kept)) {
    if (members.length < 2) continue
    const nodes = shortestCycle(members[0]!, (node) => keptHop(node).filter((to) => kept.get(to) === kept.get(node)))
    const ring = nodes.map((from, i) => ({ from, to: nodes[(i + 1) % nodes.length]! }))
    cycles.push({ nodes, hops: ring.map(({ from, to }) => ({ from, to, imports: hops.get(from)?.get(to) ?? [] })) })
  }
  return { cycles, stale }
}

/** Tarjan's strongly connected components: each node's component number. */
function components(nodes: Iterable<string>, next: (node: string) => string[]): Map<string, number> {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const component = new Map<string, number>()
  const stack: string[] = []
  let counter = 0
  let found = 0
  const connect = (node: string): void => {
    index.set(node, counter)
    low.set(node, counter++)
    stack.push(node)
    for (const to of next(node)) {
      if (!index.has(to)) {
        connect(to)
        low.set(node, Math.min(low.get(node)!, low.get(to)!))
      } else if (!component.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!))
    }
    if (low.get(node) !== index.get(node)) return
    for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
      component.set(member, found)
      if (member === node) break
    }
    found++
  }
  for (const node of nodes) if (!index.has(node)) connect(node)
  return component
}

function groupBy(component: Map<string, number>): string[][] {
  const groups = new Map<number, string[]>()
  for (const [node, id] of component) groups.set(id, [...(groups.get(id) ?? []), node].sort())
  return [...groups.values()]
}

/** The shortest way from `start` back to itself (breadth first), as the list of nodes visited. */
function shortestCycle(start: string, next: (node: string) => string[]): string[] {
  const cameFrom = new Map<string, string>()
  const queue = [start]
  for (let node = queue.shift(); node !== undefined; node = queue.shift()) {
    for (const to of next(node).sort()) {
      if (to === start) {
        const path = [node]
        for (let at = node; at !== start; at = cameFrom.get(at)!) path.unshift(cameFrom.get(at)!)
        return path
      }
      if (cameFrom.has(to)) continue
      cameFrom.set(to, node)
      queue.push(to)
    }
  }
  return [start]
}

function sourceFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return /\.tsx?$/.test(path) && !path.endsWith('.d.ts') ? [path] : []
  return readdirSync(path)
    .sort()
    .flatMap((name) => sourceFiles(join(path, name)))
}

/** The report for `cycles` and `stale` allow-list entries, one block each. */
export function report(cycles: readonly LayerCycle[], stale: readonly string[]): string {
  const blocks = cycles.map((cycle) => {
    const lines = cycle.hops.map(({ from, to, imports }) => {
      const [first] = imports
      const example = first ? ` (${first.from} imports ${first.to}${imports.length > 1 ? ` and ${imports.length - 1} more` : ''})` : ''
      return `  ${from} → ${to}${example}`
    })
    return `cycle: ${[...cycle.nodes, cycle.nodes[0]].join(' → ')}\n${lines.join('\n')}`
  })
  for (const entry of stale)
    blocks.push(`allow-list entry ${entry} closes no cycle any more: delete it from ALLOWED_HOPS in scripts/check-layers.ts`)
  return blocks.join('\n')
}

if (import.meta.main) {
  const roots = process.argv.slice(2).map((root) => root.replace(/\/+$/, ''))
  if (roots.length === 0) roots.push('src')
  const { files, packages } = collectImports(roots)
  const { cycles, stale } = findCycles(files, roots, ALLOWED_HOPS)
  const misplaced = misplacedPackages(packages, roots)
  if (cycles.length > 0 || stale.length > 0 || misplaced.length > 0) {
    console.error([report(cycles, stale), ...misplaced].filter(Boolean).join('\n'))
    console.error('\nFolders import in one direction: see docs/architecture.md for the layering.')
    process.exit(1)
  }
  console.log(`no import cycle between the folders of ${roots.join(', ')}, and the web framework only in HTTP`)
}

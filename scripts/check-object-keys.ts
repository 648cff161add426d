/**
 * `bun run check:keys`: finds plain objects used as maps keyed by strings, the bug class of issue 20's first finding
 * (a client's toolCallId of `__proto__` wrote onto every object in the process). Anything from a request, an agent
 * or a model is data: look it up in a `Map`. With the type checker, it flags
 *
 * - `obj[key]`, read, written or deleted, where `key` is a `string` that is not a literal type (a union of literals,
 *   such as an `EventType`, names keys the code wrote itself, and is fine), on anything but an array or a string;
 * - `key in obj` where `key` is such a string.
 *
 * A `{}` or `Record<string, …>` used as a map is found where it is used as one: at its lookups and writes by such a
 * key. One that must stay says why in a comment before the statement that holds it (or at the end of its line):
 * `// object-key-ok: <reason>`. Exits 1 with one line per finding (`path:line:column message`), 0 when there are none.
 */
import { relative } from 'node:path'
import ts from 'typescript'

/** One plain-object map keyed by a string. */
export interface KeyFinding {
  file: string
  line: number
  column: number
  message: string
}

const OPT_OUT = /\/\/\s*object-key-ok:\s*\S/

/** The findings in `files` (paths of .ts/.tsx files), type-checked with the project's compiler options. */
export function checkObjectKeys(files: readonly string[], options: ts.CompilerOptions = projectOptions()): KeyFinding[] {
  const program = ts.createProgram(files, { ...options, noEmit: true })
  const checker = program.getTypeChecker()
  const findings: KeyFinding[] = []
  for (const file of files) {
    const source = program.getSourceFile(file)
    if (!source) throw new Error(`${file} could not be read`)
    const report = (node: ts.Node, message: string) => {
      if (optedOut(node, source)) return
      const { line, character } = source.getLineAndCharacterOfPosition(node.getStart(source))
      findings.push({ file, line: line + 1, column: character + 1, message })
    }
    const visit = (node: ts.Node): void => {
      const finding = findingAt(node, checker)
      if (finding) report(node, finding)
      ts.forEachChild(node, visit)
    }
    visit(source)
  }
  return findings
}

function findingAt(node: ts.Node, checker: ts.TypeChecker): string | undefined {
  if (ts.isElementAccessExpression(node)) {
    const key = node.argumentExpression
    if (!isOpenString(checker.getTypeAtLocation(key))) return undefined
    const target = checker.getTypeAtLocation(node.expression)
    // `any` passes for an array too: an `any` indexed by a string is flagged like an object.
    if (!(target.flags & ts.TypeFlags.Any) && (checker.isArrayLikeType(target) || isStringLike(target))) return undefined
    return `${short(node.expression)}[${short(key)}]: an object indexed by a string; keep such lookups in a Map`
  }
  if (ts.isComputedPropertyName(node) && isOpenString(checker.getTypeAtLocation(node.expression))) {
    return `[${short(node.expression)}]: a property named by a string, in an object or a destructuring; keep such lookups in a Map`
  }
  if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
    const callee = node.expression.getText()
    const key = node.arguments[1]
    if (REFLECTS.has(callee) && key && isOpenString(checker.getTypeAtLocation(key))) {
      return `${callee}(…, ${short(key)}): an object indexed by a string; keep such lookups in a Map`
    }
    // Object.assign copies every own key of its sources, `__proto__` of a parsed JSON object included.
    const open = callee === 'Object.assign' && node.arguments.slice(1).find((source) => isOpenObject(checker.getTypeAtLocation(source)))
    if (open) return `Object.assign(…, ${short(open)}): copies keys that came from outside onto an object; keep them in a Map`
  }
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.InKeyword) {
    if (!isOpenString(checker.getTypeAtLocation(node.left))) return undefined
    return `${short(node.left)} in ${short(node.right)}: a string looked up among an object's keys; keep such lookups in a Map`
  }
  return undefined
}

/** True when a comment before the node or one of the statements around it, or at the end of its line, says why. */
function optedOut(node: ts.Node, source: ts.SourceFile): boolean {
  const { line } = source.getLineAndCharacterOfPosition(node.getStart(source))
  const end = source.getLineEndOfPosition(node.getStart(source))
  if (OPT_OUT.test(source.text.slice(source.getPositionOfLineAndCharacter(line, 0), end))) return true
  for (let at: ts.Node | undefined = node; at && !ts.isSourceFile(at); at = at.parent) {
    const comments = ts.getLeadingCommentRanges(source.text, at.getFullStart()) ?? []
    if (comments.some((c) => OPT_OUT.test(source.text.slice(c.pos, c.end)))) return true
  }
  return false
}

/** `string`, `any`, `unknown`, or a template literal type, alone or in a union: keys nobody listed. */
function isOpenString(type: ts.Type): boolean {
  if (type.isUnion()) return type.types.some(isOpenString)
  const open = ts.TypeFlags.String | ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.TemplateLiteral
  return (type.flags & open) !== 0
}

/** The Reflect calls that look a property up by the key in their second argument. */
const REFLECTS = new Set(['Reflect.get', 'Reflect.set', 'Reflect.has', 'Reflect.deleteProperty', 'Reflect.defineProperty'])

/** `any`, `unknown`, or an object type with a string index signature: keys nobody listed. */
function isOpenObject(type: ts.Type): boolean {
  if (type.isUnion()) return type.types.some(isOpenObject)
  if (type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return true
  return type.getStringIndexType() !== undefined
}

function isStringLike(type: ts.Type): boolean {
  return (type.flags & ts.TypeFlags.StringLike) !== 0
}

const short = (node: ts.Node) => {
  const text = node.getText().replace(/\s+/g, ' ')
  return text.length > 40 ? `${text.slice(0, 37)}…` : text
}

function projectOptions(): ts.CompilerOptions {
  const path = ts.findConfigFile(process.cwd(), ts.sys.fileExists)
  if (!path) return {}
  const { config } = ts.readConfigFile(path, ts.sys.readFile)
  return ts.parseJsonConfigFileContent(config, ts.sys, process.cwd()).options
}

if (import.meta.main) {
  const roots = process.argv.length > 2 ? process.argv.slice(2) : ['src']
  const files = roots.flatMap((root) => [...new Bun.Glob('**/*.{ts,tsx}').scanSync(root)].map((file) => `${root}/${file}`)).sort()
  const findings = checkObjectKeys(files)
  for (const f of findings) console.log(`${relative(process.cwd(), f.file)}:${f.line}:${f.column} ${f.message}`)
  if (findings.length > 0) {
    console.log(`\n${findings.length} plain-object map(s) keyed by strings. Use a Map, or say why not: // object-key-ok: <reason>`)
    process.exit(1)
  }
  console.log(`No plain-object maps keyed by strings in ${files.length} files.`)
}

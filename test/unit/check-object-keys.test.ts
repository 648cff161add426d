import { describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkObjectKeys } from '../../scripts/check-object-keys.ts'

const SAMPLES = {
  bad: `
      const calls: Record<string, { args: string }> = {}
      export function onArgs(toolCallId: string, delta: string) {
        const call = calls[toolCallId]
        if (call) call.args += delta
        calls[toolCallId] = { args: delta }
        if (toolCallId in calls) delete calls[toolCallId]
      }
      export const lookup = (table: { [name: string]: number }, name: \`id-\${string}\`) => table?.[name]
      export const anyKey = (body: any, key: string | number) => body[key]
      export const picked = (body: Record<string, number>, key: string) => { const { [key]: value } = body; return value }
      export const built = (key: string) => ({ [key]: 1 })
      export const reflected = (target: object, key: string) => Reflect.get(target, key)
      export const merged = (parsed: unknown) => Object.assign({}, parsed)
    `,
  good: `
      type EventType = 'user' | 'final'
      const counts: Record<EventType, number> = { user: 0, final: 0 }
      const calls = new Map<string, { args: string }>()
      export function ok(type: EventType, id: string, list: string[], i: number, text: string) {
        counts[type]++
        counts['final'] = 1
        calls.set(id, { args: '' })
        const headers: Record<string, string> = {}
        headers['retry-after'] = '5'
        if ('user' in counts) list[i] = text[i] ?? ''
        // object-key-ok: the environment, read by this program's own variable names.
        const fromEnv = (name: string) => process.env[name]
        const merged = Object.assign({}, { id }, counts)
        const named = { [type]: 1, ['literal']: 2 }
        return [calls.get(id), fromEnv(id), headers, Object.hasOwn(counts, id), merged, named]
      }
    `,
  reasonless: 'export const f = (o: Record<string, number>, k: string) => o[k] // object-key-ok:\n',
}

// One program for all the samples: building one (the type checker, the default libraries) takes seconds.
const dir = mkdtempSync(join(tmpdir(), 'check-keys-'))
for (const [name, text] of Object.entries(SAMPLES)) writeFileSync(join(dir, `${name}.ts`), text)
const findings = checkObjectKeys(
  Object.keys(SAMPLES).map((name) => join(dir, `${name}.ts`)),
  { strict: true, noUncheckedIndexedAccess: true },
)

/** The findings of `bun run check:keys` in one sample, as `line message`. */
const check = (sample: keyof typeof SAMPLES): string[] =>
  findings.filter((f) => f.file === join(dir, `${sample}.ts`)).map((f) => `${f.line} ${f.message}`)

describe('check:keys, the CI check for plain objects keyed by outside input', () => {
  test('flags lookups, writes, deletes and `in` by a string on a plain object (the AG-UI mapper’s bug)', () => {
    const findings = check('bad')
    expect(findings).toEqual([
      '4 calls[toolCallId]: an object indexed by a string; keep such lookups in a Map',
      '6 calls[toolCallId]: an object indexed by a string; keep such lookups in a Map',
      "7 toolCallId in calls: a string looked up among an object's keys; keep such lookups in a Map",
      '7 calls[toolCallId]: an object indexed by a string; keep such lookups in a Map',
      '9 table[name]: an object indexed by a string; keep such lookups in a Map',
      '10 body[key]: an object indexed by a string; keep such lookups in a Map',
      '11 [key]: a property named by a string, in an object or a destructuring; keep such lookups in a Map',
      '12 [key]: a property named by a string, in an object or a destructuring; keep such lookups in a Map',
      '13 Reflect.get(…, key): an object indexed by a string; keep such lookups in a Map',
      '14 Object.assign(…, parsed): copies keys that came from outside onto an object; keep them in a Map',
    ])
  })

  test('passes Maps, arrays, literal keys, keys of a closed union, and lines that say why', () => {
    const findings = check('good')
    expect(findings).toEqual([])
  })

  test('an opt-out needs a reason', () => {
    expect(check('reasonless')).toHaveLength(1)
  })
})

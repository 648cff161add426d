import { expect, test } from 'bun:test'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'

/**
 * The README starts where a newcomer does and stays short, and no link of it or of docs/ leads nowhere: each
 * relative link names a file that exists, and each `#anchor` a heading of its target (GitHub's slugs).
 */

const ROOT = join(import.meta.dir, '../..')
const README = readFileSync(join(ROOT, 'README.md'), 'utf8')
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
]

/** GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces as `-`. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-')

function anchorsOf(page: string): Set<string> {
  const text = readFileSync(join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '')
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)))
}

test('the README opens with the two commands, what it is and a screenshot, in its first 40 lines, and keeps to 450 lines', () => {
  const lines = README.split('\n')
  const top = lines.slice(0, 40).join('\n')
  expect(top).toContain('npm install -g bun && bun install && bun run start')
  expect(top).toContain('bun test')
  const image = top.match(/!\[[^\]]+\]\(([^)]+)\)/)?.[1]
  expect(image).toBeDefined()
  expect(existsSync(join(ROOT, image!))).toBe(true)
  expect(README).toContain('## Contents')
  expect(lines.length).toBeLessThanOrEqual(450)
})

test('every relative link of the README and docs/ names a file that exists, and a heading of it', () => {
  const broken: string[] = []
  for (const page of PAGES) {
    const text = readFileSync(join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '')
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue
      const [file, anchor] = target!.split('#') as [string, string | undefined]
      const path = file === '' ? page : normalize(join(dirname(page), file))
      if (!existsSync(join(ROOT, path))) broken.push(`${page}: ${target} (no ${path})`)
      else if (anchor !== undefined && path.endsWith('.md') && !anchorsOf(path).has(anchor)) broken.push(`${page}: ${target} (no heading)`)
    }
  }
  expect(broken).toEqual([])
})

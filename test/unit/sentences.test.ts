import { describe, expect, test } from 'bun:test'
import { Glob } from 'bun'
import { join } from 'node:path'
import { quoted, withArticle } from '../../src/sentence.ts'
import { QUOTED_MAX_CHARS } from '../../src/limits.ts'

// The sentences a user reads are string literals in src/, templates/ and the page's script: these checks keep the grammar slips issue
// 23 found ("a interrupt event", a doubled full stop) from coming back.

const root = join(import.meta.dir, '../..')

/** Words a sentence here puts after an article, that take `an`: event types, and what errors talk about. */
const AN_WORDS = [
  'interrupt',
  'error',
  'event',
  'agent',
  'answer',
  'empty',
  'invalid',
  'open',
  'unknown',
  'upstream',
  'input',
  'object',
  'array',
  'integer',
  'offset',
  'owner',
  'item',
  'idle',
  'echo',
  'openai',
  'agui',
  'AG-UI',
  'HTTP',
  'HTML',
  'SSE',
  'API',
  'ETag',
]

interface Literal {
  file: string
  line: number
  text: string
}

/** The string literals of a source file: quoted and template strings, each with the line it starts on. */
function literalsOf(file: string, source: string): Literal[] {
  const found: Literal[] = []
  // A rough lexer is enough: comments are skipped so that prose in them is not judged as a sentence.
  const token = /\/\/[^\n]*|\/\*[\s\S]*?\*\/|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g
  for (const match of source.matchAll(token)) {
    const text = match[0]
    if (text.startsWith('//') || text.startsWith('/*')) continue
    found.push({ file, line: source.slice(0, match.index).split('\n').length, text: text.slice(1, -1) })
  }
  return found
}

async function literals(): Promise<Literal[]> {
  const all: Literal[] = []
  for (const pattern of ['src/**/*.{ts,tsx}', 'templates/**/*.{ts,tsx}', 'public/**/*.js']) {
    for await (const file of new Glob(pattern).scan(root)) all.push(...literalsOf(file, await Bun.file(join(root, file)).text()))
  }
  return all
}

/** What is wrong with one literal's grammar, if anything. */
function slips(text: string): string[] {
  const found: string[] = []
  const anWord = new RegExp(`(?:^|[^\\w-])[Aa] (${AN_WORDS.join('|')})\\b`)
  const article = anWord.exec(text)
  if (article) found.push(`"a ${article[1]}" should be "an ${article[1]}"`)
  // An article before an interpolated word cannot know the word: withArticle picks it.
  if (/(?:^|[^\w-])[Aa]n? \$\{/.test(text)) found.push('an article before an interpolated word: use withArticle()')
  // A doubled full stop: two after a word, at the end or before a space. An ellipsis, a path (`../`), a range
  // (`a..b`) and Lua's ` .. ` are not.
  if (/[\p{L}\d)"'”}]\.\.(?!\.)(?=\s|$)/u.test(text)) found.push('a doubled full stop')
  return found
}

describe('the sentences in src/, templates/ and public/', () => {
  test('the scan finds the slips it looks for', () => {
    expect(slips('The event is a interrupt event.')).toEqual(['"a interrupt" should be "an interrupt"'])
    expect(slips(`It is a \${type} event`)).toEqual(['an article before an interpolated word: use withArticle()'])
    expect(slips('Start a new chat..')).toEqual(['a doubled full stop'])
    expect(slips('Start a new chat. Then..')).toEqual(['a doubled full stop'])
    expect(slips('Wait... an error, a user, a URL, ../up, none of them . or .., d1a4ae8..731dcc5')).toEqual([])
  })

  test('have no "a" before a vowel sound, no article before an interpolated word, and no doubled full stop', async () => {
    const found = (await literals()).flatMap(({ file, line, text }) => slips(text).map((slip) => `${file}:${line}: ${slip}`))
    expect(found).toEqual([])
  })
})

describe('sentence pieces', () => {
  test('withArticle picks the article by how the word starts', () => {
    expect(['interrupt', 'error', 'partial', 'user', 'unknown', 'URI', 'Echo'].map(withArticle)).toEqual([
      'an interrupt',
      'an error',
      'a partial',
      'a user',
      'an unknown',
      'a URI',
      'an Echo',
    ])
  })

  test('a quoted text is cut at QUOTED_MAX_CHARS', () => {
    expect(quoted('short')).toBe('short')
    expect(quoted('x'.repeat(QUOTED_MAX_CHARS + 50))).toBe(`${'x'.repeat(QUOTED_MAX_CHARS)}…`)
  })
})

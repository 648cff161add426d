import { describe, expect, test } from 'bun:test'
import { Glob } from 'bun'
import { join } from 'node:path'
import { localPath } from '../../src/http/login.tsx'
import { attachment, headerValue, seeOther } from '../../src/http/safe-headers.ts'

const SRC = join(import.meta.dir, '../../src')

/** Headers whose value can come from outside the app: only src/http/safe-headers.ts may set them. */
const GUARDED = /(?:['"]?\b(?:location|hx-push-url|hx-redirect|content-disposition)\b['"]?\s*[:\]=,)]|set\.redirect\b|\bredirect\()/i

/** Every control character a crafted `next` could carry, and the bytes past ASCII. */
const CONTROLS = [...Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)), '\x7f', '\u0085', '\u2028', 'é']

describe('headers set from outside data', () => {
  test('no module but safe-headers.ts sets Location, HX-Push-Url, HX-Redirect or Content-Disposition', async () => {
    const offenders: string[] = []
    for await (const file of new Glob('**/*.{ts,tsx}').scan(SRC)) {
      if (file === 'http/safe-headers.ts') continue
      const lines = (await Bun.file(join(SRC, file)).text()).split('\n')
      lines.forEach((line, at) => {
        if (GUARDED.test(line) && !/^\s*(?:\*|\/\/)/.test(line)) offenders.push(`src/${file}:${at + 1}: ${line.trim()}`)
      })
    }
    expect(offenders).toEqual([])
  })

  test('a header value never carries a control character: each is percent-encoded, and Bun accepts the result', () => {
    for (const char of CONTROLS) {
      const value = headerValue(`/a${char}b`)
      expect(value).toMatch(/^[\x20-\x7e]*$/)
      expect(seeOther(`/a${char}b`).headers.get('location')).toBe(value)
      expect(attachment(`chat${char}".md`)['content-disposition']).toMatch(/^attachment; filename="[\x20\x21\x23-\x5b\x5d-\x7e]*"$/)
    }
    expect(headerValue('/?client_id=AAAA&x=1')).toBe('/?client_id=AAAA&x=1')
  })
})

describe('sign-in redirect (next)', () => {
  test('a path of this server is kept', () => {
    for (const good of ['/', '/?client_id=AAAAAAAAAAAAAAAAAAAAAA', '/?view=x#top', '/api/sessions/x/transcript.md', '/%C3%A9', '/a%20b']) {
      // `%20` decodes to a space, which a next of ours never holds: only the plain ones are kept.
      expect(localPath(good)).toBe(good.includes('%20') ? '/' : good)
    }
  })

  test('anything that could leave the origin, or put a control character in Location, falls back to /', () => {
    const bad = [
      '//evil.example/',
      '/\\evil.example',
      'https://evil.example',
      '',
      undefined,
      42,
      'relative/path',
      '/%09/evil.example',
      '/%2F/evil.example',
      '/%2f%2fevil.example',
      '/%5Cevil.example',
      '/%5cevil.example',
      '/%252F/evil.example',
      '/%25252F%25252Fevil.example',
      '/%0d%0aSet-Cookie:%20x=1',
      '/%00',
      '/%E0%A4%A',
      `/${'a'.repeat(3000)}`,
      '/ok%20/%2F/evil.example',
      '/é',
      ...CONTROLS.filter((char) => char !== 'é').flatMap((char) => [
        `/${char}/evil.example`,
        `/${encodeURIComponent(char)}/evil.example`,
        `/x${char}`,
      ]),
    ]
    for (const next of bad) expect({ next, kept: localPath(next) }).toEqual({ next, kept: '/' })
  })
})

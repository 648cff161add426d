import { QUOTED_MAX_CHARS } from './limits.ts'

/** `text` as an error sentence quotes it: cut at QUOTED_MAX_CHARS characters, with `…` where it was cut. */
export const quoted = (text: string): string => (text.length > QUOTED_MAX_CHARS ? `${text.slice(0, QUOTED_MAX_CHARS)}…` : text)

/**
 * `word` after its indefinite article, by how it starts: `an interrupt`, `an error`, `an unknown`, `a partial`, and
 * `a user`, `a unique`, `a URI` (a `u` said "you").
 */
export const withArticle = (word: string): string => `${/^(?:[aeio]|u(?!s|ni|r[aeiou]))/i.test(word) ? 'an' : 'a'} ${word}`

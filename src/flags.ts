import { parseArgs } from 'node:util'

/**
 * How a part of the server declares its command-line flags and reads them: config.ts composes the parts (its own
 * flags and each step's, from `src/steps/*-config.ts`) into one table, which both parses and prints `--help`.
 * Nothing here knows a flag by name, so a step declares its flags without importing config.ts.
 */

/** One flag, its environment twins and its line of `--help`. */
export interface Flag {
  /** Environment variables read when the flag is absent, the first one set wins. */
  env: readonly string[]
  /** The shape of its value in `--help` (`<ms>`, `<url>`); absent for a switch. */
  value?: string
  /**
   * The default as one would type it (`15000`, `30d`), printed by `--help` and parsed when the flag and its twins are
   * absent: so the help can never say another default than the one applied. Absent when there is none.
   */
  default?: string
  /** One line for `--help`, without the default (printed from `default`). */
  help: string
  /** A switch that takes no value (`--trust-proxy`); its env twin is true for `1`, `true` or `yes`. */
  boolean?: true
  /** A flag that may be given several times (`--agui-header`); its env twin holds one value a line. */
  multiple?: true
}

/** Flags by name (without `--`). */
export type Flags = Readonly<Record<string, Flag>>

/** What a part parses from: each flag's value, else its environment twin's, else its default. */
export interface FlagReader {
  /** The flag's value, its twin's, or its default ('' when it has none). */
  get(name: string): string
  /** Every value of a `multiple` flag (or its twin's lines); empty when absent. */
  all(name: string): string[]
  /** A switch: true when given, or when its twin says `1`, `true` or `yes`. */
  on(name: string): boolean
}

/** A part of the configuration: the flags it owns and how it reads them into its options. */
export interface ConfigPart<T> {
  readonly flags: Flags
  parse(read: FlagReader): T
}

/** A flag's value is refused: the message says which flag and what it takes; main prints it and exits 2. */
export class ConfigError extends Error {}

/** A whole number from `min` to `max` or a ConfigError naming `--name`. */
export function integer(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw)
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new ConfigError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  }
  return value
}

/** An http(s) URL without its trailing slashes; `example` is a URL the flag could take, for the sentence. */
export function httpUrl(name: string, raw: string, example: string): string {
  const parsed = URL.canParse(raw) ? new URL(raw) : undefined
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:') {
    throw new ConfigError(`--${name} must be an http:// or https:// URL such as ${example}, got ${JSON.stringify(raw)}`)
  }
  return raw.replace(/\/+$/, '')
}

/** Shortest token accepted: a guessable token would make auth decorative; characters. */
export const MIN_TOKEN_CHARS = 16

/** The tokens of `--auth-token` (one, or several separated by commas) or of a token file's lines. */
export function authTokens(raw: string): string[] {
  const tokens = raw
    .split(/[,\n]/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
  for (const token of tokens) {
    if (token.length < MIN_TOKEN_CHARS || /[^\x21-\x7e]/.test(token)) {
      throw new ConfigError(
        `an auth token must be at least ${MIN_TOKEN_CHARS} printable ASCII characters without spaces (try: openssl rand -hex 32)`,
      )
    }
  }
  return tokens
}

/** Flags parsed from argv, their twins read from `env`: the reader every part parses from. */
export interface ParsedFlags {
  help: boolean
  version: boolean
  read: FlagReader
}

/**
 * Reads `argv` against a table: an unknown flag, a missing value or a positional argument throws in parseArgs' words.
 * `seen`, when given, collects each flag a part reads (a test checks that every flag of the table is read by someone).
 */
export function readFlags(flags: Flags, argv: string[], env: Record<string, string | undefined>, seen?: Set<string>): ParsedFlags {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      ...Object.fromEntries(
        Object.entries(flags).map(([name, flag]) => [
          name,
          { type: flag.boolean ? ('boolean' as const) : ('string' as const), ...(flag.multiple && { multiple: true }) },
        ]),
      ),
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean' },
    },
  })
  const given = values as Record<string, string | boolean | string[] | undefined>
  // object-key-ok: parseArgs' values, the table and the environment, each read by this server's own flag and variable names.
  const flag = (name: string): Flag => {
    const found = Object.hasOwn(flags, name) ? flags[name] : undefined
    // A part reading a flag it did not declare is a bug of this server, never of its user.
    if (!found) throw new Error(`no flag --${name} is declared: add it to its part's flags`)
    seen?.add(name)
    return found
  }
  // object-key-ok: as flag.
  const twin = (name: string) => flag(name).env.find((key) => env[key] !== undefined && env[key] !== '')
  // object-key-ok: as flag.
  const read: FlagReader = {
    get(name) {
      const value = given[name]
      if (typeof value === 'string') return value
      const key = twin(name)
      return key === undefined ? (flag(name).default ?? '') : env[key]!
    },
    all(name) {
      const value = given[name]
      if (Array.isArray(value)) return value
      const key = twin(name)
      return key === undefined ? [] : env[key]!.split(/\r?\n/).filter((line) => line.trim() !== '')
    },
    on(name) {
      if (given[name] === true) return true
      return flag(name).env.some((key) => /^(1|true|yes)$/i.test(env[key] ?? ''))
    },
  }
  return { help: values.help === true, version: values.version === true, read }
}

/** A default as `--help` prints it: quoted when it holds a space, so that where it ends is plain. */
export const shownDefault = (value: string): string => (/\s/.test(value) ? JSON.stringify(value) : value)

/** The `--help` lines of a table: each flag, the shape of its value, its line, its default and its environment twins. */
export function flagLines(flags: Flags): string[] {
  return Object.entries(flags).map(([name, flag]) => {
    const usage = `--${name}${flag.value ? ` ${flag.value}` : ''}`
    const shown = flag.default === undefined ? '' : ` (default ${shownDefault(flag.default)})`
    return `  ${usage.padEnd(34)} ${flag.help}${shown}\n  ${''.padEnd(34)} env: ${flag.env.join(', ')}`
  })
}

import { ConfigError } from './flags.ts'

/** Which store to open: an embedded SQLite file, process memory, or a Redis shared by instances. */
export type StoreSpec = { kind: 'sqlite'; path: string } | { kind: 'memory' } | { kind: 'redis'; url: string }

/** `sqlite:<path>`, `memory` or `redis://[user:pass@]host:port[/db]` (`rediss://` for TLS), as `--store` takes it. */
export function storeSpec(raw: string): StoreSpec {
  if (raw === 'memory') return { kind: 'memory' }
  if (/^rediss?:\/\//.test(raw)) {
    const url = URL.canParse(raw) ? new URL(raw) : undefined
    if (!url?.hostname || !/^(\/\d{0,2})?$/.test(url.pathname)) {
      throw new ConfigError(`--store must be redis://[user:pass@]host:port[/db], got ${JSON.stringify(redacted(raw))}`)
    }
    return { kind: 'redis', url: raw }
  }
  if (raw.startsWith('sqlite:') && raw.length > 'sqlite:'.length) return { kind: 'sqlite', path: raw.slice('sqlite:'.length) }
  throw new ConfigError(`--store must be sqlite:<path>, memory or redis://host:port, got ${JSON.stringify(redacted(raw))}`)
}

/** A store URL without its password, for messages and logs. */
export function redacted(raw: string): string {
  return raw.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/, '$1***@')
}

import { appendFileSync, existsSync, readFileSync } from 'node:fs'
import { MemoryBackend } from '../../src/log/backends/memory-backend.ts'
import type { LogBackend } from '../../src/log/log-backend.ts'

/** The calls that change a backend: each is written to the journal once it has been applied. */
export const CHANGES = new Set(['create', 'setMeta', 'touch', 'append', 'delete', 'deleteEntries', 'keepNewest', 'fork', 'deleteProducers'])

/**
 * A memory backend that survives its process: every change is appended to a journal file (one JSON line a call) once
 * applied, and opening the file replays them. For the crash contract on the log core without SQLite or Redis: a
 * SIGKILL loses nothing the kernel has (no fsync needed for that), just as a committed transaction survives it.
 */
export async function openJournalBackend(path: string): Promise<LogBackend> {
  const backend = new MemoryBackend()
  if (existsSync(path)) {
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line) continue
      const [method, args] = JSON.parse(line) as [string, unknown[]]
      await (backend as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[method]!(...args)
    }
  }
  return new Proxy(backend, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver)
      if (typeof property !== 'string' || !CHANGES.has(property) || typeof value !== 'function') {
        return typeof value === 'function' ? value.bind(target) : value
      }
      return async (...args: unknown[]) => {
        const result = await value.apply(target, args)
        appendFileSync(path, `${JSON.stringify([property, args])}\n`)
        return result
      }
    },
  })
}

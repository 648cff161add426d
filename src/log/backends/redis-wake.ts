import type { LogId } from '../log-backend.ts'

/**
 * A message of the log backend's wake channel: a line `<log> <head>` per log a batch changed (redis-backend-scripts.ts
 * APPEND), `<log> <head>c` for one the batch closed, or `<log> 0` for a log whose entries were deleted (trimmed,
 * compacted, or the log itself), whose cached entries are then wrong: its head is undefined. The head is the last word, so a log id may hold spaces; its `%`
 * and newlines come percent-encoded (`%25`, `%0A`), so no id can end a line early and name another log.
 */
export function parseWake(message: string): { log: LogId; head: number | undefined; closed?: true }[] {
  return message.split('\n').flatMap((line) => {
    const space = line.lastIndexOf(' ')
    if (space <= 0) return []
    const word = /^(\d+)(c?)$/.exec(line.slice(space + 1))
    const head = Number(word?.[1])
    if (!word || !Number.isSafeInteger(head)) return []
    const closed = word[2] === 'c'
    const log = line.slice(0, space).replace(/%0A|%25/g, (code) => (code === '%0A' ? '\n' : '%'))
    const change: { log: LogId; head: number | undefined; closed?: true } = { log, head: head > 0 ? head : undefined }
    if (closed) change.closed = true
    return [change]
  })
}

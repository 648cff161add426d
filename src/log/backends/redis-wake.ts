import type { LogId } from '../log-backend.ts'

/**
 * A message of the log backend's wake channel: a line `<log> <head>` per log a batch changed (redis-backend-scripts.ts
 * APPEND), or `<log> 0` for a log whose entries were deleted (trimmed, compacted, or the log itself), whose cached
 * entries are then wrong: its head is undefined. The head is the last word, so a log id may hold spaces; its `%`
 * and newlines come percent-encoded (`%25`, `%0A`), so no id can end a line early and name another log.
 */
export function parseWake(message: string): { log: LogId; head: number | undefined }[] {
  return message.split('\n').flatMap((line) => {
    const space = line.lastIndexOf(' ')
    if (space <= 0) return []
    const head = Number(line.slice(space + 1))
    if (!Number.isSafeInteger(head) || head < 0) return []
    const log = line.slice(0, space).replace(/%0A|%25/g, (code) => (code === '%0A' ? '\n' : '%'))
    return [{ log, head: head > 0 ? head : undefined }]
  })
}

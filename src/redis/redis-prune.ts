import { CLOSING_WITH_TEXT, type EventType, type StoredEvent } from '../events.ts'
import { storedBytes } from '../store/byte-budget.ts'
import { emptyPruneReport, type PruneReport, type RetentionPolicy } from '../log/retention-policy.ts'
import { guarded } from './redis-errors.ts'
import type { RedisKeys } from './redis-keys.ts'
import { type RedisLink, runScript } from './redis-link.ts'
import { GIVE_BACK_BYTES, MARK_COMPACTED } from './redis-scripts.ts'
import { eventsOf, type StreamEntry } from './redis-stream.ts'

/** Sessions handled per round trip: small enough that one pass never holds Redis for long. */
const BATCH = 200

const withText: ReadonlySet<EventType> = new Set(CLOSING_WITH_TEXT)

/**
 * One retention pass over a Redis store: deletes sessions idle past `policy.idleMs` (waking their streams, which
 * then find them gone), drops the `partial`s of finished runs in sessions quiet past `compactAfterMs`, and trims
 * the sessions active since `capCheckedAt` (epoch ms) to the newest `maxEventsPerSession` events. The holes these
 * leave are what gives a reader inside them its `reset`; `woken` is told of every session whose log changed.
 */
export async function pruneRedis(
  link: RedisLink,
  keys: RedisKeys,
  policy: RetentionPolicy,
  now: Date,
  capCheckedAt: number,
  woken: (sessionId: string) => void,
): Promise<PruneReport> {
  const report = emptyPruneReport()
  const send = (command: string, args: string[]) => guarded(() => link.send(command, args))
  const idleBefore = String(now.getTime() - policy.idleMs)
  for (let ids = await oldest(send, keys.activity, idleBefore); ids.length > 0; ids = await oldest(send, keys.activity, idleBefore)) {
    for (const id of ids) {
      const [viewer, length] = (await Promise.all([send('HGET', [keys.session(id), 'viewer_id']), send('XLEN', [keys.events(id)])])) as [
        string | null,
        number,
      ]
      const doomed = [keys.session(id), keys.events(id), keys.runs(id), keys.lease(id), keys.producers(id)]
      if (viewer) doomed.push(keys.viewer(viewer))
      await send('DEL', doomed)
      await Promise.all([send('ZREM', [keys.activity, id]), send('ZREM', [keys.uncompacted, id]), send('SREM', [keys.openRuns, id])])
      report.sessionsDeleted++
      report.eventsDeleted += length
      woken(id)
    }
  }
  const compactBefore = String(now.getTime() - policy.compactAfterMs)
  for (const id of (await send('ZRANGEBYSCORE', [keys.uncompacted, '-inf', compactBefore])) as string[]) {
    const compacted = await compact(send, keys, id)
    report.partialsCompacted += compacted
    // Instances keep a session's newest events (redis-tails.ts): a hole they do not know of would not `reset` a reader.
    if (compacted > 0) woken(id)
    await guarded(() => runScript(link, MARK_COMPACTED, [keys.uncompacted], [id, compactBefore]))
  }
  const active = (await send('ZRANGEBYSCORE', [keys.activity, String(capCheckedAt), '+inf'])) as string[]
  for (const id of active) {
    const trimmed = await cap(send, keys, id, policy.maxEventsPerSession)
    report.eventsCapped += trimmed
    if (trimmed > 0) woken(id)
  }
  return report
}

type Send = (command: string, args: string[]) => Promise<unknown>

const oldest = async (send: Send, key: string, before: string) =>
  (await send('ZRANGEBYSCORE', [key, '-inf', before, 'LIMIT', '0', String(BATCH)])) as string[]

/** Deletes the `partial`s of the session's runs that ended with `final` or `interrupt`; returns how many. */
async function compact(send: Send, keys: RedisKeys, id: string): Promise<number> {
  const entries = (await send('XRANGE', [keys.events(id), '-', '+'])) as StreamEntry[]
  const events = eventsOf(id, entries)
  const finished = new Set(events.filter((e) => withText.has(e.type)).map((e) => e.step_id))
  const partials = events.filter((e) => e.type === 'partial' && finished.has(e.step_id))
  const doomed = partials.map((e) => `${e.seq}-0`)
  for (let i = 0; i < doomed.length; i += BATCH) await send('XDEL', [keys.events(id), ...doomed.slice(i, i + BATCH)])
  await giveBack(send, keys, id, partials)
  return doomed.length
}

/**
 * Deletes the session's oldest events so that at most `max` remain; returns how many. The ones deleted are read
 * first, for their bytes, and only they are deleted (MINID): an append meanwhile is neither counted nor trimmed.
 */
async function cap(send: Send, keys: RedisKeys, id: string, max: number): Promise<number> {
  const over = ((await send('XLEN', [keys.events(id)])) as number) - max
  if (over <= 0) return 0
  const oldest = eventsOf(id, (await send('XRANGE', [keys.events(id), '-', '+', 'COUNT', String(over)])) as StreamEntry[])
  if (oldest.length === 0) return 0
  const trimmed = (await send('XTRIM', [keys.events(id), 'MINID', `${oldest.at(-1)!.seq + 1}-0`])) as number
  await giveBack(send, keys, id, oldest)
  return trimmed
}

/** Takes the bytes of deleted events off the session's count (redis-scripts.ts, APPEND_BATCH), if it still exists. */
async function giveBack(send: Send, keys: RedisKeys, id: string, deleted: readonly StoredEvent[]): Promise<void> {
  const bytes = deleted.reduce((sum, event) => sum + storedBytes(event), 0)
  if (bytes > 0) await send('EVAL', [GIVE_BACK_BYTES, '1', keys.session(id), String(bytes)])
}

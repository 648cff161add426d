import type { PruneReport, RetentionPolicy } from './retention-policy.ts'
import type { JournalOptions } from './sqlite-journal.ts'

/**
 * A batch of journal rows, flattened: JOURNAL_ROW_WIDTH values per row, in the journal's column order (id, session,
 * seq, type, step_id, ts, payload).
 */
export type JournalRows = (string | number)[]

/** Values per row of JournalRows. */
export const JOURNAL_ROW_WIDTH = 7

/**
 * Why rows cross as one string rather than an array: a `postMessage` clones an array value by value, which cost the
 * serving thread 15% of its time at 1,000 sessions (bench/capacity.ts --profile), and JSON.stringify of the rows
 * 7%, most of it escaping the payload, which is JSON already. Joined with the ASCII unit and record separators,
 * which no field holds raw: JSON text escapes every control character, session ids and types are plain words.
 */
const FIELD_SEPARATOR = '\x1f'
export const ROW_SEPARATOR = '\x1e'

/** One journal row as text: its payload as it is, the strings a client chose (step id, ts) as JSON. */
export function encodeRow(id: number, sessionId: string, seq: number, type: string, stepId: string, ts: string, payload: string): string {
  const f = FIELD_SEPARATOR
  return `${id}${f}${sessionId}${f}${seq}${f}${type}${f}${JSON.stringify(stepId)}${f}${JSON.stringify(ts)}${f}${payload}`
}

/** The rows of a `commit` call, back as JournalRows. */
export function decodeRows(text: string): JournalRows {
  const rows: JournalRows = []
  if (text === '') return rows
  for (const row of text.split(ROW_SEPARATOR)) {
    const [id, sessionId, seq, type, stepId, ts, payload] = row.split(FIELD_SEPARATOR) as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ]
    rows.push(Number(id), sessionId, Number(seq), type, JSON.parse(stepId) as string, JSON.parse(ts) as string, payload)
  }
  return rows
}

/** A `sessions` row to insert. */
export interface NewSessionRow {
  id: string
  created_at: string
  step: string
  viewer_id: string
  publisher_hash: string | null
}

/** How the write connection is set up; what SqliteStoreOptions passes down. */
export interface WriteSideSettings extends JournalOptions {
  /** The write connection's own autocheckpoint, in WAL pages (sqlite-checkpointer.ts decides which). */
  autocheckpointPages: number
}

/** What the serving thread asks of the write side; each call gets one answer. */
export type WriteCall =
  | { type: 'open'; path: string; settings: WriteSideSettings }
  /** Commits the rows (encodeRow's, joined by ROW_SEPARATOR) in one transaction; answers CommitAnswer. */
  | { type: 'commit'; rows: string; now: number }
  | { type: 'create'; row: NewSessionRow }
  | { type: 'merge-all' }
  | { type: 'prune'; policy: RetentionPolicy; now: number; capSince: string }
  /** The serving thread has forgotten these deleted sessions: no later batch can hold them. */
  | { type: 'forgotten'; ids: string[] }
  /** Runs SQL on the write connection (tests inject faults through it: `PRAGMA query_only`, `max_page_count`). */
  | { type: 'exec'; sql: string }
  | { type: 'get'; sql: string }
  | { type: 'close' }

/** What each call answers, by call type. */
export interface WriteAnswers {
  open: null
  commit: CommitAnswer
  create: boolean
  'merge-all': null
  prune: PruneReport
  forgotten: null
  exec: null
  get: unknown
  close: null
}

export interface CommitAnswer {
  /** How long the transaction took; seconds. */
  seconds: number
  /** Sessions whose rows were left out: retention deleted them after the serving thread queued the rows. */
  refused: string[]
}

/** What the write side tells the serving thread unasked, in order with the answers. */
export type WriteNotice =
  /** The journal rows of `sessions` with id ≤ `upTo` are now in `events`. */
  { type: 'merged'; sessions: string[]; upTo: number } | { type: 'deleted'; ids: string[] } | { type: 'changed'; ids: string[] }

/** An error as it crosses threads: SQLite's extended code (`SQLITE_FULL`…) survives, the rest becomes text. */
export interface WriteFailure {
  code: string
  message: string
}

/** A message from the worker: the answer to call `id`, or a notice. */
export type WorkerMessage =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WriteFailure }
  | { notice: WriteNotice }

/** A message to the worker. */
export interface WorkerRequest {
  id: number
  call: WriteCall
}

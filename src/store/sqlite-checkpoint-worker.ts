/**
 * The checkpointer's thread (see sqlite-checkpointer.ts): its own connection to the database, running a PASSIVE
 * checkpoint on a timer. Built into the executable as an entrypoint of its own (scripts/build.ts, release.ts).
 */
import { Database } from 'bun:sqlite'
import type { CheckpointerReply, CheckpointerRequest } from './sqlite-checkpointer.ts'

declare const self: Worker

let db: Database | undefined
let timer: Timer | undefined

const reply = (message: CheckpointerReply) => self.postMessage(message)

function checkpoint(): void {
  try {
    // PASSIVE: copies what no reader still needs and never waits for, or blocks, the writer.
    const row = db!.query('PRAGMA wal_checkpoint(PASSIVE)').get() as { busy: number; log: number; checkpointed: number }
    reply({ type: 'checkpointed', frames: row.checkpointed, log: row.log })
  } catch (error) {
    reply({ type: 'failed', reason: error instanceof Error ? error.message : String(error) })
  }
}

self.onmessage = (event: MessageEvent<CheckpointerRequest>) => {
  const request = event.data
  if (request.type === 'start') {
    try {
      db = new Database(request.path, { readwrite: true, create: false, strict: true })
      // Another connection writing is normal: a checkpoint that finds the lock taken retries at the next tick.
      db.exec('PRAGMA busy_timeout = 0')
    } catch (error) {
      reply({ type: 'failed', reason: error instanceof Error ? error.message : String(error) })
      return
    }
    timer = setInterval(checkpoint, request.everyMs)
    reply({ type: 'started' })
  } else {
    clearInterval(timer)
    db?.close()
    reply({ type: 'closed' })
  }
}

/**
 * The writer worker's thread (see sqlite-write-channel.ts): it opens the store's write connection and answers the
 * serving thread's calls with a WriteSide. Built into the executable as an entrypoint of its own (scripts/build.ts,
 * release.ts).
 */
import type { WorkerMessage, WorkerRequest, WriteFailure } from './sqlite-write-protocol.ts'
import { openWriteConnection, WriteSide } from './sqlite-write-side.ts'
import { sqliteCode } from './store-errors.ts'

declare const self: Worker

let side: WriteSide | undefined

const send = (message: WorkerMessage) => self.postMessage(message)

const failureOf = (error: unknown): WriteFailure => ({
  code: sqliteCode(error),
  message: error instanceof Error ? error.message : String(error),
})

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const { id, call } = event.data
  try {
    if (call.type === 'open') {
      side = new WriteSide(openWriteConnection(call.path, call.settings), call.settings, (notice) => send({ notice }))
      return send({ id, ok: true, value: null })
    }
    if (!side) throw new Error('the write connection is not open')
    const value = side.handle(call)
    // Only retention answers later: its chunks let the calls queued behind it run between them.
    if (value instanceof Promise)
      value.then(
        (report) => send({ id, ok: true, value: report }),
        (error) => send({ id, ok: false, error: failureOf(error) }),
      )
    else send({ id, ok: true, value })
  } catch (error) {
    send({ id, ok: false, error: failureOf(error) })
  }
}

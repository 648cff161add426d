import { expect, test } from 'bun:test'
import { join } from 'node:path'
import type { StoredEvent } from '../../src/events.ts'
import { newId } from '../../src/session-id.ts'
import { canRecover } from '../../src/log/event-store.ts'
import { readAll } from '../../src/store/read-all.ts'
import { eventually } from '../helpers/wait.ts'
import { openSpec, type StoreSpec } from './crash-stores.ts'

/** How long the child may take to start and store its first partials; milliseconds. A deadline, not a pace. */
const START_DEADLINE_MS = 30_000

/**
 * The crash contract, for a store that outlives its process: a real child process (process.execPath) streams a run
 * into the store and is SIGKILLed mid-append; the store reopened holds every acknowledged event, and recovery closes
 * the run with an `interrupt` holding exactly the text its stored partials hold, once. A store whose runs hold a lease
 * (Redis) closes the run only once the dead child's lease has run out: give it a short one.
 */
export function crashRecoveryTests(name: string, spec: StoreSpec) {
  test(
    `${name}: a run SIGKILLed mid-append is recovered on reopen, every acknowledged event kept`,
    async () => {
      const args = spec.args()
      const [sessionId, runId] = [newId(), newId()]
      const child = Bun.spawn(
        [process.execPath, join(import.meta.dir, 'crash-run-child.ts'), JSON.stringify({ ...spec, args, sessionId, runId })],
        { stdout: 'pipe', stderr: 'inherit' },
      )
      const acked = await readAcks(child.stdout, 3)
      child.kill('SIGKILL')
      expect(await child.exited).toBe(137)

      const { store } = await openSpec(spec, args)
      try {
        if (!canRecover(store)) throw new Error(`the ${name} store cannot recover runs`)
        const before = await readAll(store, sessionId)
        expect(before.slice(0, 2).map((e) => e.type)).toEqual(['user', 'start'])
        const partials = before.filter((e): e is StoredEvent & { type: 'partial' } => e.type === 'partial')
        // Every append that resolved before the kill is there, in order; one in flight may be there too.
        expect(partials.length).toBeGreaterThanOrEqual(acked)
        expect(partials.map((e) => e.delta)).toEqual(Array.from({ length: partials.length }, (_, i) => `${i + 1} `))
        expect(before.map((e) => e.seq)).toEqual(Array.from({ length: before.length }, (_, i) => i + 1))

        // Refused while a lease still fences the run (the child renewed it until killed); at once where none does.
        const recovered = await eventually(async () => (await store.recoverOpenRuns()).find((r) => r.sessionId === sessionId), {
          what: 'recovery to close the run the killed child left open',
          everyMs: 50,
        })
        expect(recovered).toEqual({ sessionId, stepId: runId, seq: before.length + 1 })
        const after = await readAll(store, sessionId)
        expect(after.at(-1)).toMatchObject({ type: 'interrupt', step_id: runId, text: partials.map((e) => e.delta).join('') })
        expect((await store.recoverOpenRuns()).filter((r) => r.sessionId === sessionId)).toEqual([])
        expect((await store.append(sessionId, { type: 'user', step_id: newId(), ts: new Date().toISOString(), text: 'next' })).seq).toBe(
          before.length + 2,
        )
      } finally {
        await store.close()
      }
    },
    START_DEADLINE_MS + 10_000,
  )
}

/** Reads the child's `acked <n>` lines until `n` reaches `count`; the highest n seen. */
async function readAcks(stdout: ReadableStream<Uint8Array>, count: number): Promise<number> {
  const reader = stdout.getReader()
  const deadline = Date.now() + START_DEADLINE_MS
  let text = ''
  try {
    while (Date.now() < deadline) {
      const { value, done } = await reader.read()
      if (done) throw new Error(`the child exited before acknowledging ${count} partials:\n${text}`)
      text += new TextDecoder().decode(value)
      const acks = [...text.matchAll(/^acked (\d+)$/gm)].map((m) => Number(m[1]))
      if (acks.length > 0 && acks.at(-1)! >= count) return acks.at(-1)!
    }
    throw new Error(`the child did not acknowledge ${count} partials within ${START_DEADLINE_MS} ms`)
  } finally {
    reader.releaseLock()
  }
}

/**
 * The producer and append path alone, without readers: 200 echo runs of 250 characters at 20 ms a token (the
 * many-runs load, 10,000 events/s) against a memory store in this process, and the CPU each stored event cost.
 * It isolates the step, the runner, the event gate and the log core's append from the streams, which the capacity
 * benchmark measures together.
 *
 *   bun bench/producer-cpu.ts [root]     root: a checkout of stepstream to measure (A/B of two trees); default this one
 *
 * Under `bun --cpu-prof` it profiles that path alone (bench/profile-layers.ts, `--to` before the final read).
 */
import { join } from 'node:path'

const root = process.argv[2] ?? join(import.meta.dir, '..')
const { newId } = await import(join(root, 'src/session-id.ts'))
const { echoStep } = await import(join(root, 'src/steps/echo-step.ts'))
const { MemoryStore } = await import(join(root, 'src/store/memory-store.ts'))
const { runnerFor } = await import(join(root, 'test/helpers/test-app.ts'))

const SESSIONS = 200
const TEXT = 'abcdefghij'.repeat(25)
const store = new MemoryStore()
const runner = runnerFor(store, echoStep(20).create({}))
const sessions = await Promise.all(Array.from({ length: SESSIONS }, () => store.createSession(newId(), { name: 'echo' })))
const cpuBefore = process.cpuUsage()
const startedAt = performance.now()
for (const session of sessions) await runner.submit(session, TEXT)
await Promise.all(sessions.map((session) => runner.settled(session.id)))
const cpu = process.cpuUsage(cpuBefore)
const seconds = (performance.now() - startedAt) / 1000
let events = 0
for (const session of sessions) events += (await store.read(session.id, 0, 1000)).length
const cpuSeconds = (cpu.user + cpu.system) / 1e6
console.log(
  JSON.stringify({
    root,
    events,
    seconds: +seconds.toFixed(2),
    cpuSeconds: +cpuSeconds.toFixed(3),
    usPerEvent: +((cpuSeconds / events) * 1e6).toFixed(2),
  }),
)
process.exit(0)

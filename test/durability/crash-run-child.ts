/**
 * A run cut by a crash: opens the store the spec names (argv[2], JSON `{ module, export, args, sessionId, runId }`),
 * claims the run if the store brings a run coordinator (as the runner does: a Redis run then holds a lease), stores a
 * user message, a start and then partials one after another, printing `acked <n>` once the n-th partial's append has
 * resolved, until the test SIGKILLs it mid-append. Nothing is closed: the store is left as a crash leaves it.
 */
import { ECHO } from '../helpers/echo-spec.ts'
import { openSpec } from './crash-stores.ts'

const spec = JSON.parse(process.argv[2]!) as { module: string; export: string; args: unknown[]; sessionId: string; runId: string }
const { store, coordinator } = await openSpec(spec, spec.args)
const ts = () => new Date().toISOString()
await store.createSession(spec.sessionId, ECHO)
if (coordinator && !(await coordinator.claim(spec.sessionId, spec.runId))) throw new Error('the run could not claim its new session')
await store.append(spec.sessionId, { type: 'user', step_id: spec.runId, ts: ts(), text: 'count' })
await store.append(spec.sessionId, { type: 'start', step_id: spec.runId, ts: ts(), step_type: 'echo' })
for (let n = 1; ; n++) {
  await store.append(spec.sessionId, { type: 'partial', step_id: spec.runId, ts: ts(), delta: `${n} ` })
  process.stdout.write(`acked ${n}\n`)
}

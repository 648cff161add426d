import { afterEach, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { createServer, type StepstreamServer, type StoredEvent } from 'stepstream'
import { shellStep } from './shell-step.ts'

let server: StepstreamServer | undefined
afterEach(() => server?.stop())

async function start(command: string[]) {
  server = await createServer({ steps: [shellStep(command)], log: (await import('stepstream')).silentLogger })
  const base = server.listen({ port: 0, hostname: '127.0.0.1' })
  const { id } = (await (await fetch(`${base}/api/sessions`, { method: 'POST' })).json()) as { id: string }
  const post = (path: string, body?: unknown) =>
    fetch(`${base}/api/sessions/${id}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    })
  const events = async () => (await (await fetch(`${base}/api/sessions/${id}/events`)).json()) as StoredEvent[]
  const until = async (predicate: (events: StoredEvent[]) => boolean) => {
    for (let tries = 0; !predicate(await events()); tries++) {
      if (tries > 500) throw new Error(`timed out; events: ${JSON.stringify(await events())}`)
      await Bun.sleep(10)
    }
    return events()
  }
  return { post, until }
}

/** Running, not merely a zombie waiting to be reaped (in a container, PID 1 may never reap an orphan). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

test('streams the command’s output line by line, with the message in $MESSAGE, and finishes with all of it', async () => {
  const { post, until } = await start(['sh', '-c', 'echo "got: $MESSAGE"; echo second; echo third'])
  expect((await post('/messages', { text: 'hi; rm -rf /' })).status).toBe(202)
  const log = await until((events) => events.some((e) => e.type === 'final'))
  expect(log.map((e) => e.type)).toEqual(['user', 'start', 'partial', 'partial', 'partial', 'final'])
  expect(log.at(-1)).toMatchObject({ type: 'final', text: 'got: hi; rm -rf /\nsecond\nthird\n' })
})

test('a command that fails ends the run with an error that says so', async () => {
  const { post, until } = await start(['sh', '-c', 'echo partly; exit 3'])
  await post('/messages', { text: 'go' })
  const log = await until((events) => events.some((e) => e.type === 'error'))
  expect(log.at(-1)).toMatchObject({ type: 'error', error: 'sh exited with code 3.' })
})

test('cancel kills the command and the processes it started, and the run is interrupted with what it printed', async () => {
  // The command starts a grandchild that would outlive a plain kill of its parent, and prints both pids.
  const { post, until } = await start(['sh', '-c', 'sleep 60 & echo "$$ $!"; wait'])
  await post('/messages', { text: 'go' })
  const log = await until((events) => events.some((e) => e.type === 'partial'))
  const pids = (log.find((e) => e.type === 'partial') as { delta: string }).delta.trim().split(' ').map(Number)
  expect(pids).toHaveLength(2)
  for (const pid of pids) expect(alive(pid)).toBe(true)
  expect((await post('/cancel')).status).toBe(202)
  const ended = await until((events) => events.some((e) => e.type === 'interrupt'))
  expect(ended.at(-1)).toMatchObject({ type: 'interrupt', text: `${pids.join(' ')}\n` })
  for (let tries = 0; pids.some(alive) && tries < 100; tries++) await Bun.sleep(10)
  for (const pid of pids) expect(alive(pid)).toBe(false)
})

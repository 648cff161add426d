import { describe, expect, test } from 'bun:test'
import { MemoryBackend } from '../../src/log/backends/memory-backend.ts'
import { LogCore } from '../../src/log/log-core.ts'
import { AppError } from '../../src/errors.ts'
import type { Notifier } from '../../src/bus/notifier.ts'
import { SessionSignal } from '../../src/bus/session-signal.ts'
import { until } from '../helpers/wait.ts'
import { KeyedMutex } from '../../src/streams/keyed-mutex.ts'
import { CoreStreamLog } from '../../src/streams/stream-log.ts'
import { StreamService } from '../../src/streams/stream-service.ts'

/** The stream service's own guarantees under concurrency and bounds, which one request at a time never shows. */

function service(options: { maxProducers?: number; maxLogBytes?: number; longPollMs?: number } = {}) {
  // A clock that moves at each reading: which producer was used least recently is never a tie.
  let clock = Date.now()
  const limits = options.maxLogBytes === undefined ? {} : { maxLogBytes: options.maxLogBytes, reserveBytes: 0 }
  // Counts the waits parked, per log: a test knows a long-poll is waiting (again) without a clock.
  const parked = new Map<string, number>()
  const signal = new SessionSignal()
  const notifier: Notifier = {
    notify: (log) => signal.notify(log),
    wait: (log, stop, timeoutMs) => {
      parked.set(log, (parked.get(log) ?? 0) + 1)
      return signal.wait(log, stop, timeoutMs)
    },
  }
  const core = new LogCore(new MemoryBackend(), { now: () => clock++, notifier, ...limits })
  return {
    streams: new StreamService(new CoreStreamLog(core), options),
    core,
    later: (ms: number) => (clock += ms),
    parked: (name: string) => parked.get(`stream:${name}`) ?? 0,
  }
}

const producer = (id: string, epoch: number, seq: number) =>
  new Headers({ 'content-type': 'text/plain', 'producer-id': id, 'producer-epoch': String(epoch), 'producer-seq': String(seq) })
const bytes = (text: string) => new TextEncoder().encode(text)

/** The status a call answers, a refusal's included. */
const statusOf = (call: Promise<{ status: number }>) =>
  call.then(
    (answer) => answer.status,
    (error: AppError) => error.status,
  )

async function created(streams: StreamService, name: string) {
  expect((await streams.create(name, new Headers({ 'content-type': 'text/plain' }), new Uint8Array())).status).toBe(201)
}

describe('stream service', () => {
  test('one producer retrying at once stores its append once: the mark is read and written under its lock', async () => {
    const { streams, core } = service()
    await created(streams, 'retries')
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => statusOf(streams.append('retries', producer('p', 0, 0), bytes('x')))),
    )
    expect(answers.filter((status) => status === 200)).toHaveLength(1)
    expect(answers.filter((status) => status === 204)).toHaveLength(19)
    expect((await core.state('stream:retries'))?.head).toBe(1)
  })

  test("two instances (each its own locks) deciding from one read store a producer's append once: the other is a duplicate", async () => {
    const { streams, core } = service()
    const other = new StreamService(new CoreStreamLog(core), {})
    await created(streams, 'instances')
    const send = (s: StreamService) => statusOf(s.append('instances', producer('p', 0, 0), bytes('x')))
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => send(i % 2 === 0 ? streams : other)))
    expect(answers.filter((status) => status === 200)).toHaveLength(1)
    expect(answers.filter((status) => status === 204)).toHaveLength(9)
    expect(await core.read('stream:instances', 0, 10)).toHaveLength(1)
    const seq = (s: StreamService) =>
      statusOf(s.append('instances', new Headers({ 'content-type': 'text/plain', 'stream-seq': 'a' }), bytes('y')))
    const seqs = await Promise.all([seq(streams), seq(other), seq(streams), seq(other)])
    expect(seqs.sort()).toEqual([204, 409, 409, 409])
    expect(await core.read('stream:instances', 0, 10)).toHaveLength(2)
  })

  test('one Stream-Seq sent at once by several writers is taken once, the others are 409', async () => {
    const { streams, core } = service()
    await created(streams, 'seq')
    const headers = () => new Headers({ 'content-type': 'text/plain', 'stream-seq': '0001' })
    const answers = await Promise.all(Array.from({ length: 10 }, () => statusOf(streams.append('seq', headers(), bytes('x')))))
    expect(answers.sort()).toEqual([204, ...Array(9).fill(409)])
    expect((await core.state('stream:seq'))?.head).toBe(1)
  })

  test('past the cap of producers per stream the least recently used are forgotten: they start over at seq 0', async () => {
    const { streams, core } = service({ maxProducers: 10 })
    await created(streams, 'many')
    for (let i = 0; i < 12; i++) expect((await streams.append('many', producer(`p${i}`, 0, 0), bytes('x'))).status).toBe(200)
    const keys = await core.backend.producerKeys('stream:many')
    expect(keys.length).toBeLessThanOrEqual(10)
    // p0, the least recently used, was forgotten: its next seq is a gap from 0; p11, the newest, goes on.
    expect(await statusOf(streams.append('many', producer('p0', 0, 1), bytes('x')))).toBe(409)
    expect((await streams.append('many', producer('p11', 0, 1), bytes('x'))).status).toBe(200)
  })

  test('the keyed mutex runs holders of one key one at a time, in order, and forgets a key nobody holds', async () => {
    const mutex = new KeyedMutex()
    const order: string[] = []
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const first = mutex.run('k', async () => {
      order.push('first in')
      await held
      order.push('first out')
    })
    const second = mutex.run('k', async () => {
      order.push('second')
    })
    const other = mutex.run('other', async () => {
      order.push('other')
    })
    await other
    expect(order).toEqual(['first in', 'other'])
    release()
    await Promise.all([first, second])
    expect(order).toEqual(['first in', 'other', 'first out', 'second'])
    expect(mutex.size).toBe(0)
    // A rejection is the caller's, and releases the key.
    await expect(mutex.run('k', () => Promise.reject(new AppError('BAD_REQUEST', 'no')))).rejects.toThrow('no')
    expect(mutex.size).toBe(0)
  })

  test('a source that expires while its fork lives is gone (410), its name kept until the fork goes', async () => {
    const { streams, later } = service()
    const make = (name: string, headers: Record<string, string>) =>
      streams.create(name, new Headers({ 'content-type': 'text/plain', ...headers }), new Uint8Array())
    const fork = (name: string, source: string) => make(name, { 'stream-forked-from': `/v1/stream/${source}`, 'stream-ttl': '3600' })
    await make('source', { 'stream-ttl': '1' })
    expect((await fork('old-fork', 'source')).status).toBe(201)
    later(2000)
    expect(await statusOf(streams.head('source'))).toBe(410)
    expect(await statusOf(make('source', {}))).toBe(409)
    // Its last fork going takes it, and frees the name for a new stream that owes the old fork nothing.
    expect((await streams.delete('old-fork')).status).toBe(204)
    expect(await statusOf(streams.head('source'))).toBe(404)
    expect((await make('source', {})).status).toBe(201)
    expect((await fork('new-fork', 'source')).status).toBe(201)
    expect((await streams.delete('source')).status).toBe(204)
    expect(await statusOf(streams.head('source'))).toBe(410)
    expect((await streams.delete('new-fork')).status).toBe(204)
    expect(await statusOf(streams.head('source'))).toBe(404)
  })

  test('a long-poll woken by a change that brought no data (a sliding TTL moved by a read) waits again, then answers the data', {
    timeout: 30_000,
  }, async () => {
    const { streams, later, parked } = service({ longPollMs: 60_000 })
    await streams.create('slides', new Headers({ 'content-type': 'text/plain', 'stream-ttl': '4' }), new Uint8Array())
    const stop = new AbortController()
    const poll = streams.read('slides', streams.readQuery(new URLSearchParams('offset=now&live=long-poll')), null, stop.signal)
    await until(() => parked('slides') === 1, { what: 'the long-poll to park', describe: () => parked('slides') })
    // A read half a TTL later moves the expiry: every waiter of the stream is woken, with nothing to read.
    later(2000)
    await streams.read('slides', streams.readQuery(new URLSearchParams('offset=-1')), null, stop.signal)
    await until(() => parked('slides') === 2, { what: 'the long-poll to park again', describe: () => parked('slides') })
    await streams.append('slides', new Headers({ 'content-type': 'text/plain' }), bytes('data'))
    const answer = await poll
    expect(answer.status).toBe(200)
    expect(new TextDecoder().decode(answer.body as Uint8Array)).toBe('data')
  })

  test('a PUT whose body the stream cannot take creates nothing: its retry creates the stream (201), not finds it', async () => {
    const { streams } = service({ maxLogBytes: 1000 })
    const put = (body: string) => streams.create('budget', new Headers({ 'content-type': 'text/plain' }), bytes(body))
    expect(await statusOf(put('x'.repeat(2000)))).toBe(413)
    expect(await statusOf(streams.head('budget'))).toBe(404)
    expect((await put('x'.repeat(10))).status).toBe(201)
  })
})

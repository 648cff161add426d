import fc from 'fast-check'
import { testApp } from '../helpers/test-app.ts'
import { aguiEventsArb, aguiHeavyBodyArb } from './agui-events.ts'
import {
  contentTypeArb,
  depthArb,
  extraHeadersArb,
  HOSTILE_IDS,
  hostileBodyArb,
  idSegmentArb,
  jsonArb,
  longArb,
  rawOnlyHeadersArb,
  respell,
  sizeArb,
  spellingArb,
  textArb,
  jsonUnitArb,
  unitArb,
} from './arbitraries.ts'
import type { AbuseRequest, BodyRecipe, HeaderValue, PoolName, Segment } from './requests.ts'

/**
 * One generator of hostile requests per route of the app. The routes are read from the app itself (built as the
 * tests build it, with auth on so the sign-in routes exist): a route added later has no generator until one is
 * written here, and the suite fails until then (`missingGenerators`).
 */

/** What a route takes besides its path: where its ids come from, its query, its body, its credential. */
interface RouteSpec {
  /** The pools each `:param` draws live ids from (`asset`: the page's asset names). */
  params?: Record<string, PoolName[] | 'asset'>
  query?: fc.Arbitrary<string>
  /** A body and its content type, most often the kind the route expects. */
  body?: fc.Arbitrary<{ body: BodyRecipe; contentType: string }>
  /** The credential the route wants: the server's token (or cookie), a publisher's token, or none. */
  auth: 'server' | 'publisher' | 'none'
  /** Headers a plausible request of the route sends beside its credential (a producer's numbering). */
  headers?: fc.Arbitrary<[string, HeaderValue][]>
}

/**
 * A publisher's numbering, as its programs send it: none, the publish API's own (`Producer-Id`, `-Seq`), or a Durable
 * Streams producer's (with `Producer-Epoch`), a close (`Stream-Closed`) among them; the seqs and epochs small, so that
 * retries, gaps and fenced epochs all happen.
 */
const publishHeadersArb: fc.Arbitrary<[string, HeaderValue][]> = fc.oneof(
  { arbitrary: fc.constant<[string, HeaderValue][]>([]), weight: 3 },
  {
    arbitrary: fc
      .record({
        id: fc.constantFrom('p0', 'p1'),
        seq: fc.nat(3),
        epoch: fc.option(fc.nat(2), { nil: undefined }),
        closes: fc.boolean(),
      })
      .map(({ id, seq, epoch, closes }) => {
        const headers: [string, HeaderValue][] = [
          ['producer-id', id],
          ['producer-seq', String(seq)],
        ]
        if (epoch !== undefined) headers.push(['producer-epoch', String(epoch)])
        if (closes) headers.push(['stream-closed', 'true'])
        return headers
      }),
    weight: 2,
  },
)

const OWNER_IDS: PoolName[] = ['owners', 'publishers']
const VIEWER_IDS: PoolName[] = ['viewers', 'publisherViewers']
const ASSETS = ['app.js', 'app.css', 'htmx.min.js', 'hx-sse.min.js', 'favicon.svg']

const q = (parts: fc.Arbitrary<[string, string] | undefined>[]) =>
  fc.tuple(...parts).map((pairs) => {
    const present = pairs.filter((p): p is [string, string] => p !== undefined)
    const value = (v: string) => (/^\$\w+\.\d+$/.test(v) ? v : encodeURIComponent(v))
    return present.length ? `?${present.map(([k, v]) => `${k}=${value(v)}`).join('&')}` : ''
  })
const opt = (name: string, value: fc.Arbitrary<string>) =>
  fc.option(
    value.map((v) => [name, v] as [string, string]),
    { nil: undefined },
  )

/** A form field holding a live id (`client_id=<owner id>`), or a hostile one. */
const clientIdField = fc.oneof(
  fc.record({
    sessionRef: fc.constantFrom<PoolName>('owners', 'publishers', 'viewers'),
    index: fc.nat(7),
    field: fc.constant('client_id'),
  }),
  fc.constantFrom(...HOSTILE_IDS).map((id) => ({ text: `client_id=${encodeURIComponent(id)}` })),
)
/** A live id in a query string (resolved when sent, see requests.ts), or a hostile one. */
const queryIdArb = (...pools: PoolName[]) =>
  fc.oneof(
    { arbitrary: fc.tuple(fc.constantFrom(...pools), fc.nat(7)).map(([pool, i]) => `$${pool}.${i}`), weight: 2 },
    { arbitrary: fc.constantFrom(...HOSTILE_IDS), weight: 1 },
  )
const cursorArb = fc.oneof(
  { arbitrary: fc.nat(50).map(String), weight: 3 },
  { arbitrary: fc.constantFrom('0', '-1', '1.5', '9'.repeat(15), '9'.repeat(16), '9'.repeat(30), 'abc', ''), weight: 1 },
)
const formatArb = fc.oneof(
  { arbitrary: fc.constantFrom('json', 'ag-ui'), weight: 3 },
  { arbitrary: fc.constantFrom('AG-UI', 'stepstream', 'html', '__proto__', ''), weight: 1 },
)
/** `next` after signing in: same-origin paths, and what only looks like one (finding 8). */
const nextArb = fc.constantFrom(
  '/',
  '/?client_id=x',
  '//evil.example',
  '/\\evil.example',
  '/%09/evil.example',
  '/\t/evil.example',
  '/a\r\nSet-Cookie: x=1',
  '/\u0000',
  'https://evil.example',
  '/%2F%2Fevil.example',
  '/ /x',
  '/\u0085',
)

/** Titles: ordinary, long by characters or bytes, with controls, bidi overrides and lone surrogates, or none. */
const titleArb = fc.oneof(
  textArb,
  fc.constantFrom('x'.repeat(101), '😀'.repeat(100), 'two\nlines', 'nul\u0000', 'right\u202Eleft', '\uD800', '', '   ', '<b>bold</b>'),
)
const titleBodyArb = fc.oneof(
  titleArb.map((title): BodyRecipe => ({ json: { title } })),
  longArb('{"title":"', '"}'),
  fc.constantFrom<BodyRecipe>({ json: { title: 1 } }, { json: {} }, { json: [] }, { text: '{"title":"a","__proto__":{"x":1}}' }),
)
/** The `ids` field of the chat list: live ids of every kind, hostile ones, many, mangled. */
const idsFieldArb: fc.Arbitrary<string | { repeat: string; times: number }> = fc.oneof(
  fc
    .array(fc.tuple(fc.constantFrom('', 'view:'), fc.constantFrom<PoolName>('owners', 'viewers', 'publishers', 'doomed'), fc.nat(7)), {
      maxLength: 8,
    })
    .map((refs) => refs.map(([mark, pool, i]) => `${mark}$${pool}.${i}`).join(' ')),
  fc.array(fc.constantFrom(...HOSTILE_IDS), { maxLength: 8 }).map((ids) => ids.join(' ')),
  fc.record({ repeat: fc.constantFrom('AAAAAAAAAAAAAAAAAAAAAA ', '__proto__,', ' '), times: sizeArb }),
)
/** A form field holding a chat the delete routes may take away, or a hostile id. */
const doomedIdField = fc.oneof(
  fc.record({ sessionRef: fc.constantFrom<PoolName>('doomed', 'viewers'), index: fc.nat(7), field: fc.constant('client_id') }),
  fc.constantFrom(...HOSTILE_IDS).map((id): BodyRecipe => ({ text: `client_id=${encodeURIComponent(id)}` })),
)

const json = (body: fc.Arbitrary<BodyRecipe>) => body.map((b) => ({ body: b, contentType: 'application/json' }))
const form = (body: fc.Arbitrary<BodyRecipe>) => body.map((b) => ({ body: b, contentType: 'application/x-www-form-urlencoded' }))
const typed = (body: fc.Arbitrary<BodyRecipe>) => fc.record({ body, contentType: contentTypeArb })
/** Mostly the body the route expects, sometimes anything. */
const mostly = (expected: fc.Arbitrary<{ body: BodyRecipe; contentType: string }>) =>
  fc.oneof({ arbitrary: expected, weight: 3 }, { arbitrary: typed(hostileBodyArb), weight: 1 })

/** stepstream events as a publisher sends them: valid, nearly valid, hostile ids, long and deep payloads. */
const stepEventArb = fc.oneof(
  textArb.map((delta) => ({ type: 'partial', delta: delta || '.' })),
  textArb.map((delta) => ({ type: 'reasoning', delta: delta || '.' })),
  fc.record({ id: fc.constantFrom(...HOSTILE_IDS), name: textArb, input: jsonArb }).map((tool_call) => ({ type: 'tool-call', tool_call })),
  fc.record({ id: fc.constantFrom(...HOSTILE_IDS), result: jsonArb }).map((tool_result) => ({ type: 'tool-result', tool_result })),
  fc.record({ name: textArb, phase: fc.constantFrom('started', 'finished', 'other') }).map((s) => ({ type: 'agent-step', ...s })),
  jsonArb.map((state) => ({ type: 'agent-state', state })),
  fc.constantFrom(
    { type: 'final', text: 'done.' },
    { type: 'error', error: 'the program failed.' },
    { type: 'user', text: 'hi' },
    { type: 'start', step_type: 'x' },
    { type: 'interrupt', text: '' },
    { type: '__proto__' },
    { type: 'partial' },
    { type: 'partial', delta: 'x', extra: 1 },
  ),
)
const deepIn = (prefix: string, suffix: string) =>
  fc.record({
    deep: fc.constantFrom('array' as const, 'object' as const),
    depth: depthArb,
    prefix: fc.constant(prefix),
    suffix: fc.constant(suffix),
  })
const publishBodyArb: fc.Arbitrary<{ body: BodyRecipe; contentType: string }> = fc.oneof(
  { arbitrary: json(fc.array(stepEventArb, { maxLength: 6 }).map((events) => ({ json: events }))), weight: 4 },
  {
    arbitrary: fc
      .array(stepEventArb, { minLength: 1, maxLength: 6 })
      .map((events) => ({ body: { ndjson: events.map((json) => ({ json })) }, contentType: 'application/x-ndjson' })),
    weight: 2,
  },
  {
    arbitrary: json(
      fc.oneof(
        deepIn('[{"type":"tool-call","tool_call":{"id":"deep","name":"deep","input":', '}}]'),
        deepIn('[{"type":"tool-result","tool_result":{"id":"deep","result":', '}}]'),
        deepIn('[{"type":"agent-state","state":', '}]'),
        fc.record({ repeat: jsonUnitArb, times: sizeArb, prefix: fc.constant('[{"type":"partial","delta":"'), suffix: fc.constant('"}]') }),
        fc.record({
          repeat: jsonUnitArb,
          times: sizeArb,
          prefix: fc.constant('[{"type":"tool-call","tool_call":{"id":"'),
          suffix: fc.constant('","name":"n","input":{}}}]'),
        }),
        fc.record({ repeat: jsonUnitArb, times: sizeArb, prefix: fc.constant('[{"type":"error","error":"'), suffix: fc.constant('"}]') }),
      ),
    ),
    weight: 2,
  },
  { arbitrary: typed(hostileBodyArb), weight: 1 },
)
const aguiBodyArb = fc.oneof(
  { arbitrary: aguiEventsArb.map((events) => ({ body: { json: events } as BodyRecipe, contentType: 'application/json' })), weight: 3 },
  {
    arbitrary: aguiEventsArb.map((events) => ({
      body: { ndjson: events.map((json) => ({ json })) } as BodyRecipe,
      contentType: 'application/x-ndjson',
    })),
    weight: 1,
  },
  { arbitrary: json(aguiHeavyBodyArb), weight: 1 },
)

/** Models a new chat may ask for: the two the abused server offers (`--models`), and others. */
const modelArb: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.constantFrom('abuse-model-a', 'abuse-model-b'), weight: 3 },
  { arbitrary: textArb, weight: 2 },
  { arbitrary: fc.constantFrom('ABUSE-MODEL-A', 'abuse-model-a ', 'abuse-model-a,abuse-model-b', '__proto__', 'x'.repeat(201)), weight: 1 },
  { arbitrary: jsonArb, weight: 1 },
)
/** A system prompt: text, hostile text, not text. */
const systemPromptArb: fc.Arbitrary<unknown> = fc.oneof({ arbitrary: textArb, weight: 3 }, { arbitrary: jsonArb, weight: 1 })

/** The New Chat form: its model and system prompt, each absent, once, twice, hostile or long. */
const newChatFormArb: fc.Arbitrary<BodyRecipe> = fc
  .record({
    models: fc.array(modelArb.map(String), { maxLength: 2 }),
    prompt: fc.oneof<fc.Arbitrary<(string | { repeat: string; times: number })[]>[]>(
      fc.array(textArb, { maxLength: 2 }),
      fc.record({ repeat: unitArb, times: sizeArb }).map((long) => [long]),
    ),
  })
  .map(({ models, prompt }) => ({
    form: [
      ...models.map((m): [string, string] => ['model', m]),
      ...prompt.map((p): [string, string | { repeat: string; times: number }] => ['system_prompt', p]),
    ],
  }))

/** The rest of a Durable Streams path (`/v1/stream/<name>`): a few names that requests share, and hostile ones. */
const streamNameArb = fc.oneof(
  { arbitrary: fc.constantFrom('s1', 's2', 'a/b', '__proto__', 'constructor', 'sessions/x', 'view/y', 'x'.repeat(1025)), weight: 3 },
  { arbitrary: fc.constantFrom(...HOSTILE_IDS).map(encodeURIComponent), weight: 1 },
)
/** A read's offset: the start, the tail, real positions, and what no server hands out. */
const streamOffsetArb = fc.oneof(
  { arbitrary: fc.constantFrom('-1', 'now', '0000000000000000_0000000000000000', '0000000000000000_0000000000000001'), weight: 3 },
  {
    arbitrary: fc.constantFrom('9999999999999999_9999999999999999', '0_0', '-2', '', '../x', '0000000000000000_00000000000000001'),
    weight: 1,
  },
)
const liveArb = fc.constantFrom('long-poll', 'sse', 'LONG-POLL', '')
/** A body a stream takes: text, JSON (flattened one level), bytes. */
const streamBodyArb = fc.oneof(
  textArb.map((text) => ({ body: { text } as BodyRecipe, contentType: 'text/plain' })),
  jsonArb.map((value) => ({ body: { json: value } as BodyRecipe, contentType: 'application/json' })),
  deepIn('[', ']').map((body) => ({ body: body as BodyRecipe, contentType: 'application/json' })),
)

/** The query of a stream's read (a chat's too). */
const streamReadQuery = q([opt('offset', streamOffsetArb), opt('live', liveArb), opt('cursor', cursorArb)])

/** Every route of the app and how to abuse it. */
export const ROUTE_SPECS: Record<string, RouteSpec> = {
  'GET /healthz': { auth: 'none' },
  'GET /readyz': { auth: 'server' },
  'GET /metrics': { auth: 'server' },
  'GET /login': { auth: 'none', query: q([opt('next', nextArb)]) },
  'POST /login': {
    auth: 'none',
    body: mostly(
      fc.record({ token: fc.constantFrom('right', 'wrong', ''), next: nextArb }).map(({ token, next }) => ({
        body: {
          form: [
            ['token', token === 'right' ? 'abuse-suite-token-0123456789' : token === 'wrong' ? 'not-the-token-0123456789' : ''],
            ['next', next],
          ],
        } as BodyRecipe,
        contentType: 'application/x-www-form-urlencoded',
      })),
    ),
  },
  'POST /logout': { auth: 'none', body: typed(hostileBodyArb) },
  'GET /assets/:name': {
    auth: 'none',
    params: { name: 'asset' },
    query: q([opt('v', fc.string({ maxLength: 12 }))]),
  },
  'GET /': {
    auth: 'server',
    query: fc.oneof(
      q([opt('client_id', queryIdArb('owners', 'publishers'))]),
      q([opt('view', queryIdArb('viewers', 'publisherViewers'))]),
      q([opt('client_id', queryIdArb('owners')), opt('view', queryIdArb('viewers'))]),
    ),
  },
  'GET /earlier': {
    auth: 'server',
    query: fc.oneof(
      q([opt('client_id', queryIdArb('owners', 'publishers')), opt('before', cursorArb)]),
      q([opt('view', queryIdArb('viewers', 'publisherViewers')), opt('before', cursorArb)]),
      q([opt('client_id', queryIdArb('owners')), opt('view', queryIdArb('viewers')), opt('before', cursorArb)]),
    ),
  },
  'GET /start': { auth: 'server' },
  'POST /start': {
    auth: 'server',
    body: fc.oneof(
      { arbitrary: typed(hostileBodyArb), weight: 1 },
      { arbitrary: newChatFormArb.map((body) => ({ body, contentType: 'application/x-www-form-urlencoded' })), weight: 2 },
    ),
  },
  'POST /chat': {
    auth: 'server',
    body: mostly(
      fc
        .record({
          id: clientIdField,
          message: fc.oneof(
            textArb.map((text): BodyRecipe => ({ text: `&message=${encodeURIComponent(text)}` })),
            fc
              .record({ unit: unitArb, times: sizeArb })
              .map(({ unit, times }): BodyRecipe => ({ repeat: encodeURIComponent(unit), times, prefix: '&message=' })),
          ),
        })
        .map(({ id, message }) => ({
          body: ('text' in id ? { text: id.text } : { ...id, rest: message }) as BodyRecipe,
          contentType: 'application/x-www-form-urlencoded',
        })),
    ),
  },
  'POST /cancel': {
    auth: 'server',
    body: mostly(clientIdField.map((id) => ({ body: id as BodyRecipe, contentType: 'application/x-www-form-urlencoded' }))),
  },
  'POST /edit': {
    auth: 'server',
    body: mostly(
      fc
        .record({
          id: clientIdField,
          seq: fc.oneof(cursorArb, fc.constantFrom('__proto__', '1e3', '0x1')),
          message: textArb,
        })
        .map(({ id, seq, message }) => ({
          body: ('text' in id
            ? { text: `${id.text}&seq=${encodeURIComponent(seq)}` }
            : { ...id, rest: { text: `&seq=${encodeURIComponent(seq)}&message=${encodeURIComponent(message)}` } }) as BodyRecipe,
          contentType: 'application/x-www-form-urlencoded',
        })),
    ),
  },
  'POST /regenerate': {
    auth: 'server',
    body: mostly(clientIdField.map((id) => ({ body: id as BodyRecipe, contentType: 'application/x-www-form-urlencoded' }))),
  },
  'POST /api/sessions/:id/fork': {
    auth: 'server',
    params: { id: OWNER_IDS },
    body: mostly(
      json(
        fc.oneof(
          fc.nat(60).map((at) => ({ json: { at } })),
          fc.constantFrom<BodyRecipe>(
            { json: { at: -1 } },
            { json: { at: 1.5 } },
            { json: { at: '1' } },
            { text: '{"at":9007199254740993}' },
            { json: { at: 1e308 } },
            { json: {} },
            { json: [] },
            { text: '{"at":1,"__proto__":{"polluted":true}}' },
            { text: '{"at":1,"constructor":{"prototype":{"polluted":true}}}' },
          ),
          deepIn('{"at":', '}'),
        ),
      ),
    ),
  },
  'POST /api/sessions/:id/regenerate': { auth: 'server', params: { id: OWNER_IDS }, body: typed(hostileBodyArb) },
  'POST /api/sessions/': {
    auth: 'server',
    body: mostly(
      json(
        fc.oneof(
          fc.constantFrom<BodyRecipe>(
            { json: {} },
            { json: { step: 'echo' } },
            { json: { publisher: true } },
            { json: { step: '__proto__' } },
            { json: { step: 'constructor' } },
            { json: { step: 'openai' } },
            { json: { step: 'agui' } },
            { json: { publisher: true, step: 'echo' } },
            { text: '{"options":{"__proto__":{"polluted":true}}}' },
            { text: '{"step":"openai","options":{"__proto__":{"model":"abuse-model-b"}}}' },
          ),
          jsonArb.map((options) => ({ json: { step: 'echo', options } })),
          // A chat's own model and system prompt (--models abuse-model-a,abuse-model-b): in the list, out of it, hostile.
          fc
            .record({ model: fc.option(modelArb, { nil: undefined }), system_prompt: fc.option(systemPromptArb, { nil: undefined }) })
            .map((options) => ({ json: { step: 'openai', options } })),
          fc
            .record({ times: sizeArb, repeat: jsonUnitArb })
            .map(({ times, repeat }) => ({ repeat, times, prefix: '{"step":"openai","options":{"system_prompt":"', suffix: '"}}' })),
          deepIn('{"step":"echo","options":{"a":', '}}'),
        ),
      ),
    ),
  },
  'GET /api/sessions/:id': { auth: 'server', params: { id: OWNER_IDS } },
  'GET /api/sessions/:id/transcript.md': { auth: 'server', params: { id: OWNER_IDS } },
  'GET /api/sessions/:id/transcript.json': { auth: 'server', params: { id: OWNER_IDS } },
  'POST /api/sessions/:id/messages': {
    auth: 'server',
    params: { id: OWNER_IDS },
    body: mostly(
      json(
        fc.oneof(
          textArb.map((text) => ({ json: { text } })),
          longArb('{"text":"', '"}'),
          fc.constantFrom<BodyRecipe>(
            { json: { text: 1 } },
            { json: { text: null } },
            { json: [] },
            { text: '{"text":"a","__proto__":{"x":1}}' },
          ),
        ),
      ),
    ),
  },
  'PATCH /api/sessions/:id': { auth: 'server', params: { id: OWNER_IDS }, body: mostly(json(titleBodyArb)) },
  'DELETE /api/sessions/:id': { auth: 'server', params: { id: ['doomed', 'viewers', 'publisherViewers'] }, body: typed(hostileBodyArb) },
  'PATCH /api/sessions/view/:viewer_id': { auth: 'server', params: { viewer_id: VIEWER_IDS }, body: mostly(json(titleBodyArb)) },
  'DELETE /api/sessions/view/:viewer_id': { auth: 'server', params: { viewer_id: VIEWER_IDS }, body: typed(hostileBodyArb) },
  'POST /chats': { auth: 'server', body: mostly(form(idsFieldArb.map((ids) => ({ form: [['ids', ids]] })))) },
  'POST /chats/rename': {
    auth: 'server',
    body: mostly(
      form(
        fc
          .record({ id: clientIdField, title: titleArb })
          // A lone surrogate has no UTF-8 form to percent-encode: made well-formed (the JSON routes send it as it is).
          .map(({ id, title }) =>
            'text' in id
              ? { text: `${id.text}&title=${encodeURIComponent(title.toWellFormed())}` }
              : { ...id, rest: { text: `&title=${encodeURIComponent(title.toWellFormed())}` } },
          ),
      ),
    ),
  },
  'POST /chats/delete': { auth: 'server', body: mostly(form(doomedIdField)) },
  'POST /api/sessions/:id/cancel': { auth: 'server', params: { id: OWNER_IDS }, body: typed(hostileBodyArb) },
  'GET /api/sessions/:id/events': {
    auth: 'server',
    params: { id: OWNER_IDS },
    query: q([opt('after', cursorArb), opt('limit', cursorArb)]),
  },
  'POST /api/sessions/:id/runs': { auth: 'publisher', params: { id: ['publishers', 'owners'] }, body: typed(hostileBodyArb) },
  'POST /api/sessions/:id/runs/:run_id/events': {
    auth: 'publisher',
    params: { id: ['publishers'], run_id: ['runs'] },
    query: fc.oneof(
      { arbitrary: fc.constantFrom('', '?format=ag-ui'), weight: 4 },
      { arbitrary: fc.constantFrom('?format=stepstream', '?format=AG-UI', '?format=__proto__', '?format=ag-ui&format=x'), weight: 1 },
    ),
    body: fc.oneof(publishBodyArb, aguiBodyArb),
    headers: publishHeadersArb,
  },
  'GET /api/sessions/view/:viewer_id': { auth: 'server', params: { viewer_id: VIEWER_IDS } },
  'GET /api/sessions/view/:viewer_id/events': {
    auth: 'server',
    params: { viewer_id: VIEWER_IDS },
    query: q([opt('after', cursorArb), opt('limit', cursorArb)]),
  },
  'POST /api/sessions/view/:viewer_id/messages': { auth: 'server', params: { viewer_id: VIEWER_IDS }, body: typed(hostileBodyArb) },
  'POST /api/sessions/view/:viewer_id/cancel': { auth: 'server', params: { viewer_id: VIEWER_IDS }, body: typed(hostileBodyArb) },
  'GET /api/sessions/view/:viewer_id/transcript.md': { auth: 'server', params: { viewer_id: VIEWER_IDS } },
  'GET /api/sessions/view/:viewer_id/transcript.json': { auth: 'server', params: { viewer_id: VIEWER_IDS } },
  'GET /events': {
    auth: 'server',
    query: fc.oneof(
      q([opt('client_id', queryIdArb('owners', 'publishers')), opt('after', cursorArb)]),
      q([opt('view', queryIdArb('viewers', 'publisherViewers')), opt('after', cursorArb)]),
      q([opt('client_id', queryIdArb('owners')), opt('view', queryIdArb('viewers')), opt('after', cursorArb)]),
    ),
  },
  'GET /api/sessions/view/:viewer_id/stream': {
    auth: 'server',
    params: { viewer_id: VIEWER_IDS },
    query: q([opt('after', cursorArb), opt('format', formatArb)]),
  },
  'GET /api/sessions/:id/stream': {
    auth: 'server',
    params: { id: OWNER_IDS },
    query: q([opt('after', cursorArb), opt('format', formatArb)]),
  },
  'OPTIONS /v1/stream/*': { auth: 'none' },
  'GET /v1/stream/*': { auth: 'server', query: streamReadQuery },
  // A chat read as a stream, by its owner's id or its read-only link's: live ids, so that reads reach its log.
  'GET /v1/stream/sessions/:id': { auth: 'server', params: { id: OWNER_IDS }, query: streamReadQuery },
  'GET /v1/stream/view/:viewer_id': { auth: 'server', params: { viewer_id: VIEWER_IDS }, query: streamReadQuery },
  'PUT /v1/stream/*': { auth: 'server', body: fc.oneof(streamBodyArb, typed(hostileBodyArb)) },
  'POST /v1/stream/*': { auth: 'server', body: fc.oneof(streamBodyArb, typed(hostileBodyArb)) },
  'DELETE /v1/stream/*': { auth: 'server' },
}

/** The routes of the app as `METHOD /path` (built with auth on, so that the sign-in routes are among them). */
export async function appRoutes(): Promise<string[]> {
  const { app, close } = await testApp({ authTokens: ['abuse-suite-token-0123456789'] })
  const routes = app.routes.map((r) => `${r.method} ${r.path}`)
  await close()
  return routes
}

/** Routes of the app without a generator here, and `:params` of a route with no pool: each must get one. */
export function missingGenerators(routes: readonly string[]): string[] {
  const missing: string[] = []
  for (const route of routes) {
    const spec = ROUTE_SPECS[route]
    if (!spec) {
      missing.push(`${route} has no generator in test/abuse/routes.ts`)
      continue
    }
    for (const param of route.match(/:\w+/g) ?? []) {
      if (!spec.params?.[param.slice(1)]) missing.push(`${route}: ${param} draws from no pool in test/abuse/routes.ts`)
    }
  }
  return missing
}

/** The route's path as segments: literals, and a live (or hostile) id for each `:param`. */
function targetArb(path: string, spec: RouteSpec, liveOnly = false): fc.Arbitrary<Segment[]> {
  const parts = path.split(/(:\w+|\*)/).filter((p) => p !== '')
  return fc.tuple(
    ...parts.map((part): fc.Arbitrary<Segment> => {
      if (part === '*') return streamNameArb
      if (!part.startsWith(':')) return fc.constant(part)
      const pools = spec.params![part.slice(1)]!
      if (pools === 'asset') {
        return liveOnly
          ? fc.constantFrom(...ASSETS)
          : fc.oneof(fc.constantFrom(...ASSETS), fc.constantFrom(...HOSTILE_IDS).map(encodeURIComponent))
      }
      if (liveOnly) return fc.record({ pool: fc.constantFrom(...pools), index: fc.nat(7) })
      return fc.constantFrom(...pools).chain(idSegmentArb)
    }),
  )
}

/** The credential a route wants, right. */
const credentialOf = (auth: RouteSpec['auth']): [string, HeaderValue][] =>
  auth === 'server' ? [['authorization', { secret: 'bearer' }]] : auth === 'publisher' ? [['authorization', { secret: 'publisher' }]] : []

const credentialArb = (auth: RouteSpec['auth']): fc.Arbitrary<[string, HeaderValue][]> => {
  const right = credentialOf(auth)
  return fc.oneof(
    { arbitrary: fc.constant(right), weight: 6 },
    { arbitrary: fc.constant<[string, HeaderValue][]>([['cookie', { secret: 'cookie' }]]), weight: 1 },
    { arbitrary: fc.constant<[string, HeaderValue][]>([]), weight: 1 },
  )
}

/**
 * Requests for `route` (`METHOD /path`): half of them plausible (live ids, the right credential, the route's own
 * method and spelling, no hostile header, a body the route expects most of the time, whole or in tiny chunks), so
 * that they reach the handlers' depths; the other half hostile in every part at once.
 */
export function requestArb(route: string): fc.Arbitrary<AbuseRequest> {
  return fc.oneof(plausibleArb(route), hostileArb(route))
}

function plausibleArb(route: string): fc.Arbitrary<AbuseRequest> {
  const spec = ROUTE_SPECS[route]!
  const [method, path] = route.split(' ') as [string, string]
  return fc
    .record({
      target: targetArb(path, spec, true),
      query: spec.query ?? fc.constant(''),
      body: spec.body ?? (method === 'POST' ? typed(hostileBodyArb) : fc.constant(undefined)),
      transport: fc.oneof(
        { arbitrary: fc.constant({ kind: 'fetch' as const }), weight: 3 },
        {
          arbitrary: fc.record({
            kind: fc.constant('raw' as const),
            pieceBytes: fc.constantFrom(1, 7, 64),
            framing: fc.constantFrom('length' as const, 'chunked' as const),
          }),
          weight: 1,
        },
      ),
      headers: spec.headers ?? fc.constant<[string, HeaderValue][]>([]),
    })
    .map(({ target: drawn, query, body, transport, headers: more }) => {
      const headers: [string, HeaderValue][] = [...credentialOf(spec.auth), ...more]
      if (body) headers.push(['content-type', body.contentType])
      return finish({ route, method, target: alignRuns(drawn), query, headers, body: body?.body, transport })
    })
}

/** A run belongs to the publisher session at the same index: a live run id goes with its own session. */
function alignRuns(drawn: Segment[]): Segment[] {
  const owner = drawn.find((s) => typeof s !== 'string' && s.pool === 'publishers')
  return drawn.map((s) => (typeof s !== 'string' && s.pool === 'runs' && typeof owner === 'object' ? { ...s, index: owner.index } : s))
}

/**
 * Tiny pieces of a large body would take minutes (a piece a timer tick): a body goes in 256 pieces at most, and one
 * over 64 KiB in pieces of 64 KiB at least, so sending it never outlasts the wait for the answer.
 */
function finish(request: AbuseRequest): AbuseRequest {
  const { transport, body } = request
  if (transport.kind !== 'raw' || !body || transport.pieceBytes === undefined) return request
  const size = approximateSize(body)
  const least = size > 65_536 ? 65_536 : Math.ceil(size / 256)
  return transport.pieceBytes >= least ? request : { ...request, transport: { ...transport, pieceBytes: least } }
}

function hostileArb(route: string): fc.Arbitrary<AbuseRequest> {
  const spec = ROUTE_SPECS[route]!
  const [method, path] = route.split(' ') as [string, string]
  const noBody = fc.constant(undefined)
  return fc
    .record({
      method: fc.oneof(
        { arbitrary: fc.constant(method), weight: 12 },
        { arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'), weight: 1 },
      ),
      target: targetArb(path, spec),
      spelling: spellingArb,
      query: spec.query ?? fc.constant(''),
      body: spec.body ?? (method === 'POST' ? typed(hostileBodyArb) : noBody),
      credential: credentialArb(spec.auth),
      extra: extraHeadersArb,
      rawHeaders: rawOnlyHeadersArb,
      transport: fc.oneof(
        { arbitrary: fc.constant({ kind: 'fetch' as const }), weight: 5 },
        {
          arbitrary: fc.record({
            kind: fc.constant('raw' as const),
            pieceBytes: fc.oneof(fc.constantFrom(1, 7, 64, 4096), fc.constant(undefined)),
            framing: fc.constantFrom('length' as const, 'chunked' as const, 'none' as const),
            lengthLie: fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, { arbitrary: fc.integer({ min: -5, max: 5 }), weight: 1 }),
          }),
          weight: 2,
        },
      ),
    })
    .map(({ method: m, target: drawn, spelling, query, body, credential, extra, rawHeaders, transport }) => {
      const raw = transport.kind === 'raw'
      const target = alignRuns(drawn)
      // Dot segments and control characters only travel over a raw socket; fetch would resolve or refuse them.
      const respelled = respell(target, raw || (spelling !== 'dot-segment' && spelling !== 'dot-dot') ? spelling : 'as-is')
      const headers: [string, HeaderValue][] = [...credential, ...extra, ...(raw ? rawHeaders : [])]
      if (body) headers.push(['content-type', body.contentType])
      return finish({ route, method: m, target: respelled, query, headers, body: body?.body, transport })
    })
}

/** Roughly how many bytes a recipe makes, without making them. */
function approximateSize(recipe: BodyRecipe): number {
  if ('repeat' in recipe) return recipe.times * Math.max(4, recipe.repeat.length)
  if ('deep' in recipe) return recipe.depth * 5
  if ('text' in recipe) return recipe.text.length
  if ('bytes' in recipe) return recipe.bytes.length
  // A session's id with the rest of the body after it: a message of 100 KB rides there (POST /chat).
  if ('sessionRef' in recipe) return 100 + (recipe.rest ? approximateSize(recipe.rest) : 0)
  if ('ndjson' in recipe) return recipe.ndjson.reduce((sum, line) => sum + approximateSize(line) + 1, 0)
  if ('json' in recipe) return JSON.stringify(recipe.json ?? null)?.length ?? 4
  if ('multipart' in recipe) return recipe.multipart.reduce((sum, [name, value]) => sum + name.length + value.length + 100, 0)
  if ('form' in recipe) {
    return recipe.form.reduce(
      (sum, [name, value]) =>
        sum + name.length + 2 + (typeof value === 'string' ? value.length : value.times * Math.max(4, value.repeat.length)),
      0,
    )
  }
  return 1000
}

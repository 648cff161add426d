/**
 * The AG-UI follow stream's own notices as AG-UI CUSTOM events (AG-UI has no reset or stream failure of its own):
 * `stepstream.reset` `{after}` with `id: <after>` (retention removed what the cursor pointed into; what follows
 * resumes from there), and `stepstream.stream-error` `{error, code?}` (the stream failed on the server; reconnect,
 * unless `code` is SESSION_NOT_FOUND: the chat is gone). Apart from events-to-agui.ts so that they need none of the
 * AG-UI packages, which load only once a follower connects.
 */
import { encodeFrame } from '../sse/encode.ts'
import type { StreamNotices } from '../sse/session-stream.ts'

export const AGUI_NOTICES: StreamNotices = {
  reset: (after) =>
    encodeFrame({ id: String(after), data: JSON.stringify({ type: 'CUSTOM', name: 'stepstream.reset', value: { after } }) }),
  streamError: (error, code) =>
    encodeFrame({ data: JSON.stringify({ type: 'CUSTOM', name: 'stepstream.stream-error', value: { error, code } }) }),
}

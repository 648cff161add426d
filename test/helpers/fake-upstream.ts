/**
 * What the fake upstreams of the tests (fake-openai.ts, fake-agui.ts) share: watching a request for the moment its
 * client closes the connection, and answering with scripted SSE frames that end the way a test asks.
 */

/** How a scripted stream ends: `close` closes it; `reset` breaks the connection; `hang` sends nothing more. */
export type ScriptedEnd = 'close' | 'reset' | 'hang'

/** When the client closed a request's connection. */
export interface ClosedWatch {
  /** performance.now() when the client closed the connection, once it has. */
  closedAt?: number
  closed: Promise<void>
}

/** Starts watching `req`: `closed` resolves (and `closedAt` is set) when its client leaves, or when `close` is called. */
export function watchClose(req: Request): { watch: ClosedWatch; close: () => void } {
  let markClosed!: () => void
  const watch: ClosedWatch = { closed: new Promise((resolve) => (markClosed = resolve)) }
  const close = () => {
    watch.closedAt ??= performance.now()
    markClosed()
  }
  req.signal.addEventListener('abort', close, { once: true })
  return { watch, close }
}

/** Where a scripted stream stops until the test lets it go on: before frame `at`, until `until` resolves. */
export interface StreamHold {
  at: number
  until: Promise<void>
}

/**
 * A body of SSE frames (already encoded), `delayMs` apart, then ending as `end` says; `onCancel` when the client leaves.
 * With `hold`, it stops before frame `hold.at` until the test resolves `hold.until` (what a page shows mid-stream is
 * then there to see, however slow the machine).
 */
export function scriptedBody(
  frames: readonly string[],
  delayMs: number | undefined,
  end: ScriptedEnd,
  onCancel: () => void,
  hold?: StreamHold,
) {
  const encoder = new TextEncoder()
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      for (const [i, frame] of frames.entries()) {
        if (i === hold?.at) await hold.until
        if (delayMs) await Bun.sleep(delayMs)
        try {
          controller.enqueue(encoder.encode(frame))
        } catch {
          return // the client went away
        }
      }
      if (end === 'close') controller.close()
      if (end === 'reset') {
        // After what was sent has left: erroring a response's body then breaks its connection mid-stream.
        await Bun.sleep(50)
        controller.error(new Error('the fake upstream broke the connection on purpose'))
      }
    },
    cancel: onCancel,
  })
}

/**
 * A body that never ends: frame `i` is `frame(i)`, written as fast as the client reads (pulled, so a client that stops
 * reading stops it: the fake never buffers more than a chunk ahead); `onCancel` when the client leaves.
 */
export function endlessBody(frame: (i: number) => string, onCancel: () => void) {
  const encoder = new TextEncoder()
  let i = 0
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        // About 64 KiB a pull: one frame at a time would make the stream's own bookkeeping the bottleneck.
        let text = ''
        while (text.length < 64 * 1024) text += frame(i++)
        controller.enqueue(encoder.encode(text))
      },
      cancel: onCancel,
    },
    { highWaterMark: 1 },
  )
}

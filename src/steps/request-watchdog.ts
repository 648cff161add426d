import { UPSTREAM_ERROR_MAX_BYTES } from '../limits.ts'
/**
 * Aborts when the model server has been silent for `ms`: no response, no byte of its body. Every byte resets it
 * (`touch`), so a slow but live stream — or a server that sends SSE comments while it thinks — is never cut, and a
 * retry's wait (the client sleeping out a Retry-After) is not counted as silence (`pause`).
 */
export class RequestWatchdog {
  readonly #controller = new AbortController()
  #timer: ReturnType<typeof setTimeout> | undefined

  /** @param ms the longest silence; milliseconds (`--request-timeout`). */
  constructor(readonly ms: number) {}

  /** Aborted once the server was silent for too long. */
  get signal(): AbortSignal {
    return this.#controller.signal
  }

  get fired(): boolean {
    return this.#controller.signal.aborted
  }

  /** Something arrived (or a request left): the silence starts again from now. */
  touch(): void {
    if (this.fired) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#controller.abort(new Error('the model server sent nothing in time')), this.ms)
  }

  /** Nothing is expected from the server for now (a retry is pending, or the tools are running). */
  pause(): void {
    clearTimeout(this.#timer)
  }

  /**
   * A `fetch` that touches the watchdog when a request leaves and for every chunk of its body, and pauses it when
   * the answer is an error the client may retry after a wait.
   */
  fetch(inner: typeof fetch = fetch): typeof fetch {
    const watched = async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
      this.touch()
      const response = await inner(input, init)
      if (!response.body) {
        this.pause()
        return response
      }
      if (!response.ok) {
        // The clients read an error answer whole to quote it: an upstream answering 500 with an endless body grew
        // the server by gigabytes. What they get is its first UPSTREAM_ERROR_MAX_BYTES, read under the watchdog.
        const head = await this.#readUpTo(response.body, UPSTREAM_ERROR_MAX_BYTES)
        this.pause()
        return new Response(head, { status: response.status, statusText: response.statusText, headers: response.headers })
      }
      this.touch()
      const counted = response.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform: (chunk, controller) => {
            this.touch()
            controller.enqueue(chunk)
          },
        }),
      )
      return new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers })
    }
    return Object.assign(watched, { preconnect: inner.preconnect }) as typeof fetch
  }

  async #readUpTo(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<Blob> {
    const reader = body.getReader()
    const chunks: Uint8Array[] = []
    let total = 0
    try {
      while (total < maxBytes) {
        const { done, value } = await reader.read()
        if (done) break
        this.touch()
        chunks.push(value.subarray(0, maxBytes - total))
        total += Math.min(value.length, maxBytes - total)
      }
    } finally {
      reader.cancel().catch(() => {})
    }
    return new Blob(chunks as BlobPart[])
  }
}

/**
 * HeldStep (held-step.ts) for a server in another process: a model server the test holds. It speaks the OpenAI chat
 * completions stream, so the production `openai` step runs against it unchanged (`--step openai` and its flags in
 * `flags`), in `src/main.ts` or the compiled binary, and no test code is loaded into the server. Each answer echoes
 * the request's last user message: its first `streamFirst` characters at once, then it holds until the test lets
 * more go (`step`, `release`) or the server hangs up (a cancel, a stop, a crash).
 */
import { chunk, roleChunk } from './fake-openai.ts'

interface Answer {
  /** The last user message it answers. */
  question: string
  chars: string[]
  /** Characters the answer may send by now. */
  allowed: number
  /** Wakes the answer's stream after `allowed` grew. */
  wake?: () => void
  /** The server hung up. */
  cancelled?: boolean
}

export class HeldModel {
  readonly #holding = new Set<Answer>()
  #heldWaiters: Array<() => void> = []
  readonly #server: ReturnType<typeof Bun.serve>

  /** @param streamFirst characters each answer sends before it holds; default 5. */
  constructor(private readonly streamFirst = 5) {
    this.#server = Bun.serve({ hostname: '127.0.0.1', port: 0, idleTimeout: 0, fetch: (req) => this.#answer(req) })
  }

  /** The model server's base URL, up to /v1. */
  get baseUrl(): string {
    return `http://127.0.0.1:${this.#server.port}/v1`
  }

  /** A server's flags that make new chats answer with this model. */
  get flags(): string[] {
    return ['--step', 'openai', '--openai-base-url', this.baseUrl, '--model', 'held']
  }

  /**
   * Resolves once an answer is holding (at once if one already is); with `question`, once the answer to that user
   * message is (an answer the server has hung up on but the fake has not yet heard of is not mistaken for it).
   */
  async held(question?: string): Promise<void> {
    const holds = () => [...this.#holding].some((answer) => question === undefined || answer.question === question)
    while (!holds()) await new Promise<void>((resolve) => this.#heldWaiters.push(resolve))
  }

  /** Every holding answer sends `count` more characters (default 1), then holds again, or ends if none is left. */
  step(count = 1): void {
    for (const answer of this.#holding) {
      answer.allowed += count
      answer.wake?.()
    }
  }

  /** Every holding answer streams the rest and ends. */
  release(): void {
    this.step(Number.POSITIVE_INFINITY)
  }

  async stop(): Promise<void> {
    await this.#server.stop(true)
  }

  async #answer(req: Request): Promise<Response> {
    // A message's content is a string, or parts of which the text ones count (as the OpenAI API has it).
    const body = (await req.json()) as { messages: { role: string; content: string | { text?: string }[] }[] }
    const content = body.messages.findLast((m) => m.role === 'user')?.content ?? ''
    const text = typeof content === 'string' ? content : content.map((part) => part.text ?? '').join('')
    const answer: Answer = { question: text, chars: [...text], allowed: this.streamFirst }
    const encoder = new TextEncoder()
    const frame = (data: object | string) => encoder.encode(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`)
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(frame(roleChunk())),
      // One frame a pull; a pull that holds sends its frame once woken (returning without one would stall the stream).
      pull: async (controller) => {
        while (sent >= Math.min(answer.allowed, answer.chars.length) && sent < answer.chars.length) {
          this.#holding.add(answer)
          for (const wake of this.#heldWaiters.splice(0)) wake()
          await new Promise<void>((resolve) => (answer.wake = resolve))
          answer.wake = undefined
          this.#holding.delete(answer)
          if (answer.cancelled) return
        }
        if (sent < answer.chars.length) return controller.enqueue(frame(chunk({ content: answer.chars[sent++] })))
        controller.enqueue(frame(chunk({}, 'stop')))
        controller.enqueue(frame('[DONE]'))
        controller.close()
      },
      cancel: () => {
        // The server hung up (a cancel, a stop): the answer holds no more.
        answer.cancelled = true
        this.#holding.delete(answer)
        answer.wake?.()
      },
    })
    return new Response(stream, { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' } })
  }
}

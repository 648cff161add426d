import { TERMINAL_TYPES, type NewEvent, type StepEvent } from '../events.ts'
import { readAll } from '../store/read-all.ts'
import { noActiveRun, runActive } from '../errors.ts'
import type { EventStore } from '../store/event-store.ts'
import type { Logger } from '../log.ts'
import { newId } from '../session-id.ts'
import { conversationOf } from '../steps/conversation.ts'
import type { Step } from '../steps/step.ts'

interface ActiveRun {
  stepId: string
  controller: AbortController
  done: Promise<void>
}

/**
 * Runs steps for sessions: one run at a time per session, each closed by exactly one `final`, `interrupt` or
 * `error` whatever the step does (returns early, throws, ignores its signal).
 */
export class Runner {
  readonly #active = new Map<string, ActiveRun>()

  constructor(
    private readonly store: EventStore,
    private readonly step: Step,
    private readonly log: Logger,
  ) {}

  /** The step id of the session's active run, if any. */
  activeRun(sessionId: string): string | undefined {
    return this.#active.get(sessionId)?.stepId
  }

  /** How many runs are active across all sessions. */
  get activeCount(): number {
    return this.#active.size
  }

  /**
   * Adds the user's message to the session and starts the step on the conversation so far. Resolves with the run's
   * step id once the message is stored; the run goes on in the background. Throws RUN_ACTIVE while a run is going.
   */
  async submit(sessionId: string, text: string): Promise<string> {
    if (this.#active.has(sessionId)) throw runActive()
    const stepId = newId()
    const controller = new AbortController()
    let finish!: () => void
    const run: ActiveRun = { stepId, controller, done: new Promise((resolve) => (finish = resolve)) }
    // Claimed before the first await, so two messages racing for one session cannot both start a run.
    this.#active.set(sessionId, run)
    try {
      await this.store.append(sessionId, { type: 'user', step_id: stepId, ts: now(), text })
    } catch (error) {
      this.#active.delete(sessionId)
      finish()
      throw error
    }
    run.done = this.#execute(sessionId, stepId, controller.signal).finally(() => {
      this.#active.delete(sessionId)
      finish()
    })
    return stepId
  }

  /** Asks the session's active run to stop; its `interrupt` follows on the log. Throws NO_ACTIVE_RUN when idle. */
  cancel(sessionId: string): string {
    const run = this.#active.get(sessionId)
    if (!run) throw noActiveRun()
    run.controller.abort()
    return run.stepId
  }

  /** Resolves once the session has no active run. */
  async settled(sessionId: string): Promise<void> {
    await this.#active.get(sessionId)?.done
  }

  /** Interrupts every active run and waits until each has stored its closing event. */
  async shutdown(): Promise<void> {
    const runs = [...this.#active.values()]
    for (const run of runs) run.controller.abort()
    await Promise.all(runs.map((run) => run.done))
  }

  async #execute(sessionId: string, stepId: string, signal: AbortSignal): Promise<void> {
    let streamed = ''
    let ended = false
    const append = async (event: StepEvent) => {
      if (ended) throw new Error(`step emitted ${event.type} after its run had ended`)
      await this.store.append(sessionId, { ...event, step_id: stepId, ts: now() } as NewEvent)
      if (event.type === 'partial') streamed += event.delta
      if (TERMINAL_TYPES.has(event.type)) ended = true
    }
    const log = { session_id: sessionId, step_id: stepId }
    try {
      const history = await readAll(this.store, sessionId)
      this.log.info('run started', { ...log, step_type: this.step.type })
      await this.step.run(conversationOf(history), { signal, emit: append })
      if (!ended) await append(signal.aborted ? { type: 'interrupt', text: streamed } : missingEnd())
    } catch (error) {
      this.log.error('run failed', { ...log, error: String(error) })
      if (!ended) {
        await append({ type: 'error', error: sentenceOf(error) }).catch((appendError) =>
          this.log.error('could not store the closing error of a run', { ...log, error: String(appendError) }),
        )
      }
    }
    this.log.info('run ended', log)
  }
}

const now = () => new Date().toISOString()

const missingEnd = (): StepEvent => ({ type: 'error', error: 'The step stopped without giving an answer.' })

function sentenceOf(error: unknown): string {
  if (error instanceof Error && 'status' in error) return error.message
  return 'The step failed on the server. Try sending your message again.'
}

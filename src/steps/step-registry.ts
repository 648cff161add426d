import { AppError } from '../errors.ts'
import type { Step, StepSpec } from './step.ts'

/** Builds a step for one session from the options the session was created with. */
export interface StepFactory {
  /** The name sessions and `--step` use. */
  readonly name: string
  /** A line for `--help` and for the error that lists the known steps. */
  readonly description: string
  /**
   * Why this server cannot run the step, as a sentence that says how to fix it (the openai step without a model);
   * undefined when it can. Sessions cannot pick such a step (422), and a server cannot make it its default.
   */
  readonly unavailable?: string
  /**
   * Checks the options a new chat asks for and completes them with what it leaves out, so that the chat records its
   * whole choice (the openai step's model); throws an AppError (422) with a sentence for options it refuses. Options
   * are kept as given when absent.
   */
  readonly prepare?: (options: Readonly<Record<string, unknown>> | undefined) => Record<string, unknown> | undefined
  /** The models a new chat may choose from, for the New Chat form; none for a step without such a choice. */
  readonly models?: readonly string[]
  create(options: Record<string, unknown>): Step
}

/** The steps this server can run, by name. `main` fills it; tests and embedders pass their own. */
export class StepRegistry {
  readonly #factories = new Map<string, StepFactory>()

  /** @param defaultStep the step of sessions created without naming one (`--step`). */
  constructor(
    factories: readonly StepFactory[],
    readonly defaultStep: string = factories[0]?.name ?? '',
  ) {
    for (const factory of factories) this.#factories.set(factory.name, factory)
    this.spec(defaultStep)
  }

  /** The one-line description of a step (the default when none is named). */
  describe(name: string = this.defaultStep): string {
    return this.#factories.get(name)?.description ?? ''
  }

  get names(): string[] {
    return [...this.#factories.keys()]
  }

  /** The spec a new session records: the named step (the default when none) after checking it exists. */
  spec(name: string = this.defaultStep, options?: Record<string, unknown>): StepSpec {
    const factory = this.#factories.get(name)
    if (!factory) throw unknownStep(name, this.names)
    if (factory.unavailable) throw new AppError('STEP_UNAVAILABLE', factory.unavailable)
    const prepared = factory.prepare ? factory.prepare(options) : options
    return prepared === undefined ? { name } : { name, options: prepared }
  }

  /** The models a new chat of this step may choose from (the openai step's `--models`); empty for other steps. */
  models(name: string = this.defaultStep): readonly string[] {
    return this.#factories.get(name)?.models ?? []
  }

  /** The step that runs a session's next message. */
  create(spec: StepSpec): Step {
    const factory = this.#factories.get(spec.name)
    if (!factory) throw unknownStep(spec.name, this.names)
    return factory.create(spec.options ?? {})
  }
}

export const unknownStep = (name: string, known: readonly string[]) =>
  new AppError('UNKNOWN_STEP', `There is no step called ${JSON.stringify(name)}; this server knows ${known.join(', ')}.`)

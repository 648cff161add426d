import type { AguiConfig } from './agui-config.ts'
import type { Logger } from '../log.ts'
import { defineStep } from './define-step.ts'
import type { StepFactory } from './step-registry.ts'

/** Why the agui step cannot run with this configuration, as a sentence saying how to fix it; undefined if it can. */
export function aguiUnavailable(config: AguiConfig): string | undefined {
  if (!config.url) {
    return 'The agui step needs the AG-UI endpoint of an agent: pass --agui-url (or set STEPSTREAM_AGUI_URL), e.g. --agui-url http://localhost:8000/agent.'
  }
  return undefined
}

/** The agui step for the registry: every session's runs go to the server's AG-UI agent. */
export function aguiStep(config: AguiConfig, log: Logger, transport?: typeof fetch): StepFactory {
  return defineStep({
    name: 'agui',
    description: `asks the AG-UI agent at ${config.url ? new URL(config.url).host : '(none configured)'}`,
    unavailable: aguiUnavailable(config),
    run: async (conversation, run) => {
      // The AG-UI packages (its client, schemas and their zod) load with the first run: at every start they cost
      // ~25 ms of cold start (bench/, cold start) for a step most servers never run.
      const { AguiAnswer } = await import('./agui-answer.ts')
      return new AguiAnswer({ ...config, url: config.url ?? '' }, log, transport).answer(conversation, run)
    },
  })
}

/**
 * main.ts with one more step, for the shutdown tests: `stubborn` streams a little and then ignores its signal
 * forever, like a step stuck on an upstream that never answers. Same flags as the real server.
 */
import { parseConfig } from '../../src/config.ts'
import { createLogger } from '../../src/log.ts'
import { startServer, stopOnSignals } from '../../src/server.ts'
import { echoStep } from '../../src/steps/echo-step.ts'
import type { StepFactory } from '../../src/steps/step-registry.ts'

const stubborn: StepFactory = {
  name: 'stubborn',
  description: 'streams "stuck" and never returns, whatever its signal says',
  create: () => ({
    type: 'stubborn',
    async run(_input, { emit }) {
      await emit({ type: 'start', step_type: 'stubborn' })
      await emit({ type: 'partial', delta: 'stuck' })
      await new Promise(() => {})
    },
  }),
}

const parsed = parseConfig(process.argv.slice(2), process.env)
if (parsed.kind !== 'run') throw new Error(`bad flags: ${JSON.stringify(parsed)}`)
const log = createLogger(parsed.config.logLevel)
const steps = [echoStep(parsed.config.steps.echo.delayMs), stubborn]
const server = await startServer(parsed.config, steps, log, 'test')
stopOnSignals(server, log, parsed.config.server.cancelGraceMs)

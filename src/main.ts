import { helpText, parseConfig } from './config.ts'
import { createLogger } from './log.ts'
import { StartError, startServer, stopOnSignals } from './server.ts'
import { aguiStep } from './steps/agui-step.ts'
import { echoStep } from './steps/echo-step.ts'
import { openAiStep } from './steps/openai-step.ts'
import { buildCommit, VERSION, versionLine } from './version.ts'
import { runWorkers, WORKER_ENV } from './workers.ts'

/** A bad flag or an unusable store: one line on stderr and exit code 2, as `--help` promises. */
function fail(message: string): never {
  process.stderr.write(`stepstream: ${message}\n`)
  process.exit(2)
}

async function main() {
  const parsed = parseConfig(process.argv.slice(2), process.env)
  if (parsed.kind === 'help') return void process.stdout.write(helpText(VERSION))
  if (parsed.kind === 'version') return void process.stdout.write(versionLine(VERSION, buildCommit()))
  if (parsed.kind === 'error') fail(parsed.message)
  const { config } = parsed
  // A person at a terminal reads lines; a log collector (journald, docker) reads one JSON object a line.
  const log = createLogger(config.logLevel, { pretty: process.stderr.isTTY === true })
  if (config.workers > 1 && process.env[WORKER_ENV] === undefined) return runWorkers(config.workers, log)
  const { echo, openai, agui } = config.steps
  try {
    const steps = [echoStep(echo.delayMs), openAiStep(openai, log), aguiStep(agui, log)]
    const server = await startServer(config, steps, log, VERSION)
    stopOnSignals(server, log, config.server.cancelGraceMs)
  } catch (error) {
    if (error instanceof StartError) fail(error.message)
    throw error
  }
}

// Not a top-level await: the executable is built as CommonJS bytecode (scripts/release.ts), which has none. What
// main does not turn into a sentence itself is a bug: its stack on stderr, and exit code 1.
main().catch((error: unknown) => {
  process.stderr.write(`stepstream: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  process.exit(1)
})

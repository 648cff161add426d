import { DEFAULT_ECHO_DELAY_MS } from '../defaults.ts'
import { type ConfigPart, integer } from '../flags.ts'

/** How the `echo` step runs. */
export interface EchoConfig {
  /** The pause between two echoed characters; milliseconds, default DEFAULT_ECHO_DELAY_MS (50). */
  delayMs: number
}

/** The echo step's flag. */
export const echoConfig: ConfigPart<EchoConfig> = {
  flags: {
    'echo-delay': {
      env: ['STEPSTREAM_ECHO_DELAY'],
      value: '<ms>',
      default: String(DEFAULT_ECHO_DELAY_MS),
      help: 'milliseconds between two echoed characters',
    },
  },
  parse: (read) => ({ delayMs: integer('echo-delay', read.get('echo-delay'), 0, 60_000) }),
}

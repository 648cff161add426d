import { DEFAULT_REQUEST_TIMEOUT_MS } from '../defaults.ts'
import { type ConfigPart, integer } from '../flags.ts'

/**
 * The flag the steps that call a server share (openai, agui): one `--request-timeout` for both, declared here once and
 * composed into each of their parts.
 */
export const requestTimeoutConfig: ConfigPart<number> = {
  flags: {
    'request-timeout': {
      env: ['STEPSTREAM_REQUEST_TIMEOUT'],
      value: '<ms>',
      default: String(DEFAULT_REQUEST_TIMEOUT_MS),
      help: 'openai and agui steps: milliseconds without a byte from the model server or agent before the run fails',
    },
  },
  parse: (read) => integer('request-timeout', read.get('request-timeout'), 100, 3_600_000),
}

import { DEFAULT_PUBLISH_TIMEOUT_MS } from '../defaults.ts'
import { type ConfigPart, integer } from '../flags.ts'

/** The flag of runs a program publishes over HTTP (the `published` step kind), declared beside them. */
export const publishConfig: ConfigPart<{ publishTimeoutMs: number }> = {
  flags: {
    'publish-timeout': {
      env: ['STEPSTREAM_PUBLISH_TIMEOUT'],
      value: '<ms>',
      default: String(DEFAULT_PUBLISH_TIMEOUT_MS),
      help: 'milliseconds a publishing program may stay silent before its run is closed with an error',
    },
  },
  parse: (read) => ({ publishTimeoutMs: integer('publish-timeout', read.get('publish-timeout'), 100, 86_400_000) }),
}

import { DEFAULT_MAX_TOOL_ROUNDS, DEFAULT_OPENAI_BASE_URL, SYSTEM_PROMPT } from '../defaults.ts'
import { type ConfigPart, httpUrl, integer } from '../flags.ts'
import { requestTimeoutConfig } from './upstream-config.ts'

/** How the `openai` step reaches its model server. */
export interface OpenAiConfig {
  /** The server's OpenAI-compatible base URL, up to `/v1`; default DEFAULT_OPENAI_BASE_URL (https://api.openai.com/v1). */
  baseUrl: string
  /** Sent as `Authorization: Bearer`; never logged. Optional for a server on this machine or a private network. */
  apiKey?: string
  /** The model every request names; required for the openai step. */
  model?: string
  /** The system message every conversation starts with; default SYSTEM_PROMPT (the original tutorial's). */
  systemPrompt: string
  /** Rounds of tool calls a run may make before it ends with an error; default DEFAULT_MAX_TOOL_ROUNDS (8). */
  maxToolRounds: number
  /** A request that sends no byte for this long ends the run with an error; milliseconds, default 120,000. */
  requestTimeoutMs: number
}

/** The openai step's flags. */
export const openAiConfig: ConfigPart<OpenAiConfig> = {
  flags: {
    'openai-base-url': {
      env: ['STEPSTREAM_OPENAI_BASE_URL', 'OPENAI_BASE_URL'],
      value: '<url>',
      default: DEFAULT_OPENAI_BASE_URL,
      help: 'openai step: the OpenAI-compatible API, up to /v1',
    },
    'openai-api-key': {
      env: ['STEPSTREAM_OPENAI_API_KEY', 'OPENAI_API_KEY'],
      value: '<key>',
      help: 'openai step: the API key (not needed for a server on localhost or a private network)',
    },
    model: {
      env: ['STEPSTREAM_MODEL'],
      value: '<name>',
      help: 'openai step: the model to ask, e.g. gpt-4o-mini or llama3.2 (required)',
    },
    'system-prompt': {
      env: ['STEPSTREAM_SYSTEM_PROMPT'],
      value: '<text>',
      default: SYSTEM_PROMPT,
      help: 'openai step: the system message',
    },
    'max-tool-rounds': {
      env: ['STEPSTREAM_MAX_TOOL_ROUNDS'],
      value: '<n>',
      default: String(DEFAULT_MAX_TOOL_ROUNDS),
      help: 'openai step: rounds of tool calls before a run gives up',
    },
    ...requestTimeoutConfig.flags,
  },
  parse: (read) => ({
    baseUrl: httpUrl('openai-base-url', read.get('openai-base-url'), 'http://localhost:11434/v1'),
    apiKey: read.get('openai-api-key') || undefined,
    model: read.get('model') || undefined,
    systemPrompt: read.get('system-prompt'),
    maxToolRounds: integer('max-tool-rounds', read.get('max-tool-rounds'), 0, 100),
    requestTimeoutMs: requestTimeoutConfig.parse(read),
  }),
}

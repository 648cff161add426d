import { DEFAULT_MAX_TOOL_ROUNDS, DEFAULT_OPENAI_BASE_URL, SYSTEM_PROMPT } from '../defaults.ts'
import { ConfigError, type ConfigPart, httpUrl, integer } from '../flags.ts'
import { MAX_OFFERED_MODELS, NAME_MAX_CHARS } from '../limits.ts'
import { requestTimeoutConfig } from './upstream-config.ts'

/** How the `openai` step reaches its model server. */
export interface OpenAiConfig {
  /** The server's OpenAI-compatible base URL, up to `/v1`; default DEFAULT_OPENAI_BASE_URL (https://api.openai.com/v1). */
  baseUrl: string
  /** Sent as `Authorization: Bearer`; never logged. Optional for a server on this machine or a private network. */
  apiKey?: string
  /** The model of chats that choose none (`--model`, else the first of `--models`); required for the openai step. */
  model?: string
  /**
   * The models a new chat may choose from (`--models`); default `[model]`, or none without a model. Holds `model`
   * whenever both are set.
   */
  models: readonly string[]
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
      help: 'openai step: the model to ask, e.g. gpt-4o-mini or llama3.2 (required, or --models)',
    },
    models: {
      env: ['STEPSTREAM_MODELS'],
      value: '<a,b,…>',
      help: 'openai step: the models New Chat offers; --model (default the first) must be one of them',
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
    ...modelChoice(read.get('model'), read.get('models')),
    systemPrompt: read.get('system-prompt'),
    maxToolRounds: integer('max-tool-rounds', read.get('max-tool-rounds'), 0, 100),
    requestTimeoutMs: requestTimeoutConfig.parse(read),
  }),
}

/** What a model's name may be on the command line: printable ASCII, no space or comma, at most NAME_MAX_CHARS. */
const MODEL_NAME = new RegExp(`^[\\x21-\\x2b\\x2d-\\x7e]{1,${NAME_MAX_CHARS}}$`)

/** `--model` and `--models` together: the list holds the default, which is the list's first when not given. */
function modelChoice(model: string, models: string): Pick<OpenAiConfig, 'model' | 'models'> {
  if (models.trim() === '') return { model: model || undefined, models: model ? [model] : [] }
  const list = [...new Set(models.split(',').map((name) => name.trim()))]
  const bad = list.find((name) => !MODEL_NAME.test(name))
  if (bad !== undefined || list.length > MAX_OFFERED_MODELS) {
    throw new ConfigError(
      `--models must be up to ${MAX_OFFERED_MODELS} model names separated by commas, each without spaces, got ${JSON.stringify(models.slice(0, 300))}`,
    )
  }
  if (model && !list.includes(model)) {
    throw new ConfigError(`--model ${JSON.stringify(model)} must be one of --models (${list.join(', ')}): new chats start with it`)
  }
  return { model: model || list[0], models: list }
}

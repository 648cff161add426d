import { AppError } from '../errors.ts'
import { SYSTEM_PROMPT_MAX_BYTES } from '../limits.ts'
import type { OpenAiConfig } from './openai-config.ts'

/*
 * What a chat of the openai step chooses at New Chat — its model among `--models`, and a system prompt of its own —
 * checked once where the chat is created and recorded in its step spec (`{"model", "system_prompt"?}`), so that every
 * instance, tab and restart asks the same model with the same prompt.
 */

/** The options an openai chat may be created with. */
const OPTION_NAMES = new Set(['model', 'system_prompt'])

const badOptions = (sentence: string) => new AppError('BAD_STEP_OPTIONS', sentence)

const offered = (models: readonly string[]) => (models.length === 0 ? 'no model yet' : models.join(', '))

/** 422 for a model this server does not offer, naming those it does. */
export const modelNotOffered = (model: unknown, models: readonly string[]) =>
  badOptions(
    `This server does not offer the model ${JSON.stringify(typeof model === 'string' ? model.slice(0, 200) : model)}: choose one of ${offered(models)}.`,
  )

/**
 * A new chat's options, checked (422 with a sentence for any other option, a model outside `--models`, a system prompt
 * that is not text or is longer than SYSTEM_PROMPT_MAX_BYTES) and completed with the server's default model, so that
 * the chat records the model it was created with. A blank system prompt is none: the server's `--system-prompt` holds.
 */
export function prepareOpenAiOptions(config: OpenAiConfig, options: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  const other = Object.keys(options).find((name) => !OPTION_NAMES.has(name))
  if (other !== undefined) {
    throw badOptions(`The openai step takes the options "model" and "system_prompt" only, not ${JSON.stringify(other.slice(0, 64))}.`)
  }
  const model = options.model ?? config.model
  if (typeof model !== 'string' || !config.models.includes(model)) throw modelNotOffered(model, config.models)
  const prompt = options.system_prompt
  if (prompt !== undefined && typeof prompt !== 'string') throw badOptions('"system_prompt" must be text.')
  const bytes = prompt === undefined ? 0 : Buffer.byteLength(prompt)
  if (bytes > SYSTEM_PROMPT_MAX_BYTES) {
    throw badOptions(`The system prompt is ${bytes} bytes long; this server takes at most ${SYSTEM_PROMPT_MAX_BYTES}. Shorten it.`)
  }
  return prompt === undefined || prompt.trim() === '' ? { model } : { model, system_prompt: prompt }
}

/**
 * The model and system prompt a run asks with: the chat's recorded choice, else (a chat created before chats chose)
 * the server's. A recorded model this server no longer offers ends the run with a sentence rather than silently asking
 * another.
 */
export function chosenSettings(config: OpenAiConfig, options: Readonly<Record<string, unknown>>): { model: string; systemPrompt: string } {
  const model = options.model ?? config.model ?? ''
  if (typeof model !== 'string' || (options.model !== undefined && !config.models.includes(model))) {
    throw new Error(
      `This chat asks the model ${JSON.stringify(String(model).slice(0, 200))}, which this server no longer offers (it offers ${offered(config.models)}): start a new chat.`,
    )
  }
  const prompt = options.system_prompt
  return { model, systemPrompt: typeof prompt === 'string' ? prompt : config.systemPrompt }
}

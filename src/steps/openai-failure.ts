import OpenAI from 'openai'
import { quoted } from '../sentence.ts'

/** What the sentences need to know about the request that failed. */
export interface FailureContext {
  model: string
  /** The model server's host (never the whole URL, which may carry credentials). */
  host: string
  /** The URL the request was sent to, as askedUrl gives it: no user, password, query or fragment. */
  url: string
  requestTimeoutMs: number
  /** Retries the client made before giving up. */
  maxRetries: number
  /** True when the watchdog ended the request (no byte for `requestTimeoutMs`). */
  timedOut: boolean
  /** True once part of the answer had streamed: a failure then cuts the answer. */
  streamed: boolean
  /** Removes the API key from a text that came from the model server. */
  redact: (text: string) => string
}

/**
 * The URL a chat completion is asked at, for a sentence: the base URL's scheme, host, port and path, then
 * `/chat/completions` (what the client appends), never its user, password, query or fragment, where a key may ride.
 */
export function askedUrl(baseUrl: string): string {
  const url = new URL(baseUrl)
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}/chat/completions`
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`

/** The model server's own words, when they help (a 400 saying the context is too long), cut short and key-free. */
function theirWords(error: InstanceType<typeof OpenAI.APIError>, context: FailureContext): string {
  const raw = (error.error as { message?: unknown } | undefined)?.message
  if (typeof raw !== 'string' || !raw.trim()) return ''
  const text = context.redact(raw.trim().replace(/\s+/g, ' '))
  return `: “${text.length > 300 ? `${text.slice(0, 300)}…` : text}”`
}

function retryAfter(error: InstanceType<typeof OpenAI.APIError>): string {
  const header = Number(error.headers?.get('retry-after'))
  if (!Number.isFinite(header) || header <= 0) return 'in a minute'
  const whole = Math.ceil(header)
  return `in ${whole} second${whole === 1 ? '' : 's'}`
}

/**
 * The sentence a user reads when a model request fails, saying what happened and what to do. Never the error's own
 * message (a library's words may quote the key or a URL); the model server's words only where they help, redacted.
 */
export function failureSentence(error: unknown, context: FailureContext): string {
  const cut = context.streamed ? ' The answer was cut off there; what arrived is kept above.' : ''
  if (context.timedOut) {
    return `The model server sent nothing for ${seconds(context.requestTimeoutMs)} (--request-timeout), so the request was stopped.${cut} Try again, or raise --request-timeout for a slow model.`
  }
  if (error instanceof SyntaxError) {
    return `The model server sent a chunk that is not valid JSON, so the answer stopped there.${cut}`
  }
  const retries = `after ${context.maxRetries} retries`
  if (error instanceof OpenAI.AuthenticationError) {
    return 'The model server rejected the API key (401). Check --openai-api-key (or OPENAI_API_KEY) and restart stepstream.'
  }
  if (error instanceof OpenAI.PermissionDeniedError) {
    return `The model server refused this API key access to model "${context.model}" (403). Check the key's permissions or pick another --model.`
  }
  if (error instanceof OpenAI.NotFoundError) {
    // Both a wrong model and a wrong address answer 404: the URL asked tells the operator which one it was.
    return `The model server answered 404 Not Found for POST ${quoted(context.redact(context.url))}${theirWords(error, context)}. Either it has no model "${context.model}" (check --model against its list of models) or that is not its address (check that --openai-base-url ends in /v1).`
  }
  if (error instanceof OpenAI.RateLimitError) {
    return `The model server is rate limiting us (429) and still was ${retries}. Try again ${retryAfter(error)}.`
  }
  if (error instanceof OpenAI.InternalServerError) {
    return `The model server failed (HTTP ${error.status}) and still did ${retries}. Try again in a minute.`
  }
  if (error instanceof OpenAI.APIConnectionError) {
    if (context.streamed) return `The connection to the model server at ${context.host} broke mid-answer.${cut} Send your message again.`
    return `Could not reach the model server at ${context.host} (connection refused or network down, ${retries}). Check that it is running and that --openai-base-url is right.`
  }
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    return `The model server refused the request (HTTP ${error.status})${theirWords(error, context)}.`
  }
  if (error instanceof OpenAI.APIError) {
    return `The model server reported an error mid-answer${theirWords(error, context)}.${cut}`
  }
  if (context.streamed) return `The stream from the model server broke mid-answer.${cut} Send your message again.`
  return 'The request to the model server failed unexpectedly. Try again; if it keeps failing, the server log says more.'
}

/** The sentence for a stream that ended without a `finish_reason`: the server closed it before the answer was done. */
export const CUT_SENTENCE =
  'The model server closed the stream before the answer was finished; what arrived is kept above. Send your message again for a whole answer.'

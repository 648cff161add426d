import { AppError } from '../errors.ts'
import { MESSAGE_MAX_CHARS } from '../limits.ts'

/**
 * The one rule for a user's message, from the page's form or the JSON API: not blank, not too long. The text is
 * kept exactly as typed (leading spaces and newlines can matter, in code for instance).
 */
export function checkedMessage(text: string | undefined): string {
  if (!text?.trim()) throw new AppError('BAD_REQUEST', 'The message is empty: type something first.')
  if (text.length > MESSAGE_MAX_CHARS) {
    throw new AppError('BAD_REQUEST', `The message is too long: keep it under ${MESSAGE_MAX_CHARS} characters.`)
  }
  return text
}

import { AppError, messageTooLarge } from '../errors.ts'
import { refuseMessages } from '../publish/published-session.ts'
import type { SessionRecord } from '../log/event-store.ts'
import type { AppDeps } from './deps.ts'

/**
 * The one rule for a user's message, from the page's form or the JSON API: not blank, at most `maxBytes` bytes of
 * UTF-8 (`--max-message-bytes`; over it, 413). The text is kept exactly as typed (leading spaces and newlines can
 * matter, in code for instance).
 */
export function checkedMessage(text: string | undefined, maxBytes: number): string {
  if (!text?.trim()) throw new AppError('BAD_REQUEST', 'The message is empty: type something first.')
  // Every UTF-16 code unit is 1 to 3 bytes of UTF-8: only a text that could be over the limit is measured.
  if (text.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(text, 'utf8')
    if (bytes > maxBytes) throw messageTooLarge(bytes, maxBytes)
  }
  return text
}

/**
 * A user's message to the session, from the page's form or the JSON API: checked, refused for a session a program
 * publishes (PUBLISHED_SESSION, 409), then added and answered by the session's step. Resolves with the run's id.
 */
export function submitMessage(
  deps: Pick<AppDeps, 'runner' | 'maxMessageBytes'>,
  session: SessionRecord,
  text: string | undefined,
): Promise<string> {
  const message = checkedMessage(text, deps.maxMessageBytes)
  refuseMessages(session)
  return deps.runner.submit(session, message)
}

import { AppError } from '../errors.ts'
import type { SessionRecord } from '../log/event-store.ts'
import { bearerToken, publisherTokenMatches } from './publisher-token.ts'

/**
 * The step name of a session whose runs a program publishes over HTTP. No registered step has it, so the runner
 * could not run one for a message anyway; `refuseMessages` says why first, in a sentence.
 */
export const PUBLISHED_STEP = 'published'

/** True for a session whose runs a program publishes. */
export const isPublished = (session: SessionRecord): boolean => session.step.name === PUBLISHED_STEP

/** Throws PUBLISHED_SESSION (409) for a published session: its answers come from its program, not from messages. */
export function refuseMessages(session: SessionRecord): void {
  if (!isPublished(session)) return
  throw new AppError(
    'PUBLISHED_SESSION',
    'This chat is answered by a program that publishes its runs over the API, so it takes no messages from here.',
  )
}

/** Throws UNAUTHORIZED (401) unless `authorization` (a request's header) holds the session's publisher token. */
export function checkPublisher(session: SessionRecord, authorization: string | null): void {
  const token = bearerToken(authorization)
  if (session.publisher_hash && token && publisherTokenMatches(session.publisher_hash, token)) return
  throw new AppError('UNAUTHORIZED', 'Publishing needs this session’s publisher token: send it as "Authorization: Bearer <token>".')
}

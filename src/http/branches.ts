import { AppError, runActive, shuttingDown } from '../errors.ts'
import type { StoredEventOf } from '../events.ts'
import { canFork, type SessionRecord } from '../log/event-store.ts'
import { hashPublisherToken, newPublisherToken } from '../publish/publisher-token.ts'
import { isPublished, refuseMessages } from '../publish/published-session.ts'
import { newId } from '../session-id.ts'
import type { AppDeps } from './deps.ts'
import { checkedMessage } from './message.ts'

/*
 * Branches of a chat (docs/branches.md): a fork holds the chat's events up to a seq and goes its own way; "edit and
 * resend" forks just before a message and sends the new text there; "regenerate" does the same with the last
 * question's own text, so the earlier answer stays as it was, one version back, as chat apps keep it.
 */

/** The bytes of events read at a time, looking back from the head for the last question. */
const QUESTION_PAGE_BYTES = 256 * 1024

/** A new branch, and the publisher token of one forked from a chat a program publishes into (shown this once). */
export interface Branch {
  session: SessionRecord
  publisherToken?: string
}

/**
 * Forks `source` at `at`, which must be an integer from 0 to the chat's head (400 with a sentence otherwise). A run
 * still going at `at` is closed in the branch with an `interrupt`, so the branch is whole; the source's run goes on.
 */
export async function forkChat(deps: Pick<AppDeps, 'store' | 'runner'>, source: SessionRecord, at: unknown): Promise<Branch> {
  if (deps.runner.draining) throw shuttingDown()
  if (!canFork(deps.store)) throw new AppError('BAD_REQUEST', 'This server’s store cannot branch chats.')
  if (typeof at !== 'number' || !Number.isSafeInteger(at) || at < 0 || at > source.last_seq) {
    throw new AppError('BAD_REQUEST', `"at" must be the seq to branch after: a whole number from 0 to ${source.last_seq}.`)
  }
  // A program publishes into the branch with a token of its own: the source's is never shared with it.
  const publisherToken = isPublished(source) ? newPublisherToken() : undefined
  const options = publisherToken ? { publisherHash: hashPublisherToken(publisherToken) } : {}
  const session = await deps.store.forkSession(source.id, at, newId(), options)
  return publisherToken ? { session, publisherToken } : { session }
}

/**
 * Edit and resend: branches `source` just before its message `seq` (a message of the user's: 400 otherwise) and sends
 * `text` in the branch. Resolves with the branch and its run's id.
 */
export async function resend(
  deps: Pick<AppDeps, 'store' | 'runner' | 'maxMessageBytes'>,
  source: SessionRecord,
  seq: number,
  text: string | undefined,
): Promise<{ branch: SessionRecord; runId: string }> {
  const message = checkedMessage(text, deps.maxMessageBytes)
  refuseMessages(source)
  const [edited] = Number.isSafeInteger(seq) && seq >= 1 ? await deps.store.read(source.id, seq - 1, 1) : []
  if (edited?.seq !== seq || edited.type !== 'user') {
    throw new AppError('BAD_REQUEST', 'Only your own messages can be edited: that one is not in this chat any more, or is an answer.')
  }
  const { session } = await forkChat(deps, source, seq - 1)
  return { branch: session, runId: await deps.runner.submit(session, message) }
}

/**
 * Regenerate: the last question asked again in a branch taken just before it, so the model answers the same
 * conversation afresh and the earlier answer stays a version back. Refused while a run is going (RUN_ACTIVE) and
 * before any question (NO_QUESTION), each with a sentence.
 */
export async function regenerate(
  deps: Pick<AppDeps, 'store' | 'runner' | 'maxMessageBytes'>,
  source: SessionRecord,
): Promise<{ branch: SessionRecord; runId: string }> {
  refuseMessages(source)
  if ((await deps.runner.running(source.id)) !== undefined) throw runActive()
  const question = await lastQuestion(deps, source.id)
  if (!question) {
    throw new AppError('NO_QUESTION', 'There is no question in this chat to answer again yet: send a message first.')
  }
  return resend(deps, source, question.seq, question.text)
}

/** The chat's last `user` event, read back from the head a page at a time; undefined when it has none retained. */
async function lastQuestion(deps: Pick<AppDeps, 'store'>, sessionId: string): Promise<StoredEventOf<'user'> | undefined> {
  for (let before = Number.MAX_SAFE_INTEGER; ; ) {
    const page = await deps.store.readBefore(sessionId, before, QUESTION_PAGE_BYTES)
    if (page.length === 0) return undefined
    for (let index = page.length - 1; index >= 0; index--) {
      const event = page[index]!
      if (event.type === 'user') return event
    }
    before = page[0]!.seq
  }
}

import { checkedTitle } from '../chat-title.ts'
import { AppError, sessionNotFound } from '../errors.ts'
import type { SessionRecord } from '../log/event-store.ts'
import type { AppDeps } from './deps.ts'

/*
 * A chat's title and its end, for the JSON API and the page alike: one rule each, whoever asks.
 */

/** Renames the chat (an empty title gives it its first message's back); answers it renamed. 404 once it is gone. */
export async function renameChat(deps: Pick<AppDeps, 'store'>, session: SessionRecord, title: unknown): Promise<SessionRecord> {
  const renamed = await deps.store.renameSession(session.id, checkedTitle(title))
  if (!renamed) throw sessionNotFound()
  return renamed
}

/**
 * Deletes the chat from the store: its events, its meta, its read-only id, its producers (EventStore `deleteSession`).
 * A run in progress is cancelled first and given its grace to close (`--cancel-grace`), so that its step stops before
 * the log goes; a run on another instance meets the deleted log at its next event, which is refused. Readers of its
 * streams are woken and end with a `stream-error` frame saying no session has that id.
 */
export async function deleteChat(deps: Pick<AppDeps, 'store' | 'runner'>, session: SessionRecord): Promise<void> {
  if ((await deps.runner.running(session.id)) !== undefined) {
    await deps.runner.cancel(session.id).catch((error: unknown) => {
      // Ended between the two questions: nothing left to cancel.
      if (!(error instanceof AppError && error.code === 'NO_ACTIVE_RUN')) throw error
    })
    await deps.runner.settled(session.id)
  }
  if (!(await deps.store.deleteSession(session.id))) throw sessionNotFound()
}

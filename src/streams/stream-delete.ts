import { goneStream, noStream, type StreamAnswer } from './stream-answer.ts'
import type { StreamContext } from './stream-context.ts'

/**
 * DELETE: the stream goes at once, unless forks refer to it: then the backend marks it deleted (410 to everyone, its
 * name not reusable) and it goes with its last fork, down a chain of deleted sources (LogBackend `delete`).
 */
export async function remove(ctx: StreamContext, name: string): Promise<StreamAnswer> {
  const state = await ctx.log.state(name)
  if (!state) throw noStream()
  if (state.deletedAt !== undefined) throw goneStream()
  if (!(await ctx.log.delete(name))) throw noStream()
  return { status: 204, headers: {} }
}

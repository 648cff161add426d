import { goneStream, noStream, type StreamAnswer } from './stream-answer.ts'
import { findStream, type StreamContext } from './stream-context.ts'
import { encodeMeta, type StreamMeta } from './stream-meta.ts'

type ForkOf = NonNullable<StreamMeta['fork']>

/**
 * DELETE: the stream goes at once, unless forks refer to it: then it is marked deleted (410 to everyone, its name
 * not reusable) and goes with its last fork. A fork that goes tells its source, down a chain of deleted sources.
 */
export async function remove(ctx: StreamContext, name: string): Promise<StreamAnswer> {
  const source = await ctx.locks.run(name, async () => {
    const found = await findStream(ctx, name)
    if (!found) throw noStream()
    if (found.meta.deleted) throw goneStream()
    if ((found.meta.forks ?? 0) > 0) {
      await ctx.log.setMeta(name, encodeMeta({ ...found.meta, deleted: true }))
      return undefined
    }
    await ctx.log.delete(name)
    return found.meta.fork
  })
  if (source !== undefined) await forkGone(ctx, source)
  return { status: 204, headers: {} }
}

/** A fork deleted: its source counts one fork fewer, and goes if it was deleted and that was its last. */
async function forkGone(ctx: StreamContext, fork: ForkOf): Promise<void> {
  const sourceName = fork.source
  const next = await ctx.locks.run(sourceName, async () => {
    const source = await findStream(ctx, sourceName)
    // Gone (expired and swept), or another stream has taken the name since: nothing to count.
    if (!source || source.meta.etag !== fork.sourceEtag) return undefined
    const forks = Math.max(0, (source.meta.forks ?? 0) - 1)
    if (forks === 0 && source.meta.deleted) {
      await ctx.log.delete(sourceName)
      return source.meta.fork
    }
    await ctx.log.setMeta(sourceName, encodeMeta({ ...source.meta, forks }))
    return undefined
  })
  if (next !== undefined) await forkGone(ctx, next)
}

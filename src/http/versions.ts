import { versionIds, versionRoot } from '../log/chat-versions.ts'
import { canFork, type EventStore } from '../log/event-store.ts'
import type { Transcript } from '../transcript.ts'
import { ownerUrl } from './links.ts'

/** "‹ 2/3 ›" beside a message: which version the page shows, of how many, and the owner's links to its neighbours. */
export interface VersionsView {
  /** 1-based. */
  index: number
  total: number
  previous?: string
  next?: string
}

/**
 * The versions of the user's messages in (a part of) the chat's transcript, by seq, for its owner's page only: the
 * links are owner links. Versions deleted since are left out; a message with one version left gets none.
 */
export async function messageVersions(store: EventStore, sessionId: string, transcript: Transcript): Promise<Map<number, VersionsView>> {
  const views = new Map<number, VersionsView>()
  if (!canFork(store)) return views
  const seqs = transcript.entries.flatMap((entry) => (entry.kind === 'user' ? [entry.event.seq] : []))
  const lineage = await store.lineage(sessionId)
  if (lineage.every((chat) => chat.branches.length === 0)) return views
  const live = new Map<string, Promise<boolean>>()
  const isLive = (id: string) => {
    const known = live.get(id) ?? store.getSession(id).then((found) => found !== undefined)
    live.set(id, known)
    return known
  }
  for (const seq of seqs) {
    const root = versionRoot(lineage, seq - 1)
    if (!root) continue
    const ids = versionIds(root, seq - 1)
    if (ids.length < 2) continue
    const kept = (await Promise.all(ids.map(async (id) => (id === root.current || (await isLive(id)) ? id : undefined)))).filter(
      (id) => id !== undefined,
    )
    const index = kept.indexOf(root.current)
    if (kept.length < 2 || index === -1) continue
    const view: VersionsView = { index: index + 1, total: kept.length }
    if (index > 0) view.previous = ownerUrl(kept[index - 1]!)
    if (index < kept.length - 1) view.next = ownerUrl(kept[index + 1]!)
    views.set(seq, view)
  }
  return views
}

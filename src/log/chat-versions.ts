import type { ChatLineage, LineageChat } from './event-store.ts'

/*
 * Versions of a message, as chat apps show them ("‹ 2/3 ›"): editing a message branches the chat just before it
 * (`at`, the seq before the message) and sends the new text there; regenerating an answer does the same with the same
 * text. The versions of the message after `at` are the chat it was first written in (the root) and every branch
 * recorded in the root at that `at`. A branch taken from a branch at the same `at`, or from further down a branch, is
 * recorded in the same root: what the walk below finds.
 */

/** The root of the versions of the message after `at` in the lineage's first chat, and which version that chat shows. */
export interface VersionRoot {
  root: LineageChat
  /** The version the first chat of the lineage shows at that message: the root, or a branch recorded in it. */
  current: string
}

/**
 * Walks up the lineage while the message after `at` came from the parent (`at <= forkedAt`: the branch copied it, or
 * it is the branch's own first message, a version of the parent's). Undefined when the lineage ends before the root
 * (MAX_BRANCH_DEPTH).
 */
export function versionRoot(lineage: ChatLineage, at: number): VersionRoot | undefined {
  let current: string | undefined
  for (const [index, chat] of lineage.entries()) {
    if (chat.forkedAt === undefined || at > chat.forkedAt) return { root: chat, current: current ?? chat.id }
    // The nearest chat branched at exactly `at` holds its own version of the message: the one shown.
    if (current === undefined && chat.forkedAt === at) current = chat.id
    if (index === lineage.length - 1) return undefined
  }
  return undefined
}

/** The versions of the message after `at`, oldest first (the root's own first): ids of chats, some maybe deleted since. */
export function versionIds({ root }: VersionRoot, at: number): string[] {
  const ids = root.deleted ? [] : [root.id]
  for (const branch of root.branches) if (branch.at === at) ids.push(branch.id)
  return ids
}

import { describe, expect, test } from 'bun:test'
import { versionIds, versionRoot } from '../../src/log/chat-versions.ts'
import type { LineageChat } from '../../src/log/event-store.ts'

const chat = (id: string, forkedAt?: number, branches: LineageChat['branches'] = [], deleted = false): LineageChat =>
  forkedAt === undefined ? { id, deleted, branches } : { id, deleted, forkedAt, branches }

describe('versions of a message, from the lineage of the chat that shows it', () => {
  // root: its message after seq 2 was edited twice, once from root (v2) and once from v2 (v3); deep was branched
  // from v2 further down (after seq 8), so it shows v2's version of that message.
  const root = chat('root', undefined, [
    { id: 'v2', at: 2 },
    { id: 'v3', at: 2 },
    { id: 'other', at: 5 },
  ])
  const v2 = chat('v2', 2)
  const v3 = chat('v3', 2)
  const deep = chat('deep', 8)

  test('the root shows its own version; its branches are the others, oldest first', () => {
    const found = versionRoot([root], 2)!
    expect(found).toEqual({ root, current: 'root' })
    expect(versionIds(found, 2)).toEqual(['root', 'v2', 'v3'])
    expect(versionIds(versionRoot([root], 5)!, 5)).toEqual(['root', 'other'])
    expect(versionIds(versionRoot([root], 0)!, 0)).toEqual(['root'])
  })

  test('a branch of a branch at the same message is a version of the root, and shows itself', () => {
    expect(versionRoot([v3, v2, root], 2)).toEqual({ root, current: 'v3' })
  })

  test('a chat branched further down shows the version it copied', () => {
    expect(versionRoot([deep, v2, root], 2)).toEqual({ root, current: 'v2' })
    // Its own first message is a version of v2's; the versions of its later messages are recorded in it.
    expect(versionRoot([deep, v2, root], 8)).toEqual({ root: v2, current: 'deep' })
    expect(versionRoot([deep, v2, root], 9)).toEqual({ root: deep, current: 'deep' })
    expect(versionRoot([deep, v2, root], 5)).toEqual({ root: v2, current: 'v2' })
  })

  test('a deleted root is no version any more; a lineage cut short finds no root', () => {
    const gone = chat('root', undefined, [{ id: 'v2', at: 2 }], true)
    expect(versionIds(versionRoot([v2, gone], 2)!, 2)).toEqual(['v2'])
    expect(versionRoot([v3, v2], 2)).toBeUndefined()
  })
})

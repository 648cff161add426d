import { expect, test } from 'bun:test'
import { ActivityIndex } from '../../src/log/backends/memory-activity.ts'

test('the memory backend’s activity index pages as a scan and a sort of every log would, through adds, moves and removals', () => {
  const index = new ActivityIndex()
  const logs = new Map<string, number>()
  // A fixed sequence of pseudo-random steps: many logs share an activeAt, so ties order by id.
  let seed = 7
  const next = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    return seed % n
  }
  for (let step = 0; step < 2000; step++) {
    const log = `log-${next(300)}`
    const at = next(50)
    const was = logs.get(log)
    if (was === undefined) index.add(log, at)
    else if (next(4) === 0) {
      index.remove(log, was)
      logs.delete(log)
      continue
    } else index.move(log, was, at)
    logs.set(log, at)
  }
  const all = [...logs].map(([log, activeAt]) => ({ log, activeAt }))
  all.sort((a, b) => a.activeAt - b.activeAt || (a.log < b.log ? -1 : a.log > b.log ? 1 : 0))
  const expected = all.filter((c) => c.activeAt >= 10 && c.activeAt < 40)
  const paged = []
  for (let page = index.page(10, 40, 7); page.length > 0; page = index.page(10, 40, 7, paged.at(-1))) paged.push(...page)
  expect(paged).toEqual(expected)
  // A cursor from before `from` starts at `from`.
  expect(index.page(10, 40, 3, { log: 'zzz', activeAt: 2 })).toEqual(expected.slice(0, 3))
})

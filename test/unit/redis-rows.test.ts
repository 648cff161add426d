import { expect, test } from 'bun:test'
import { entriesOf, flagsOf, padded, stateOf } from '../../src/log/backends/redis-rows.ts'

test('activity times are 16 digits, so that their text sorts as their numbers do', () => {
  expect(padded(1_700_000_000_000)).toBe('0001700000000000')
  expect(padded(9) < padded(10)).toBe(true)
  expect(padded(-5)).toBe('0000000000000000')
})

test("an entry's flags name each of its changes by one letter, and nothing else", () => {
  expect(flagsOf({ log: 'l', data: null, bytes: 0, exempt: false })).toBe('n')
  expect(flagsOf({ log: 'l', data: 'x', bytes: 1, exempt: true, run: 'r', opensRun: true, closesRun: true, fenced: true })).toBe('xocf')
  expect(
    flagsOf({
      log: 'l',
      data: 'x',
      bytes: 1,
      exempt: false,
      recovers: true,
      closesLog: true,
      touch: true,
      producers: [{ key: 'k', value: 'v' }],
    }),
  ).toBe('rLt')
})

test('a state hash reads back as a LogState, with the optional parts only when set', () => {
  const base = { head: '3', tail: '1', count: '2', bytes: '10', created_at: '5', active_at: '0000000000000007', closed: '0', meta: 'm' }
  expect(stateOf(base)).toEqual({ head: 3, tail: 1, count: 2, bytes: 10, createdAt: 5, activeAt: 7, closed: false, forks: 0, meta: 'm' })
  expect(
    stateOf({
      ...base,
      closed: '1',
      expires_at: '9',
      forked_from: 'src',
      forked_at: '2',
      open_run: 'r',
      run_from: '1',
      capped: '0',
      forks: '2',
      deleted_at: '8',
    }),
  ).toMatchObject({
    capped: false,
    forks: 2,
    deletedAt: 8,
    closed: true,
    expiresAt: 9,
    forkedFrom: { log: 'src', at: 2 },
    openRun: { id: 'r', from: 1 },
  })
})

test('stream entries read back as seq and data', () => {
  expect(entriesOf([['12-0', ['d', '"x"']]])).toEqual([{ seq: 12, data: '"x"' }])
  expect(entriesOf(null)).toEqual([])
})

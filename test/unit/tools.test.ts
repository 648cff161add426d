import { describe, expect, test } from 'bun:test'
import { builtInTools } from '../../src/steps/openai-step.ts'
import { calculate } from '../../src/steps/tools/calculator.ts'
import { currentTime, isoInZone } from '../../src/steps/tools/current-time.ts'

const never = new AbortController().signal

describe('calculator', () => {
  test.each([
    ['(2 + 3) * 4 ^ 2 / sqrt(16)', 20],
    ['2 ^ 3 ^ 2', 512],
    ['-3 + +2', -1],
    ['17 % 5', 2],
    ['round(2 pi, 2)', 6.28],
    ['max(1, 7, 3) - abs(-2)', 5],
    ['1e3 / 8', 125],
  ])('%s = %p', async (expression, value) => {
    expect(await calculate(expression)).toBeCloseTo(value, 10)
  })

  test.each([
    ['import({}, {override: true})', /is not allowed/],
    ['f(x) = x', /is not allowed/],
    ['x = 3', /is not allowed/],
    ['constructor', /is not allowed/],
    ['"a" + "b"', /is not allowed/],
    ['[1, 2]', /is not allowed/],
    ['1 == 1', /is not allowed/],
    ['evaluate("2")', /is not allowed/],
    ['2 +', /is not arithmetic/],
    ['1 / 0', /no finite real value/],
    ['sqrt(-4)', /no finite real value/],
  ])('%s is refused with a sentence', async (expression, sentence) => {
    await expect(calculate(expression)).rejects.toThrow(sentence)
  })
})

describe('current_time', () => {
  const at = new Date('2026-07-01T12:34:56Z')
  test('ISO 8601 with the zone’s offset, daylight saving included', () => {
    expect(isoInZone(at, 'Europe/Paris')).toBe('2026-07-01T14:34:56+02:00')
    expect(isoInZone(new Date('2026-01-01T00:00:00Z'), 'America/New_York')).toBe('2025-12-31T19:00:00-05:00')
    expect(isoInZone(at, 'UTC')).toBe('2026-07-01T12:34:56+00:00')
    expect(isoInZone(at, 'Asia/Kolkata')).toBe('2026-07-01T18:04:56+05:30')
  })

  test('UTC when no zone is given; an unknown zone is a sentence the model can act on', () => {
    expect(currentTime(() => at).run({} as never, never)).toEqual({ timezone: 'UTC', iso: '2026-07-01T12:34:56+00:00' })
    expect(() => isoInZone(at, 'Mars/Olympus')).toThrow('"Mars/Olympus" is not a time zone: use an IANA name such as Europe/Paris')
  })
})

describe('the tool registry', () => {
  test('tool definitions carry JSON-schema parameters; a bad zone and bad arguments come back as errors, never throws', async () => {
    const tools = builtInTools()
    expect(tools.definitions().map((d) => d.function.name)).toEqual(['current_time', 'calculator'])
    expect(tools.definitions()[0]!.function.parameters).toMatchObject({ type: 'object', properties: { timezone: { type: 'string' } } })
    expect(await tools.call('current_time', { timezone: 'Nowhere/Land' }, never)).toEqual({
      error: expect.stringMatching(/is not a time zone/),
    })
    expect(await tools.call('calculator', { expr: '1' }, never)).toEqual({
      error: expect.stringMatching(/^Bad arguments for calculator: /),
    })
    expect(await tools.call('calculator', { expression: '2*21' }, never)).toEqual({ expression: '2*21', result: 42 })
  })
})

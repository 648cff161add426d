import { Type as t } from '@sinclair/typebox'
import { type Tool, ToolError } from './tool.ts'

/** `at` as ISO 8601 in the IANA zone `timeZone`, with that zone's offset: 2026-03-01T14:05:09+01:00. */
export function isoInZone(at: Date, timeZone: string): string {
  let parts: Intl.DateTimeFormatPart[]
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      timeZoneName: 'longOffset',
    }).formatToParts(at)
  } catch {
    throw new ToolError(`${JSON.stringify(timeZone)} is not a time zone: use an IANA name such as Europe/Paris or America/New_York.`)
  }
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? ''
  // "GMT+01:00", or plain "GMT" for UTC itself.
  const offset = part('timeZoneName').replace(/^GMT/, '') || '+00:00'
  return `${part('year')}-${part('month')}-${part('day')}T${part('hour')}:${part('minute')}:${part('second')}${offset}`
}

/** Tells the model what time it is in a zone; models cannot know the time otherwise. */
export const currentTime = (now: () => Date = () => new Date()): Tool => ({
  name: 'current_time',
  description: 'The current date and time, as ISO 8601, in an IANA time zone (UTC when none is given).',
  parameters: t.Object(
    { timezone: t.Optional(t.String({ maxLength: 100, description: 'An IANA time zone such as Europe/Paris; default UTC.' })) },
    { additionalProperties: false },
  ),
  run: ({ timezone = 'UTC' }: { timezone?: string }) => ({ timezone, iso: isoInZone(now(), timezone) }),
})

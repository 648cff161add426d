/**
 * RFC 3339 timestamps (`Stream-Expires-At`), strictly: a full date, a time and a zone (`Z` or `±hh:mm`), each field in
 * range. `Date.parse` is not used because it takes far more (a date alone, local time, two-digit years mapped to 19xx,
 * "Dec 3 2026"), differently on each engine.
 */

const TIMESTAMP =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$/

/** The instant `text` names, epoch milliseconds (fractions past the millisecond are dropped); undefined when it is not RFC 3339. */
export function parseRfc3339(text: string): number | undefined {
  const match = TIMESTAMP.exec(text)
  if (!match) return undefined
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined
  // A leap second (:60) is allowed only where RFC 3339 allows it, at the end of a minute; it reads as the next second.
  if (hour > 23 || minute > 59 || second > 60 || (second === 60 && minute !== 59)) return undefined
  let offsetMinutes = 0
  if (!match[8]) {
    const offsetHours = Number(match[10])
    const offsetMins = Number(match[11])
    if (offsetHours > 23 || offsetMins > 59) return undefined
    offsetMinutes = (match[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins)
  }
  const millis = Number((match[7] ?? '').slice(0, 3).padEnd(3, '0'))
  const date = new Date(0)
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0–99 as 1900–1999.
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute - offsetMinutes, second, millis)
  return date.getTime()
}

function daysIn(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

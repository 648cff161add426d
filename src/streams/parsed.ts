import { AppError } from '../errors.ts'

/**
 * What a parser of the Durable Streams routes answers: the value, or the refusal the client gets (always 400 here: a
 * header or a query parameter the protocol does not allow), with a sentence that names what to send instead.
 */
export type Parsed<T> = { ok: true; value: T } | Refused

/** A refusal: a Parsed of any type. */
export type Refused = { ok: false; error: AppError }

export const accept = <T>(value: T): Parsed<T> => ({ ok: true, value })

/** A 400 about `field` (a header's or a query parameter's name, given back in the error body as `field`). */
export function refuse(field: string, sentence: string): Refused {
  return { ok: false, error: new AppError('BAD_REQUEST', sentence, undefined, { field }) }
}

/** A non-negative decimal integer with no sign, leading zero, point or exponent, at most 2^53-1: `0`, `42`. */
const STRICT_DECIMAL = /^(?:0|[1-9][0-9]{0,15})$/

/** Parses a strict decimal integer no greater than `max`; undefined for anything else (the caller says why). */
export function strictDecimal(text: string, max: number = Number.MAX_SAFE_INTEGER): number | undefined {
  if (!STRICT_DECIMAL.test(text)) return undefined
  const value = Number(text)
  return value <= max ? value : undefined
}

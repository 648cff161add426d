/**
 * The SSE frames of a stream read (`live=sse`): a `data` event per page of entries, each followed by its own `control`
 * event (PROTOCOL.md §5.7; the suite checks the pairing, which the reference server breaks on catch-up). Not
 * src/sse/encode.ts, which always writes `data: `: the suite looks for `data:line1` and `data:{…` verbatim, so a line
 * is written right after `data:`, unless it starts with a space, which an SSE client (the official one included)
 * strips once: such a line gets one space more, for the client to strip. (The reference server writes none, and its
 * clients lose that space.)
 */

/** What a control event tells: where to resume, the cursor, and whether the reader is caught up or the stream closed. */
export interface StreamControl {
  streamNextOffset: string
  /** Omitted on the final event of a closed stream (the suite checks that it is). */
  streamCursor?: string
  upToDate?: true
  streamClosed?: true
}

/**
 * `payload` as data lines, split on CRLF, CR and LF alike, so that no line ending inside it can end the event or start
 * another: a payload `x\r\nevent: control` stays data.
 */
function dataLines(payload: string): string {
  return `${payload
    .split(/\r\n|\r|\n/)
    .map((line) => (line.startsWith(' ') ? `data: ${line}` : `data:${line}`))
    .join('\n')}\n\n`
}

/** A `data` event: text as stored, a JSON array in JSON mode, or base64 for other types. */
export const dataEvent = (payload: string): string => `event: data\n${dataLines(payload)}`

/** A `control` event; its fields in the protocol's camelCase, in a fixed order. */
export function controlEvent(control: StreamControl): string {
  const fields: StreamControl = { streamNextOffset: control.streamNextOffset }
  if (control.streamClosed) fields.streamClosed = true
  else if (control.streamCursor !== undefined) fields.streamCursor = control.streamCursor
  if (control.upToDate) fields.upToDate = true
  return `event: control\n${dataLines(JSON.stringify(fields))}`
}

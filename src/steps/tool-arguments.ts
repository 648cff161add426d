/**
 * A tool call's arguments as a step records them: parsed JSON, `{}` for none, or the raw text when it is not JSON
 * (a model can send broken arguments; the tool, or the reader, says so).
 */
export function parseToolArguments(raw: string): unknown {
  if (!raw.trim()) return {}
  try {
    return JSON.parse(raw)
  } catch {
    return raw
  }
}

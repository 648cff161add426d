/** `[[[…1…]]]`, `depth` arrays deep, built without recursion: a value no validation gate would let in today. */
export function nested(depth: number): unknown {
  let value: unknown = 1
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

/** The JSON text of `nested(depth)`, written without JSON.stringify (whose recursion overflows past ~50,000 levels). */
export const nestedText = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`

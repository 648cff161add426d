import { setDefaultTimeout } from 'bun:test'

/**
 * Files that start servers, processes or browsers call this at the top: 30 s per test instead of Bun's 5 s. It must
 * run in each file (Bun scopes the default timeout per file, and a preload's call reaches the first file only).
 */
export function slowTests(ms = 30_000): void {
  setDefaultTimeout(ms)
}

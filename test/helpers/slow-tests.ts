import { setDefaultTimeout } from 'bun:test'

/**
 * Files that start servers, processes or browsers call this at the top: 60 s per test instead of Bun's 5 s (a test
 * that starts two processes may wait for each up to READY_MS, 30 s, on a loaded machine). It must run in each file
 * (Bun scopes the default timeout per file, and a preload's call reaches the first file only).
 * @param ms each test's and hook's deadline; milliseconds, default 60,000.
 */
export function slowTests(ms = 60_000): void {
  setDefaultTimeout(ms)
}

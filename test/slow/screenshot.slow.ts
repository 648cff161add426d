import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { browserAvailable } from '../helpers/browser.ts'

// Slow by nature (`bun run test:slow`): it starts a model, a server and a browser, as `bun run screenshot` does.
const dir = mkdtempSync(join(tmpdir(), 'stepstream-screenshot-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test.skipIf(!browserAvailable('the screenshot script'))(
  '`bun run screenshot` writes a PNG of a chat, 1000 px wide and small enough to commit',
  () => {
    const out = join(dir, 'shot.png')
    const run = Bun.spawnSync([process.execPath, 'scripts/screenshot.ts', '--out', out], {
      cwd: join(import.meta.dir, '../..'),
      timeout: 90_000,
    })
    expect(run.stderr.toString()).toBe('')
    expect(run.exitCode).toBe(0)
    const png = new Uint8Array(readFileSync(out))
    // The PNG signature, then the IHDR chunk: width and height, big-endian, at bytes 16 and 20.
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    const view = new DataView(png.buffer)
    expect(view.getUint32(16)).toBe(1000)
    expect(view.getUint32(20)).toBeLessThanOrEqual(1100)
    expect(png.byteLength).toBeLessThanOrEqual(200 * 1024)
  },
  120_000,
)

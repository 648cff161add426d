import { existsSync } from 'node:fs'
import { relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The URL of a Worker's code, given its source path from the repository's root (as the build lists it). From source,
 * beside this file. In a `bun build --compile` executable every module's `import.meta.url` is the executable's own
 * (`/$bunfs/root/stepstream`) and each entrypoint is kept under its path from the entrypoints' common folder, src/:
 * there, `./store/…` from the root (checked on Bun 1.4.5).
 */
export function workerUrl(entry: string): string {
  const source = new URL(`./${relative('src/store', entry)}`, import.meta.url)
  if (existsSync(fileURLToPath(source))) return source.href
  return new URL(`./${relative('src', entry)}`, import.meta.url).href
}

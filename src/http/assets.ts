import highlighterPath from '@highlightjs/cdn-assets/highlight.min.js' with { type: 'file' }
import { Elysia } from 'elysia'
import htmxPath from 'htmx.org/dist/htmx.min.js' with { type: 'file' }
import ssePath from 'htmx.org/dist/ext/hx-sse.min.js' with { type: 'file' }
import appJsPath from '../../public/app.js' with { type: 'file' }
import appCssPath from '../../public/app.css' with { type: 'file' }
import faviconPath from '../../public/favicon.svg' with { type: 'file' }
import highlightWorkerPath from '../../public/highlight-worker.js' with { type: 'file' }
import type { PageAssets } from '../../templates/page.tsx'

interface Asset {
  type: string
  body: Uint8Array<ArrayBuffer>
  gzipped: Uint8Array<ArrayBuffer>
  /** Content hash, appended to the URL so that a cached copy is never stale. */
  hash: string
}

/**
 * The page's scripts and styles, embedded in the executable by `bun build --compile` (a `with { type: 'file' }`
 * import is bundled, not read from the working directory), loaded once and pre-compressed. An asset of several files
 * is their concatenation: the highlighter's worker is highlight.js's own build (its common languages) followed by the
 * few lines that answer the page, one script for the worker to load.
 */
const SOURCES: Record<string, { paths: string[]; type: string }> = {
  'htmx.min.js': { paths: [htmxPath], type: 'text/javascript; charset=utf-8' },
  'hx-sse.min.js': { paths: [ssePath], type: 'text/javascript; charset=utf-8' },
  'app.js': { paths: [appJsPath], type: 'text/javascript; charset=utf-8' },
  'app.css': { paths: [appCssPath], type: 'text/css; charset=utf-8' },
  'favicon.svg': { paths: [faviconPath], type: 'image/svg+xml' },
  'highlight-worker.js': { paths: [highlighterPath, highlightWorkerPath], type: 'text/javascript; charset=utf-8' },
}

export async function loadAssets(): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>()
  for (const [name, { paths, type }] of Object.entries(SOURCES)) {
    const parts = await Promise.all(paths.map((path) => Bun.file(path).bytes()))
    const body = await new Blob(parts.flatMap((part, i) => (i === 0 ? [part] : ['\n', part]))).bytes()
    assets.set(name, { type, body, gzipped: Bun.gzipSync(body) as Uint8Array<ArrayBuffer>, hash: Bun.hash(body).toString(36) })
  }
  return assets
}

/**
 * The URLs the page template links, in load order: our listeners first, then htmx, then its SSE extension; and the
 * highlighter's worker, which app.js starts only once an answer holds code.
 */
export function pageAssets(assets: Map<string, Asset>): PageAssets {
  const url = (name: string) => `/assets/${name}?v=${assets.get(name)!.hash}`
  return {
    css: url('app.css'),
    icon: url('favicon.svg'),
    scripts: ['app.js', 'htmx.min.js', 'hx-sse.min.js'].map(url),
    highlighter: url('highlight-worker.js'),
  }
}

export const assetRoutes = (assets: Map<string, Asset>) =>
  new Elysia({ name: 'assets' }).get('/assets/:name', ({ params, request, set }) => {
    const asset = assets.get(params.name)
    if (!asset) {
      set.status = 404
      return { error: { code: 'NOT_FOUND', message: `There is no asset called ${params.name}.` } }
    }
    const gzip = /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '')
    return new Response(gzip ? asset.gzipped : asset.body, {
      headers: {
        'content-type': asset.type,
        'cache-control': 'public, max-age=31536000, immutable',
        vary: 'accept-encoding',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      },
    })
  })

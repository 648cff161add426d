import { Elysia } from 'elysia'
import htmxPath from 'htmx.org/dist/htmx.min.js' with { type: 'file' }
import ssePath from 'htmx.org/dist/ext/hx-sse.min.js' with { type: 'file' }
import appJsPath from '../../public/app.js' with { type: 'file' }
import appCssPath from '../../public/app.css' with { type: 'file' }
import faviconPath from '../../public/favicon.svg' with { type: 'file' }
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
 * import is bundled, not read from the working directory), loaded once and pre-compressed.
 */
const SOURCES: Record<string, { path: string; type: string }> = {
  'htmx.min.js': { path: htmxPath, type: 'text/javascript; charset=utf-8' },
  'hx-sse.min.js': { path: ssePath, type: 'text/javascript; charset=utf-8' },
  'app.js': { path: appJsPath, type: 'text/javascript; charset=utf-8' },
  'app.css': { path: appCssPath, type: 'text/css; charset=utf-8' },
  'favicon.svg': { path: faviconPath, type: 'image/svg+xml' },
}

export async function loadAssets(): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>()
  for (const [name, { path, type }] of Object.entries(SOURCES)) {
    const body = await Bun.file(path).bytes()
    assets.set(name, { type, body, gzipped: Bun.gzipSync(body) as Uint8Array<ArrayBuffer>, hash: Bun.hash(body).toString(36) })
  }
  return assets
}

/** The URLs the page template links, in load order: our listeners first, then htmx, then its SSE extension. */
export function pageAssets(assets: Map<string, Asset>): PageAssets {
  const url = (name: string) => `/assets/${name}?v=${assets.get(name)!.hash}`
  return { css: url('app.css'), icon: url('favicon.svg'), scripts: ['app.js', 'htmx.min.js', 'hx-sse.min.js'].map(url) }
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

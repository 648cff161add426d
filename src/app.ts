import { Elysia } from 'elysia'
import { AppError } from './errors.ts'
import { apiRoutes } from './http/api.ts'
import { assetRoutes, loadAssets, pageAssets } from './http/assets.ts'
import type { AppDeps } from './http/deps.ts'
import { errorResponse, problemOf } from './http/error-response.tsx'
import { healthRoutes } from './http/health.ts'
import { pageRoutes } from './http/pages.tsx'
import { streamRoutes } from './http/streams.ts'

/** Builds the whole HTTP app around its dependencies; never listens (main.ts does, tests use `app.handle`). */
export async function createApp(deps: AppDeps) {
  const assets = await loadAssets()
  const page = pageAssets(assets)
  return new Elysia()
    .onRequest(({ request }) => {
      const length = Number(request.headers.get('content-length') ?? 0)
      if (length > deps.maxBodyBytes) {
        throw new AppError('BODY_TOO_LARGE', `The request body is ${length} bytes; the limit is ${deps.maxBodyBytes} bytes.`)
      }
    })
    .onError(({ code, error, request }) =>
      errorResponse(problemOf({ code, error }, new URL(request.url).pathname, deps.log), request, page),
    )
    .use(healthRoutes(deps))
    .use(assetRoutes(assets))
    .use(pageRoutes(deps, page))
    .use(apiRoutes(deps))
    .use(streamRoutes(deps))
}

export type App = Awaited<ReturnType<typeof createApp>>

import { Elysia } from 'elysia'
import type { AppDeps } from './deps.ts'

/** Liveness, readiness and Prometheus metrics. */
export const healthRoutes = (deps: AppDeps) =>
  new Elysia({ name: 'health' })
    .get('/healthz', () => ({ status: 'ok', version: deps.version }))
    .get('/readyz', async ({ set }) => {
      // A load balancer should stop sending work as soon as shutdown begins: new work would only get a 503.
      if (deps.runner.draining) {
        set.status = 503
        return { status: 'shutting down', error: 'The server is shutting down.' }
      }
      try {
        await deps.store.ping()
        return { status: 'ready' }
      } catch {
        set.status = 503
        return { status: 'unavailable', error: 'The event store cannot be reached.' }
      }
    })
    .get('/metrics', async () => new Response(await deps.metrics.render(), { headers: { 'content-type': deps.metrics.contentType } }))

/** @jsxImportSource @kitajs/html */
import { AppError, type ErrorCode } from '../errors.ts'
import type { Logger } from '../log.ts'
import { ErrorPage, Layout, type PageAssets } from '../../templates/page.tsx'
import { toHtml } from '../../templates/to-html.ts'
import { PAGE_HEADERS } from './page-headers.ts'
import { pathOf } from './request-guards.ts'

interface Problem {
  status: number
  code: ErrorCode
  message: string
  /** Extra response headers: `Retry-After` for a server that is shutting down or full. */
  headers?: Record<string, string>
  /** Extra members of the JSON body, beside `error`. */
  fields?: Record<string, unknown>
}

interface ElysiaErrorLike {
  code: string | number
  error: unknown
}

/** A sentence for a request the validator refused, from the schema's own `error` text when it has one. */
function validationSentence(error: unknown): string {
  const e = error as { customError?: unknown; type?: string; valueError?: { path?: string; message?: string } }
  if (typeof e.customError === 'string') return e.customError
  const where = e.type === 'query' ? 'query string' : e.type === 'params' ? 'URL' : 'request body'
  const field = e.valueError?.path ? ` at ${e.valueError.path}` : ''
  return `The ${where} is invalid${field}: ${e.valueError?.message ?? 'it does not match what this route expects'}.`
}

/** Ours, also when Elysia wrapped it: an error thrown in a parse hook arrives as a `PARSE` error whose cause it is. */
function appErrorOf(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error
  const cause = error instanceof Error ? error.cause : undefined
  return cause instanceof AppError ? cause : undefined
}

/** Maps whatever a route threw to a status, a code and a sentence; never a stack trace. */
export function problemOf({ code, error }: ElysiaErrorLike, path: string, log: Logger): Problem {
  const own = appErrorOf(error)
  if (own) {
    const headers: Record<string, string> = {}
    if (own.retryAfterSeconds !== undefined) headers['retry-after'] = String(own.retryAfterSeconds)
    // RFC 9110 §11.6.1: a 401 says how to authenticate.
    if (own.status === 401) headers['www-authenticate'] = 'Bearer'
    return { status: own.status, code: own.code, message: own.message, headers, fields: own.fields }
  }
  switch (code) {
    case 'VALIDATION':
      return { status: 400, code: 'BAD_REQUEST', message: validationSentence(error) }
    case 'PARSE':
      return {
        status: 400,
        code: 'BAD_REQUEST',
        message: 'The request body could not be parsed: send JSON with Content-Type: application/json, or a form.',
      }
    case 'NOT_FOUND':
      return { status: 404, code: 'NOT_FOUND', message: `There is nothing at ${path}.` }
  }
  log.error('unhandled error', { path, code: String(code), error: error instanceof Error ? error.stack : String(error) })
  return { status: 500, code: 'INTERNAL', message: 'Something went wrong on the server. It has been logged; please try again.' }
}

/** JSON for the API, a notice fragment for htmx, a whole page for a browser navigation. */
export function errorResponse(problem: Problem, request: Request, assets: PageAssets): Response {
  const path = pathOf(request)
  const wantsJson = path.startsWith('/api/') || path.startsWith('/v1/') || /\bjson\b/.test(request.headers.get('accept') ?? '')
  if (wantsJson) {
    return Response.json(
      { ...problem.fields, error: { code: problem.code, message: problem.message } },
      { status: problem.status, headers: problem.headers },
    )
  }
  const html =
    request.headers.get('hx-request') === 'true' ? (
      <span class="error" safe>
        {problem.message}
      </span>
    ) : (
      <Layout assets={assets} title={`stepstream: ${problem.status}`}>
        <ErrorPage status={problem.status} message={problem.message} />
      </Layout>
    )
  return new Response(toHtml(html), { status: problem.status, headers: { ...PAGE_HEADERS, ...problem.headers } })
}

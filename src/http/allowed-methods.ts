/** A registered route as Elysia lists it in `app.routes`: its method and its path pattern (`/api/sessions/:id`). */
interface RouteLike {
  method: string
  path: string
}

/** One path pattern as a RegExp: `:param` is one segment, `*` the rest, a trailing slash is optional. */
export function patternOf(path: string): RegExp {
  const body = path
    .replace(/\/+$/, '')
    .split('/')
    .map((segment) => (segment === '*' ? '.*' : segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/')
  return new RegExp(`^${body}/?$`)
}

/**
 * Which methods answer at a path, from the app's registered routes, read once after the app is built. It tells a
 * wrong method (405 with `Allow`, RFC 9110 §15.5.6) from a path nothing serves (404). A GET route also answers
 * HEAD, as Elysia does.
 */
export function allowedMethods(routes: readonly RouteLike[]): (path: string) => string[] {
  const byPattern = new Map<string, { pattern: RegExp; methods: Set<string> }>()
  for (const { method, path } of routes) {
    const entry = byPattern.get(path) ?? { pattern: patternOf(path), methods: new Set<string>() }
    entry.methods.add(method)
    if (method === 'GET') entry.methods.add('HEAD')
    byPattern.set(path, entry)
  }
  const entries = [...byPattern.values()]
  return (path) => {
    const methods = new Set<string>()
    for (const entry of entries) if (entry.pattern.test(path)) for (const method of entry.methods) methods.add(method)
    return [...methods].sort()
  }
}

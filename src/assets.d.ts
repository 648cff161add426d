// `import x from '…' with { type: 'file' }` gives the file's path (embedded by `bun build --compile`).
declare module 'htmx.org/dist/*.js' {
  const path: string
  export default path
}
declare module '*.css' {
  const path: string
  export default path
}
declare module '*.svg' {
  const path: string
  export default path
}
declare module '@highlightjs/cdn-assets/*.js' {
  const path: string
  export default path
}

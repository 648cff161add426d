// The page's code highlighter, in a worker so that no grammar can freeze the tab: public/app.js starts it once an
// answer holds code, hands it one block at a time, and ends it when a block takes too long. The server serves this
// file after highlight.js's own build (src/http/assets.ts), which defines `hljs` here.
self.onmessage = ({ data }) => {
  const { id, code, language } = data
  // Only a language the build knows, by name or alias; no guessing (highlightAuto runs every grammar on the block).
  const known = typeof code === 'string' && typeof language === 'string' && hljs.getLanguage(language) !== undefined
  const html = known ? hljs.highlight(code, { language, ignoreIllegals: true }).value : null
  self.postMessage({ id, html })
}
// Loaded: the page starts each block's clock from here.
self.postMessage({ ready: true })

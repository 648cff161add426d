// stepstream's page script: the few behaviours htmx does not cover. No inline handlers, no eval: it runs under a
// Content-Security-Policy of script-src 'self'.
;(() => {
  const $ = (selector) => document.querySelector(selector)

  /** live / reconnecting / offline, from the hx-sse extension's connection events. */
  function setConnection(state) {
    const badge = $('#connection')
    if (!badge || badge.dataset.state === state) return
    badge.dataset.state = state
    badge.textContent = state === 'idle' ? '\u00a0' : state
  }

  /** Send and Cancel follow the run status the stream keeps in #run-status. */
  function syncRunState() {
    const status = $('#run-status')
    const running = status?.dataset.state === 'running'
    const send = $('#send')
    const cancel = $('#cancel')
    if (send) send.disabled = running
    if (cancel) cancel.hidden = !running
    document.body.dataset.run = running ? 'running' : 'idle'
  }

  /** Timestamps arrive in UTC; show them in the reader's own time zone. */
  function localiseTimes(root) {
    for (const time of root.querySelectorAll('time[datetime]:not([data-local])')) {
      const date = new Date(time.getAttribute('datetime'))
      if (Number.isNaN(date.getTime())) continue
      time.textContent = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      time.title = date.toLocaleString()
      time.dataset.local = ''
    }
  }

  /** Follow the stream while the reader is at the bottom; leave them alone once they scroll up. */
  let following = true
  const nearBottom = () => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80
  window.addEventListener('scroll', () => (following = nearBottom()), { passive: true })

  function afterChange() {
    localiseTimes(document)
    syncRunState()
    if (following) window.scrollTo(0, document.documentElement.scrollHeight)
  }

  document.addEventListener('htmx:sse:after:connection', () => setConnection('live'))
  document.addEventListener('htmx:sse:before:connection', (event) => {
    if (event.detail?.connection?.attempt > 0) setConnection('reconnecting')
  })
  document.addEventListener('htmx:sse:error', () => setConnection('reconnecting'))
  document.addEventListener('htmx:sse:close', (event) => {
    if (event.detail?.reason !== 'removed') setConnection('offline')
  })
  document.addEventListener('htmx:sse:after:message', afterChange)
  document.addEventListener('htmx:after:swap', afterChange)

  // The server says the log no longer holds what this page's cursor points into: render the transcript afresh.
  document.addEventListener('reset', (event) => {
    if (event.target?.id === 'transcript') location.reload()
  })
  // A stream that fails on the server ends with an `error` event: show its sentence.
  document.addEventListener('error', (event) => {
    if (event.target?.id !== 'transcript') return
    const notice = $('#notice')
    try {
      if (notice) notice.textContent = JSON.parse(event.detail.data).error
    } catch {
      /* not our JSON: nothing to show */
    }
  })

  // Enter sends, Shift+Enter starts a new line.
  document.addEventListener('keydown', (event) => {
    if (event.target?.id !== 'message' || event.key !== 'Enter' || event.shiftKey || event.isComposing) return
    event.preventDefault()
    if (!$('#send')?.disabled) event.target.form.requestSubmit()
  })

  // A sent message comes back on the stream: clear the box once the server took it.
  document.addEventListener('htmx:after:request', (event) => {
    const ctx = event.detail?.ctx
    if (ctx?.sourceElement?.id === 'composer' && ctx.response?.status < 400) {
      ctx.sourceElement.reset()
      $('#message')?.focus()
    }
  })

  document.addEventListener('DOMContentLoaded', afterChange)
})()

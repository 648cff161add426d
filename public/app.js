// stepstream's page script: the few behaviours htmx does not cover. No inline handlers, no eval: it runs under a
// Content-Security-Policy of script-src 'self'.
;(() => {
  const $ = (selector) => document.querySelector(selector)
  const RECENT_KEY = 'stepstream.recent'
  // The most chats the list asks about (LISTED_CHATS_MAX in src/limits.ts, rendered into the page).
  const RECENT_MAX = Number(document.body.dataset.chatsMax) || 200
  // The server renders its session id pattern (src/session-id.ts) into the page, so it is written once.
  const ID_PATTERN = document.body.dataset.idPattern ? new RegExp(document.body.dataset.idPattern) : null

  /** Shows a state in a header indicator: the dot's colour comes from data-state, the word is for everyone. */
  function indicate(id, state, label = state) {
    const badge = document.getElementById(id)
    if (!badge || badge.dataset.state === state) return
    badge.dataset.state = state
    badge.textContent = label
  }
  // What the stream last said (live / reconnecting / offline / failed); the browser's own offline flag takes precedence, and
  // when the network comes back the indicator returns to what the stream says.
  let streamState = 'idle'
  const LABELS = { failed: 'server error', gone: 'chat gone' }
  const showConnection = () => {
    const state = navigator.onLine || streamState === 'idle' ? streamState : 'offline'
    indicate('connection', state, LABELS[state])
  }
  const setConnection = (state) => {
    streamState = state
    showConnection()
  }

  /** Send, Cancel and the run indicator follow the run status the stream keeps in #run-status. */
  function syncRunState() {
    const status = $('#run-status')
    if (!status) return indicate('run-indicator', 'idle', '\u00a0')
    const running = status.dataset.state === 'running'
    const send = $('#send')
    const cancel = $('#cancel')
    if (send) send.disabled = running
    if (cancel) {
      // Keep keyboard focus somewhere useful when the button under it disappears.
      if (!running && document.activeElement === cancel) $('#message')?.focus()
      cancel.hidden = !running
    }
    indicate('run-indicator', running ? 'running' : 'idle')
  }

  /**
   * Timestamps arrive in UTC; show them in the reader's own time zone: today's as a time, older ones with their day
   * (in the list of chats, the day alone).
   */
  function localiseTimes(root) {
    const now = new Date()
    const today = now.toDateString()
    for (const time of root.querySelectorAll('time[datetime]:not([data-local])')) {
      const date = new Date(time.getAttribute('datetime'))
      if (Number.isNaN(date.getTime())) continue
      const clock = date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
      const day = date.toLocaleDateString([], {
        month: 'short',
        day: 'numeric',
        year: date.getFullYear() === now.getFullYear() ? undefined : 'numeric',
      })
      const listed = time.closest('#recent') !== null
      time.textContent = date.toDateString() === today ? clock : listed ? day : `${day}, ${clock}`
      time.title = date.toLocaleString()
      time.dataset.local = ''
    }
  }

  // Follow the stream while the reader is at the bottom; once they scroll up, leave them be and offer a way back.
  let following = true
  const nearBottom = () => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80
  const toBottom = () => window.scrollTo({ top: document.documentElement.scrollHeight })
  window.addEventListener(
    'scroll',
    () => {
      following = nearBottom()
      if (following) $('#jump')?.setAttribute('hidden', '')
    },
    { passive: true },
  )

  // The owner's Edit beside each message and Regenerate under the last answer (docs/branches.md). The stream's
  // fragments are the same for every reader, so these are added here, on the owner's page alone (it has the templates).
  function addBranchControls() {
    const editTemplate = document.getElementById('edit-template')
    const regenerateTemplate = document.getElementById('regenerate-template')
    if (!editTemplate || !regenerateTemplate) return
    for (const footer of document.querySelectorAll('.msg.user > footer')) {
      if (footer.querySelector('.edit')) continue
      const edit = document.createElement('button')
      edit.type = 'button'
      edit.className = 'edit'
      edit.textContent = 'Edit'
      edit.setAttribute('aria-label', 'Edit this message and send it again')
      footer.append(edit)
    }
    const answers = document.querySelectorAll('.msg.assistant')
    const last = answers[answers.length - 1]
    for (const form of document.querySelectorAll('.regenerate-form')) {
      if (form.closest('.msg') !== last) form.remove()
    }
    const footer = last?.querySelector(':scope > footer')
    if (footer && !footer.querySelector('.regenerate-form')) {
      const form = regenerateTemplate.content.firstElementChild.cloneNode(true)
      footer.append(form)
      htmx.process(form)
    }
    const running = $('#run-status')?.dataset.state === 'running'
    for (const button of document.querySelectorAll('.regenerate')) button.disabled = running
  }

  /** Opens the edit form in place of a message's text, filled with it; Cancel (or Escape) puts the text back. */
  function openEdit(message) {
    if (message.querySelector('.edit-form')) return message.querySelector('.edit-form textarea').focus()
    const form = $('#edit-template').content.firstElementChild.cloneNode(true)
    const text = message.querySelector('.text')
    form.elements.seq.value = message.dataset.seq
    form.elements.message.value = text.textContent
    text.hidden = true
    text.after(form)
    htmx.process(form)
    form.elements.message.focus()
  }
  function closeEdit(form) {
    const message = form.closest('.msg')
    form.remove()
    message.querySelector('.text').hidden = false
    message.querySelector('.edit')?.focus()
  }

  // Code in answers is highlighted in a worker (highlight.js, served by this server like every asset), started only once
  // an answer holds code that names its language, and given one block at a time. A block that takes longer than the
  // server's bound (data-highlight-ms) ends the worker and stays plain; the next block gets a new worker.
  const HIGHLIGHTER = document.body.dataset.highlighter
  const HIGHLIGHT_MS = Number(document.body.dataset.highlightMs) || 1000
  const waiting = []
  let highlighter = null
  let job = null
  let jobs = 0
  function highlightCode(root) {
    if (!HIGHLIGHTER) return
    for (const code of root.querySelectorAll('.code-block pre > code[class^="language-"]:not([data-highlight])')) {
      code.dataset.highlight = 'waiting'
      waiting.push(code)
    }
    nextHighlight()
  }
  function nextHighlight() {
    if (job) return
    const code = waiting.shift()
    if (!code) return
    if (!code.isConnected) return nextHighlight()
    job = { id: ++jobs, code, text: code.textContent, timer: 0 }
    if (!highlighter) startHighlighter()
    else if (highlighter.ready) sendJob()
  }
  function startHighlighter() {
    const worker = new Worker(HIGHLIGHTER)
    highlighter = { worker, ready: false }
    worker.onmessage = ({ data }) => {
      if (data?.ready === true) {
        highlighter.ready = true
        if (job) sendJob()
      } else if (data?.id === job?.id) endHighlight(typeof data.html === 'string' ? data.html : null)
    }
    worker.onerror = () => job && endHighlight(null, true)
  }
  // The clock starts once the worker has loaded highlight.js: a slow start on a busy machine is not a slow grammar.
  function sendJob() {
    job.timer = setTimeout(() => endHighlight(null, true), HIGHLIGHT_MS)
    highlighter.worker.postMessage({ id: job.id, code: job.text, language: job.code.className.slice('language-'.length) })
  }
  function endHighlight(html, stopWorker = false) {
    const { code, text, timer } = job
    clearTimeout(timer)
    job = null
    if (stopWorker) {
      highlighter.worker.terminate()
      highlighter = null
    }
    let state = 'plain'
    if (html !== null && code.textContent === text) {
      code.innerHTML = html
      // The markup may only wrap the same text in spans: what is read and copied stays the code itself.
      if (code.textContent === text) state = 'done'
      else code.textContent = text
    }
    code.dataset.highlight = state
    nextHighlight()
  }

  function afterChange() {
    localiseTimes(document)
    highlightCode(document)
    syncRunState()
    addBranchControls()
    rememberChat()
    void fetchTitle()
    if (following) toBottom()
    else $('#jump')?.removeAttribute('hidden')
  }

  // The chats this browser keeps live in its localStorage only: the owner ids of those it opened by their owner link,
  // and the read-only ids of those it watches, marked `view`. Owner ids are capabilities (whoever holds one can write
  // to the chat), so they travel only in the body of POST /chats, which renders the list for them: the server never
  // lists chats on its own. A chat watched read-only is kept by its read-only id: this browser never had the other.
  function readRecent() {
    try {
      const list = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]')
      return Array.isArray(list) ? list.filter((c) => typeof c?.id === 'string' && ID_PATTERN?.test(c.id)) : []
    } catch {
      return []
    }
  }
  function writeRecent(list) {
    try {
      const kept = list.slice(0, RECENT_MAX).map(({ id, at, view }) => (view === true ? { id, at, view } : { id, at }))
      localStorage.setItem(RECENT_KEY, JSON.stringify(kept))
    } catch {
      /* storage full or disabled: the list is a convenience */
    }
  }
  /** A kept chat as the list's field names it: its owner id, or `view:<read-only id>`. */
  const tokenOf = (c) => (c.view === true ? `view:${c.id}` : c.id)
  // The chat this page last put at the top of the list: once per chat it shows, not at every event. Two tabs streaming
  // two chats would otherwise take the top from each other, and ask for the list again, at every event.
  let remembered
  function rememberChat() {
    const chat = $('.chat')
    const owner = chat?.dataset.session
    const id = owner ?? chat?.dataset.view
    if (!id || id === remembered) return
    remembered = id
    const list = readRecent()
    if (list[0]?.id === id) return
    const entry = owner ? { id, at: new Date().toISOString() } : { id, at: new Date().toISOString(), view: true }
    writeRecent([entry, ...list.filter((c) => c.id !== id)])
    showChats()
  }
  /** Asks the server for the list of the kept chats (templates/chat-list.tsx), or hides it when there are none. */
  function showChats() {
    const input = $('#owned-ids')
    const recent = $('#recent')
    if (!input || !recent) return
    const tokens = readRecent().map(tokenOf)
    input.value = tokens.join(' ')
    if (tokens.length === 0) recent.closest('aside').hidden = true
    else recent.dispatchEvent(new CustomEvent('chatsload'))
  }
  // The chat a delete was sent for: if it is this page's, the page leaves once the list says it is gone.
  let deleting
  /** After the server rendered the list: forget the ids it was asked about and did not find (deleted, expired). */
  function listed() {
    const ul = $('#recent ul[data-listed]')
    if (!ul) return
    localiseTimes(ul)
    const words = (value) => new Set((value ?? '').split(' ').filter(Boolean))
    const found = words(ul.dataset.listed)
    const asked = words(ul.dataset.asked)
    const kept = readRecent().filter((c) => found.has(tokenOf(c)) || !asked.has(tokenOf(c)))
    writeRecent(kept)
    $('#owned-ids').value = kept.map(tokenOf).join(' ')
    ul.closest('aside').hidden = found.size === 0
    const current = $('.chat')?.dataset.session
    if (current && current === deleting && !found.has(current)) return location.assign('/')
    const mine = current ? ul.querySelector(`li[data-chat="${current}"] a`) : null
    mine?.setAttribute('aria-current', 'page')
    if (mine) document.title = mine.textContent
  }
  /** A page rendered before its chat had a title asks for it once the first message is in (the tab shows it). */
  async function fetchTitle() {
    const chat = $('.chat')
    if (!chat || chat.dataset.titled || chat.dataset.titleAsked || !$('.msg.user')) return
    chat.dataset.titleAsked = 'yes'
    try {
      const { title } = await (await fetch(chat.dataset.api, { headers: { accept: 'application/json' } })).json()
      if (!title) return delete chat.dataset.titleAsked
      chat.dataset.titled = 'yes'
      document.title = chat.dataset.view ? `${title} (read-only)` : title
      if (chat.dataset.session) showChats()
    } catch {
      delete chat.dataset.titleAsked
    }
  }

  // The stream's first connection: hx-sse tries again only once one was made, so a page opened while the server was
  // down, restarting or at its connection cap would wait for ever. Until one is made, the page asks again itself,
  // backing off to 5 s as hx-sse does (with its jitter); a 404 says the chat is gone.
  let streamOpened = false
  let firstTries = 0
  function connectAgain(transcript, status) {
    if (streamOpened || !transcript.isConnected) return
    if (status === 404) {
      goneFrom404()
      return setConnection('gone')
    }
    setConnection('reconnecting')
    const delay = Math.min(5000, 500 * 2 ** firstTries++) * (0.7 + 0.6 * Math.random())
    setTimeout(() => {
      if (streamOpened || !transcript.isConnected) return
      window.htmx?.ajax('GET', transcript.getAttribute('hx-sse:connect'), { source: transcript, timeout: 15000 })
    }, delay)
  }
  document.addEventListener('htmx:after:request', (event) => {
    const ctx = event.detail?.ctx
    if (ctx?.sourceElement?.id === 'transcript' && ctx.response?.status >= 400) connectAgain(ctx.sourceElement, ctx.response.status)
  })
  document.addEventListener('htmx:error', (event) => {
    const ctx = event.detail?.ctx
    if (ctx?.sourceElement?.id === 'transcript' && ctx.response === undefined) connectAgain(ctx.sourceElement)
  })
  document.addEventListener('htmx:sse:after:connection', () => {
    streamOpened = true
    setConnection('live')
  })
  // A chat deleted (in this tab, another, or by a program) or expired ends its streams with a stream-error coded
  // SESSION_NOT_FOUND: close the connection on it, since every reconnect would only meet a 404 and log it. A tab that
  // missed that frame (hidden, or offline at the time) learns it from its reconnect's 404, and stops there.
  let chatGone = false
  /** A connection answered 404: the chat is gone, with no sentence of the server's to show. */
  function goneFrom404() {
    chatGone = true
    showStreamNotice('This chat no longer exists: it was deleted, or it expired.')
  }
  document.addEventListener('htmx:sse:before:connection', (event) => {
    if (chatGone && event.target?.id === 'transcript') {
      event.detail.connection.cancelled = true
      return
    }
    // After the server's own failure frame, the backoff before the next attempt still shows that failure.
    if (event.detail?.connection?.attempt > 0 && streamState !== 'failed') setConnection('reconnecting')
  })
  document.addEventListener('htmx:sse:error', (event) => {
    if (event.detail?.status === 404 && event.target?.id === 'transcript') return goneFrom404()
    setConnection('reconnecting')
  })
  document.addEventListener('htmx:sse:close', (event) => {
    if (event.detail?.reason !== 'removed') setConnection(chatGone ? 'gone' : 'offline')
  })
  document.addEventListener('htmx:sse:before:message', (event) => {
    const message = event.detail?.message
    if (message?.event !== 'stream-error' || event.target?.id !== 'transcript') return
    if (streamFailure(message.data).code !== 'SESSION_NOT_FOUND') return
    chatGone = true
    event.target.setAttribute('hx-sse:close', 'stream-error')
  })
  window.addEventListener('offline', showConnection)
  window.addEventListener('online', showConnection)
  document.addEventListener('htmx:sse:after:message', (event) => {
    // htmx sends this after named frames too: only an event of the log (unnamed, HTML) shows the stream delivers.
    if (!event.detail?.message?.event) clearStreamNotice()
    afterChange()
  })
  // The other tabs of this browser show the same list: a rename or a delete made here is told to them, and they ask
  // the server for it again (their tab's title follows).
  // A list with a menu open is left as it is until the menu closes: its rendering would wipe what is being typed.
  const otherTabs = 'BroadcastChannel' in window ? new BroadcastChannel('stepstream.chats') : null
  let listStale = false
  otherTabs?.addEventListener('message', () => {
    if ($('#recent details[open]')) listStale = true
    else showChats()
  })
  document.addEventListener(
    'toggle',
    (event) => {
      if (!listStale || !event.target?.matches?.('#recent details') || $('#recent details[open]')) return
      listStale = false
      showChats()
    },
    true,
  )
  document.addEventListener('htmx:after:swap', (event) => {
    if (event.target?.id === 'recent') {
      // (The form that asked is gone with the list it was in: its request says which it was.)
      const action = event.detail?.ctx?.request?.action ?? ''
      if (/\/chats\/(rename|delete)$/.test(new URL(action, location.href).pathname)) otherTabs?.postMessage('changed')
      return listed()
    }
    afterChange()
    // A chat just started from the start page (its button gone with it): the next thing to do is to type.
    // Not on a touch screen, where it would open the on-screen keyboard over the first answer.
    if (event.target?.id === 'main' && matchMedia('(pointer: fine)').matches) $('#message')?.focus()
  })
  document.addEventListener('htmx:before:request', (event) => {
    const form = event.detail?.ctx?.sourceElement
    if (form?.classList?.contains('delete')) deleting = form.elements.client_id?.value
  })

  // The server says the log no longer holds what this page's cursor points into: render the transcript afresh.
  document.addEventListener('reset', (event) => {
    if (event.target?.id === 'transcript') location.reload()
  })
  // A stream that fails on the server ends with a `stream-error` frame (never `error`: that name is a run's event on
  // the JSON stream, and a run's error reaches this page as HTML). Show its sentence until the stream delivers again.
  let streamNotice = ''
  function clearStreamNotice() {
    const notice = $('#notice')
    if (streamNotice && notice?.textContent === streamNotice) notice.textContent = ''
    streamNotice = ''
  }
  /** A stream-error frame's data: `{error, code?}`, or nothing when it is not our JSON (the indicator says it all). */
  function streamFailure(data) {
    try {
      const { error, code } = JSON.parse(data)
      return { error: typeof error === 'string' ? error : undefined, code }
    } catch {
      return {}
    }
  }
  function showStreamNotice(sentence) {
    streamNotice = sentence
    const notice = $('#notice')
    if (notice) notice.textContent = sentence
  }
  document.addEventListener('stream-error', (event) => {
    if (event.target?.id !== 'transcript') return
    setConnection('failed')
    // The chat this tab just deleted: the page is about to leave for the start page, with nothing to explain.
    if (chatGone && deleting !== undefined && deleting === $('.chat')?.dataset.session) return
    const { error } = streamFailure(event.detail?.data)
    if (error !== undefined) showStreamNotice(error)
  })

  // In an edit form, Enter sends the edited message, Shift+Enter starts a new line, Escape gives up.
  document.addEventListener('keydown', (event) => {
    const form = event.target?.closest?.('.edit-form')
    if (!form || event.isComposing) return
    if (event.key === 'Escape') closeEdit(form)
    else if (event.key === 'Enter' && !event.shiftKey && event.target.name === 'message') {
      event.preventDefault()
      form.requestSubmit()
    }
  })

  // Escape closes a chat's menu in the list, and gives the keyboard back to the button that opened it.
  document.addEventListener('keydown', (event) => {
    const menu = event.target?.closest?.('details.chat-actions[open]')
    if (event.key !== 'Escape' || !menu || event.isComposing) return
    menu.open = false
    menu.querySelector('summary')?.focus()
  })

  // Enter sends, Shift+Enter starts a new line.
  document.addEventListener('keydown', (event) => {
    if (event.target?.id !== 'message' || event.key !== 'Enter' || event.shiftKey || event.isComposing) return
    event.preventDefault()
    if (!$('#send')?.disabled) event.target.form.requestSubmit()
  })

  document.addEventListener('click', async (event) => {
    const button = event.target?.closest?.('button')
    if (button?.id === 'jump') {
      following = true
      button.hidden = true
      toBottom()
      $('#message')?.focus({ preventScroll: true })
    } else if (button?.classList.contains('edit')) {
      openEdit(button.closest('.msg'))
    } else if (button?.classList.contains('edit-cancel')) {
      closeEdit(button.closest('.edit-form'))
    } else if (button?.id === 'copy-view-link') {
      // The absolute URL: it is pasted into a chat or an e-mail, far from this origin.
      const link = new URL(button.dataset.link, location.origin).href
      try {
        await navigator.clipboard.writeText(link)
        button.textContent = 'Link copied'
      } catch {
        // No clipboard (an insecure origin, a denied permission): show the link so it can be copied by hand.
        const notice = $('#notice')
        if (notice) notice.textContent = `Read-only link: ${link}`
        button.textContent = 'Copy failed'
      }
      setTimeout(() => (button.textContent = 'Copy read-only link'), 1500)
    } else if (button?.classList.contains('code-copy')) {
      // The code's text, not its highlighting markup; the newline before a fence's closing line is not part of it.
      const text = (button.closest('.code-block')?.querySelector('pre > code')?.textContent ?? '').replace(/\n$/, '')
      try {
        await navigator.clipboard.writeText(text)
        button.textContent = 'Copied'
        button.dataset.copied = ''
      } catch {
        button.textContent = 'Copy failed'
      }
      setTimeout(() => {
        button.textContent = 'Copy code'
        delete button.dataset.copied
      }, 1500)
    } else if (button?.classList.contains('copy')) {
      // The code blocks' heads (language, copy button) are the page's, not the message's: hidden while it is read.
      const message = button.closest('.msg')?.querySelector('.text')
      message?.classList.add('copying')
      const text = message?.innerText ?? ''
      message?.classList.remove('copying')
      try {
        await navigator.clipboard.writeText(text)
        button.textContent = 'Copied'
      } catch {
        button.textContent = 'Copy failed'
      }
      setTimeout(() => (button.textContent = 'Copy'), 1500)
    }
  })

  // A form whose request never reached the server (it is down, or the network is): nothing on the page would change,
  // and a message left in its box would look sent. Say so where the form's answers go; what was typed stays.
  // One that timed out may have been taken: say that instead, so that it is not sent twice. A form of the chat list
  // says it in the list, whose next rendering clears it.
  const UNREACHABLE = 'Could not reach the server, so this was not sent. Check the connection and try again.'
  const UNANSWERED = 'The server did not answer in time: this may have been taken. Look before sending it again.'
  document.addEventListener('htmx:error', (event) => {
    const ctx = event.detail?.ctx
    const form = ctx?.sourceElement?.closest?.('form')
    if (!form || ctx.response !== undefined) return
    const sentence = ctx.request?.signal?.reason === 'timeout' ? UNANSWERED : UNREACHABLE
    const list = form.closest('#recent')
    if (list) {
      const notice = list.querySelector('.unreached') ?? document.createElement('p')
      notice.className = 'notice warn unreached'
      notice.setAttribute('role', 'alert')
      notice.textContent = sentence
      return list.prepend(notice)
    }
    const notice = form.querySelector('.notice') ?? $('#notice') ?? $('#new-chat-notice')
    if (notice) notice.textContent = sentence
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
  // This script runs before htmx's: the list is asked for once htmx has set up its element (hx-trigger="chatsload").
  document.addEventListener('htmx:after:init', (event) => {
    if (event.target?.id === 'recent') showChats()
  })
})()

// htmx 4 attributes and elements, for type-checking templates. (@kitajs/html ships htmx 2's attribute types.)
declare namespace JSX {
  interface HtmlTag {
    'hx-get'?: string
    'hx-post'?: string
    'hx-target'?: string
    'hx-swap'?: string
    'hx-include'?: string
    'hx-vals'?: string
    'hx-disable'?: string
    'hx-sse:connect'?: string
    'hx-sse:close'?: string
    /** htmx 4: how to handle a response of that status class (`target:#notice`). */
    'hx-status:4xx'?: string
    'hx-status:5xx'?: string
  }
  interface IntrinsicElements {
    /** htmx 4: swaps its children into `hx-target` with `hx-swap`, wherever it appears in a response. */
    'hx-partial': HtmlTag
  }
}

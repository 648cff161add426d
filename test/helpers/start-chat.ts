/**
 * Starts a chat the way a plain form does (`POST /start`, then its 303) and returns the chat page's URL on `base`.
 * Browser tests open that URL to load a chat page whole, as the form's redirect would.
 */
export async function startChat(base: string): Promise<string> {
  const res = await fetch(`${base}/start`, { method: 'POST', redirect: 'manual' })
  if (res.status !== 303) throw new Error(`POST /start answered ${res.status}, not 303: ${await res.text()}`)
  return `${base}${res.headers.get('location')}`
}

/**
 * Asks `<base>/healthz` every `<interval>` ms, one probe at a time, and prints one line per probe: `<ms> <status>`
 * (status 0 for a probe that failed or timed out after 5 s). A process of its own, so that what the abuse suite's
 * own process is busy with (building a 1 MB body, say) never delays a probe: only the server's answer is timed.
 *
 * Usage: bun test/abuse/health-probe.ts http://127.0.0.1:8080 50
 */
export {}

const [base, interval = '50'] = process.argv.slice(2)
if (!base) throw new Error('usage: health-probe.ts <base> [interval ms]')

for (;;) {
  const started = performance.now()
  let status = 0
  try {
    const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) })
    await res.arrayBuffer()
    status = res.status
  } catch {}
  process.stdout.write(`${(performance.now() - started).toFixed(1)} ${status}\n`)
  await Bun.sleep(Number(interval))
}

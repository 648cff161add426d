/**
 * Asks `<base>/healthz` every `<interval>` ms, one probe at a time, and prints one line per probe:
 * `server <start> <end> <status>` (performance.now() milliseconds; status 0 for a probe that failed or timed out
 * after 5 s). Beside it, the same loop against a trivial server of this process prints `control …` lines: a probe
 * of stepstream is late by stepstream's fault only if a control probe started and ended quickly within it — on a
 * machine so loaded that even the control is slow, nothing can be said about the server.
 *
 * A process of its own, so that what the abuse suite's own process is busy with (building a 1 MB body, say) never
 * delays a probe. Usage: bun test/abuse/health-probe.ts http://127.0.0.1:8080 40
 */
export {}

const [base, interval = '40'] = process.argv.slice(2)
if (!base) throw new Error('usage: health-probe.ts <base> [interval ms]')
const control = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => Response.json({ status: 'ok' }) })

async function probe(kind: string, url: string): Promise<never> {
  for (;;) {
    const started = performance.now()
    let status = 0
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) })
      await res.arrayBuffer()
      status = res.status
    } catch {}
    process.stdout.write(`${kind} ${started.toFixed(1)} ${performance.now().toFixed(1)} ${status}\n`)
    await Bun.sleep(Number(interval))
  }
}

void probe('control', `${control.url}healthz`)
await probe('server', `${base}/healthz`)

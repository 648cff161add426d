/**
 * `bun run fuzz`: the abuse suite (test/abuse) for much longer than `bun test` runs it. Every property runs for
 * FUZZ_SECONDS (default 30) instead of its handful of batches, all with one seed, printed first and last so a
 * failure can be replayed: `FUZZ_SEED=<seed> FUZZ_SECONDS=<s> bun run fuzz`, or one file with
 * `FUZZ_SEED=<seed> bun test test/abuse/<file>`. FUZZ_RUNS=<n> runs n batches per property instead of a time budget;
 * FUZZ_SHRINK=1 shrinks a failing batch to a smaller one (slow: every try is real requests); FUZZ_HEALTH_MS and
 * FUZZ_RSS_MIB change the bounds checked after each batch. Arguments are passed to `bun test` (a file, `-t name`).
 */
export {}

const seed = process.env.FUZZ_SEED ?? String((Date.now() ^ (Math.random() * 0x7fffffff)) | 0)
const env: Record<string, string> = { ...(process.env as Record<string, string>), FUZZ_SEED: seed }
if (env.FUZZ_RUNS === undefined) env.FUZZ_SECONDS ??= '30'
const budget = env.FUZZ_RUNS ? `FUZZ_RUNS=${env.FUZZ_RUNS}` : `FUZZ_SECONDS=${env.FUZZ_SECONDS}`
process.stderr.write(`fuzz: FUZZ_SEED=${seed} ${budget}\n`)
const args = process.argv.slice(2)
const proc = Bun.spawn([process.execPath, 'test', '--timeout', '0', ...(args.length ? args : ['test/abuse'])], {
  env,
  stdio: ['inherit', 'inherit', 'inherit'],
})
const code = await proc.exited
process.stderr.write(`fuzz: ${code === 0 ? 'passed' : 'FAILED'}; replay with FUZZ_SEED=${seed} ${budget} bun run fuzz\n`)
process.exit(code)

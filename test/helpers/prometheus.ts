// parse-prometheus-text-format ships no types; this is the shape its README documents (that of prom2json).
// @ts-expect-error no declaration file
import parsePrometheusTextFormat from 'parse-prometheus-text-format'

interface Sample {
  value?: string
  labels?: Record<string, string>
}
interface Family {
  name: string
  type: string
  metrics: Sample[]
}

/** Samples by series name (`x_bucket`, `x_count`, a counter's own name), each with its labels. */
export type Scrape = Map<string, Sample[]>

/**
 * `/metrics` text through a real Prometheus text-format parser, which throws on a line Prometheus would not read.
 * It is parsed twice: once as is (the check, with every `# TYPE`), then with histograms read as plain series,
 * because the parser merges a histogram's label sets into one sample and drops their labels (1.1.1): a lookup of
 * `stepstream_run_duration_seconds_count{step="echo",outcome="final"}` needs each series with its labels.
 */
export function parseMetrics(text: string): Scrape {
  const typed = parsePrometheusTextFormat(text) as Family[]
  if (typed.length === 0) throw new Error('no metrics parsed')
  const plain = parsePrometheusTextFormat(text.replace(/^# TYPE (\S+) (histogram|summary)$/gm, '# TYPE $1 untyped')) as Family[]
  // A series interrupted by another (x_bucket, x_sum, x_count, then x_bucket of the next label set) comes back as
  // several families of one name.
  const scrape: Scrape = new Map()
  for (const family of plain) scrape.set(family.name, [...(scrape.get(family.name) ?? []), ...family.metrics])
  return scrape
}

const matches = (sample: Sample, labels: Record<string, string>) => Object.entries(labels).every(([k, v]) => sample.labels?.[k] === v)

/** The sum of the samples of series `name` whose labels include `labels` (0 when there are none). */
export function sampleSum(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  if (!scrape.has(name)) throw new Error(`no series ${name} in the scrape`)
  return scrape
    .get(name)!
    .filter((sample) => matches(sample, labels))
    .reduce((sum, sample) => sum + Number(sample.value), 0)
}

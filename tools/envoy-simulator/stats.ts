/**
 * A small stats store with Envoy's observable semantics and the three renderings of `/stats`.
 *
 * - A stat exists from creation (and shows up without `usedonly`), but is "used" only once it was
 *   written: a counter incremented, a gauge set/incremented/decremented, a histogram recorded.
 *   `usedonly` hides the rest, which is how `server.state` stays absent until the first server
 *   stats refresh.
 * - Text output (`stats_render.cc`): text readouts first, then counters and gauges merged and
 *   sorted by name as `name: value`, then histograms.
 * - Prometheus output (`prometheus_stats.cc`): `envoy_` + the tag-extracted name with every
 *   character outside `[a-zA-Z0-9_]` turned into `_`, a `# TYPE` line per metric, samples with
 *   `{labels}` (empty braces when there are none), counters then gauges then histograms, and a
 *   blank line after each metric's group.
 */

export type StatKind = 'counter' | 'gauge' | 'histogram' | 'text';

export class Stat {
  used = false;
  private current = 0;
  private text = '';
  readonly samples: number[] = [];
  /** A gauge whose value is computed at read time (e.g. connections that drain over time). */
  compute: (() => number) | undefined;

  constructor(
    readonly name: string,
    readonly kind: StatKind,
  ) {}

  get value(): number {
    return this.compute !== undefined ? this.compute() : this.current;
  }

  get textValue(): string {
    return this.text;
  }

  set(value: number): void {
    this.current = value;
    this.used = true;
  }

  add(delta = 1): void {
    this.current += delta;
    this.used = true;
  }

  sub(delta = 1): void {
    this.current = Math.max(0, this.current - delta);
    this.used = true;
  }

  setText(value: string): void {
    this.text = value;
    this.used = true;
  }

  record(value: number): void {
    this.samples.push(value);
    this.used = true;
  }

  /** `/reset_counters`: counters go back to 0 but stay used. */
  reset(): void {
    if (this.kind === 'counter') this.current = 0;
  }
}

export class StatsStore {
  private readonly stats = new Map<string, Stat>();

  private get(name: string, kind: StatKind): Stat {
    let stat = this.stats.get(name);
    if (stat === undefined) {
      stat = new Stat(name, kind);
      this.stats.set(name, stat);
    }
    return stat;
  }

  counter(name: string): Stat {
    return this.get(name, 'counter');
  }
  gauge(name: string): Stat {
    return this.get(name, 'gauge');
  }
  histogram(name: string): Stat {
    return this.get(name, 'histogram');
  }
  textReadout(name: string): Stat {
    return this.get(name, 'text');
  }

  has(name: string): boolean {
    return this.stats.has(name);
  }

  all(): Stat[] {
    return [...this.stats.values()];
  }

  resetCounters(): void {
    for (const stat of this.stats.values()) stat.reset();
  }

  /**
   * The stats of one xDS subscription under `prefix` (CDS, LDS, an SDS secret): Envoy's
   * `ALL_SUBSCRIPTION_STATS` (envoy/config/subscription.h).
   */
  createSubscriptionStats(prefix: string): void {
    for (const name of [
      'update_attempt',
      'update_success',
      'update_rejected',
      'update_failure',
      'update_empty',
      'init_fetch_timeout',
    ]) {
      this.counter(`${prefix}.${name}`);
    }
    this.gauge(`${prefix}.update_time`);
    this.gauge(`${prefix}.version`);
    this.textReadout(`${prefix}.version_text`);
  }
}

export interface StatsQuery {
  usedOnly: boolean;
  filter: RegExp | undefined;
  type: 'All' | 'Counters' | 'Gauges' | 'Histograms' | 'TextReadouts';
}

function selected(stats: StatsStore, q: StatsQuery): Stat[] {
  const typeOk = (s: Stat): boolean => {
    switch (q.type) {
      case 'All':
        return true;
      case 'Counters':
        return s.kind === 'counter';
      case 'Gauges':
        return s.kind === 'gauge';
      case 'Histograms':
        return s.kind === 'histogram';
      case 'TextReadouts':
        return s.kind === 'text';
    }
  };
  return stats
    .all()
    .filter((s) => typeOk(s) && (!q.usedOnly || s.used) && (q.filter === undefined || q.filter.test(s.name)))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const QUANTILES = [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100];

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(6)));
}

/** `P0(interval,cumulative) ...`: the interval part is `nan` between flushes. */
function histogramSummary(stat: Stat): string {
  if (stat.samples.length === 0) return 'No recorded values';
  const sorted = [...stat.samples].sort((a, b) => a - b);
  return QUANTILES.map((q) => `P${q}(nan,${formatNumber(quantile(sorted, q))})`).join(' ');
}

export function renderText(stats: StatsStore, q: StatsQuery): string {
  const list = selected(stats, q);
  const lines: string[] = [];
  for (const s of list) if (s.kind === 'text') lines.push(`${s.name}: ${JSON.stringify(s.textValue)}`);
  for (const s of list) if (s.kind === 'counter' || s.kind === 'gauge') lines.push(`${s.name}: ${s.value}`);
  for (const s of list) if (s.kind === 'histogram') lines.push(`${s.name}: ${histogramSummary(s)}`);
  return lines.map((l) => `${l}\n`).join('');
}

export function renderJson(stats: StatsStore, q: StatsQuery): string {
  const list = selected(stats, q);
  const entries: unknown[] = [];
  for (const s of list) if (s.kind === 'text') entries.push({ name: s.name, value: s.textValue });
  for (const s of list)
    if (s.kind === 'counter' || s.kind === 'gauge') entries.push({ name: s.name, value: s.value });
  const histograms = list.filter((s) => s.kind === 'histogram');
  if (histograms.length > 0) {
    entries.push({
      histograms: {
        supported_quantiles: QUANTILES,
        computed_quantiles: histograms.map((h) => {
          const sorted = [...h.samples].sort((a, b) => a - b);
          return {
            name: h.name,
            values: QUANTILES.map((p) =>
              sorted.length === 0
                ? { interval: null, cumulative: null }
                : { interval: null, cumulative: quantile(sorted, p) },
            ),
          };
        }),
      },
    });
  }
  return JSON.stringify({ stats: entries });
}

interface Tagged {
  name: string;
  labels: [string, string][];
}

/**
 * The default tag extractors that matter for the simulated stats
 * (`source/common/config/well_known_names.cc`): a listener's address (digits, dots, `_` and IPv6
 * brackets only, so `listener.admin.*` keeps its name) and an HTTP connection manager's prefix.
 */
export function extractTags(name: string): Tagged {
  const listener = /^listener\.((?:[_.0-9]+|[_[\]a-fA-F0-9:]+))\.(.+)$/.exec(name);
  if (listener !== null) {
    const [, address, rest] = listener as unknown as [string, string, string];
    return { name: `listener.${rest}`, labels: [['envoy_listener_address', address]] };
  }
  if (name.startsWith('http.')) {
    const leafAt = name.lastIndexOf('.');
    const prefix = name.slice('http.'.length, leafAt);
    if (prefix !== '') {
      return { name: `http.${name.slice(leafAt + 1)}`, labels: [['envoy_http_conn_manager_prefix', prefix]] };
    }
  }
  return { name, labels: [] };
}

function promName(name: string): string {
  return `envoy_${name.replace(/[^a-zA-Z0-9_]/g, '_')}`;
}

function promLabels(labels: [string, string][], extra: [string, string][] = []): string {
  const all = [...labels, ...extra];
  return `{${all.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

/** Envoy's default histogram bucket bounds (`HistogramSettingsImpl::defaultBuckets`). */
const BUCKETS = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000,
  3600000,
];

export function renderPrometheus(stats: StatsStore, q: StatsQuery, textReadouts: boolean): string {
  const list = selected(stats, q);
  const out: string[] = [];
  const group = (
    kinds: StatKind[],
    promType: string,
    sample: (s: Stat, t: Tagged, metric: string) => string[],
  ): void => {
    const byMetric = new Map<string, { stat: Stat; tagged: Tagged }[]>();
    for (const s of list) {
      if (!kinds.includes(s.kind)) continue;
      const tagged = extractTags(s.name);
      const metric = promName(tagged.name);
      const entries = byMetric.get(metric) ?? [];
      entries.push({ stat: s, tagged });
      byMetric.set(metric, entries);
    }
    for (const metric of [...byMetric.keys()].sort()) {
      out.push(`# TYPE ${metric} ${promType}\n`);
      for (const { stat, tagged } of byMetric.get(metric) ?? []) {
        for (const line of sample(stat, tagged, metric)) out.push(`${line}\n`);
      }
      out.push('\n');
    }
  };
  group(['counter'], 'counter', (s, t, m) => [`${m}${promLabels(t.labels)} ${s.value}`]);
  group(['gauge'], 'gauge', (s, t, m) => [`${m}${promLabels(t.labels)} ${s.value}`]);
  if (textReadouts) {
    group(['text'], 'gauge', (s, t, m) => [`${m}${promLabels(t.labels, [['text_value', s.textValue]])} 0`]);
  }
  group(['histogram'], 'histogram', (s, t, m) => {
    const lines = BUCKETS.map(
      (b) =>
        `${m}_bucket${promLabels(t.labels, [['le', String(b)]])} ${s.samples.filter((v) => v <= b).length}`,
    );
    lines.push(`${m}_bucket${promLabels(t.labels, [['le', '+Inf']])} ${s.samples.length}`);
    lines.push(`${m}_sum${promLabels(t.labels)} ${formatNumber(s.samples.reduce((a, b) => a + b, 0))}`);
    lines.push(`${m}_count${promLabels(t.labels)} ${s.samples.length}`);
    return lines;
  });
  return out.join('');
}

/**
 * Compiles a `filter=` value. Envoy uses RE2 with a partial match: JavaScript's engine agrees on
 * the common syntax; constructs RE2 lacks (look-around, back-references) are rejected the way
 * RE2 rejects them, and RE2's `(?P<name>` is accepted.
 */
export function compileFilter(pattern: string): RegExp | undefined {
  if (/\(\?<?[=!]/.test(pattern) || /\\[1-9]/.test(pattern) || /\\k</.test(pattern)) return undefined;
  try {
    return new RegExp(pattern.replace(/\(\?P</g, '(?<'));
  } catch {
    return undefined;
  }
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Reading deploy/grafana's dashboard the way the checks need it: every PromQL expression, the metric
 * names they use, and which app must expose each name (by prefix, as each app names its metrics in
 * one place). Shared by the dashboard spec and tests/observability, which scrapes the real apps.
 */

/** Each app's metric prefix (ARCHITECTURE.md habit 6: `<component>_…`). */
export const APP_METRIC_PREFIX = {
  harvester: 'harvester_',
  'nacl-gateway': 'nacl_gateway_',
  'es-consumer': 'es_consumer_',
  compressor: 'compressor_',
  indexer: 'indexer_',
  'live-receiver': 'live_receiver_',
} as const;
export type AppName = keyof typeof APP_METRIC_PREFIX;
export const APP_NAMES = Object.keys(APP_METRIC_PREFIX) as AppName[];

/** Metrics Prometheus adds itself (not exposed by any app). */
export const PROMETHEUS_SYNTHETIC = new Set(['up', 'scrape_duration_seconds', 'scrape_samples_scraped']);

export interface GrafanaTarget {
  refId?: string;
  expr?: string;
  legendFormat?: string;
  datasource?: unknown;
}
export interface GrafanaPanel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  datasource?: unknown;
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: GrafanaTarget[];
  panels?: GrafanaPanel[];
}
export interface GrafanaDashboard {
  uid?: string;
  title?: string;
  schemaVersion?: number;
  panels: GrafanaPanel[];
  templating?: { list: { name: string; type: string; query?: unknown }[] };
}

export const DASHBOARD_FILE = join('deploy', 'grafana', 'dashboards', 'backlog.json');

export function readDashboard(root: string): GrafanaDashboard {
  return JSON.parse(readFileSync(join(root, DASHBOARD_FILE), 'utf8')) as GrafanaDashboard;
}

/** Every panel, rows' nested panels included. */
export function allPanels(d: GrafanaDashboard): GrafanaPanel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every query expression with the panel it belongs to. */
export function dashboardQueries(d: GrafanaDashboard): { panel: string; expr: string }[] {
  return allPanels(d).flatMap((p) => (p.targets ?? []).filter((t) => typeof t.expr === 'string').map((t) => ({ panel: p.title ?? String(p.id), expr: t.expr as string })));
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/**
 * The metric names one PromQL expression selects. Strings, label matchers, groupings and ranges are
 * removed first; what remains is a name unless a `(` follows (then it is a function or aggregation).
 */
export function metricNamesIn(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const out = new Set<string>();
  for (const m of s.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const name = m[0];
    const after = s.slice((m.index ?? 0) + name.length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(name.toLowerCase()) || name.startsWith('$')) continue;
    // `$__rate_interval` leaves `__rate_interval` after the `$` (a Grafana variable); `5m` leaves `m` (a duration).
    if (/[$0-9.]/.test(s[(m.index ?? 0) - 1] ?? '')) continue;
    out.add(name);
  }
  return [...out];
}

/** The app that must expose `name`, by prefix; undefined for Prometheus' own series (`up`). */
export function appOfMetric(name: string): AppName | undefined {
  return APP_NAMES.find((a) => name.startsWith(APP_METRIC_PREFIX[a]));
}

/** The metric names the dashboard needs from each app. */
export function dashboardMetricsByApp(d: GrafanaDashboard): Record<AppName, string[]> {
  const out = Object.fromEntries(APP_NAMES.map((a) => [a, new Set<string>()])) as Record<AppName, Set<string>>;
  for (const q of dashboardQueries(d)) {
    for (const name of metricNamesIn(q.expr)) {
      const app = appOfMetric(name);
      if (app) out[app].add(name);
    }
  }
  return Object.fromEntries(APP_NAMES.map((a) => [a, [...out[a]].sort()])) as Record<AppName, string[]>;
}

/** Family names (and their series names) in a Prometheus text exposition, from its `# TYPE` lines. */
export function exposedMetricNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE ([A-Za-z_:][A-Za-z0-9_:]*) (\w+)/.exec(line);
    if (!m) continue;
    const [, name, type] = m as unknown as [string, string, string];
    out.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) out.add(name + s);
  }
  return out;
}

/** Names the dashboard needs from `app` that `exposition` lacks. */
export function missingMetrics(app: AppName, d: GrafanaDashboard, exposition: string): string[] {
  const have = exposedMetricNames(exposition);
  return dashboardMetricsByApp(d)[app].filter((n) => !have.has(n));
}

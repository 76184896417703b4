// Structure of deploy/grafana (dashboard + provisioning) and deploy/prometheus (scrape configs). Neither
// Grafana nor Prometheus runs here; this checks what they would reject or silently get wrong: panel ids
// and layout, data source references, PromQL that names no app, jobs and ports that are not DESIGN.md's.
// tests/observability/metrics.test.ts then scrapes the real apps for the names found here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { repoRoot } from '@backlog/platform-stack';
import { APP_NAMES, PROMETHEUS_SYNTHETIC, allPanels, appOfMetric, dashboardMetricsByApp, dashboardQueries, exposedMetricNames, metricNamesIn, readDashboard } from './observability';

const root = repoRoot();
const dashboard = readDashboard(root);
const yaml = (rel: string) => parse(readFileSync(join(root, rel), 'utf8')) as Record<string, unknown>;

/** DESIGN.md "Default ports": metrics + health per app. */
const METRICS_PORT: Record<string, number> = { harvester: 9101, 'nacl-gateway': 9102, 'es-consumer': 9103, compressor: 9104, indexer: 9105, 'live-receiver': 9106 };

describe('metricNamesIn', () => {
  it('finds metric names and skips functions, label values, groupings, ranges and variables', () => {
    expect(metricNamesIn('sum by (input) (rate(harvester_input_received_events_total{env=~"$env", job="x_y"}[$__rate_interval]))')).toEqual(['harvester_input_received_events_total']);
    expect(metricNamesIn('time() - max(compressor_sealed_window_end_seconds{env=~"$env"})')).toEqual(['compressor_sealed_window_end_seconds']);
    expect(metricNamesIn('histogram_quantile(0.95, sum by (le) (rate(a_seconds_bucket[5m])))')).toEqual(['a_seconds_bucket']);
    expect(metricNamesIn('up{job=~"backlog-.*"} == 0 or on(instance) b_total offset 5m')).toEqual(['up', 'b_total']);
  });

  it('maps names to apps by prefix; histogram series count as their family', () => {
    expect(appOfMetric('nacl_gateway_rejected_total')).toBe('nacl-gateway');
    expect(appOfMetric('live_receiver_clients')).toBe('live-receiver');
    expect(appOfMetric('up')).toBeUndefined();
    const names = exposedMetricNames('# HELP x_seconds h\n# TYPE x_seconds histogram\nx_seconds_bucket{le="1"} 0\n# TYPE y_total counter\n');
    expect([...names].sort()).toEqual(['x_seconds', 'x_seconds_bucket', 'x_seconds_count', 'x_seconds_sum', 'y_total']);
  });
});

describe('deploy/grafana/dashboards/backlog.json', () => {
  const panels = allPanels(dashboard);
  const visual = panels.filter((p) => p.type !== 'row');

  it('is a dashboard Grafana can provision: uid, title, schema version, unique panel ids', () => {
    expect(dashboard.uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const ids = panels.map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const cells = new Set<string>();
    for (const p of panels) {
      const g = p.gridPos;
      expect(g, p.title).toBeDefined();
      if (!g) continue;
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      expect(g.w > 0 && g.h > 0, p.title).toBe(true);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });

  it('queries Prometheus through the ${datasource} variable, filters on $env, and every panel says what it shows', () => {
    const vars = dashboard.templating?.list ?? [];
    expect(vars.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(vars.find((v) => v.name === 'env')?.type).toBe('query');
    for (const p of visual) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.description?.length ?? 0, `${p.title}: description`).toBeGreaterThan(20);
      expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
      const refs = (p.targets ?? []).map((t) => t.refId);
      expect(new Set(refs).size, p.title).toBe(refs.length);
    }
    for (const q of dashboardQueries(dashboard)) {
      for (const name of metricNamesIn(q.expr)) if (!PROMETHEUS_SYNTHETIC.has(name)) expect(q.expr, `${q.panel}: ${name} not filtered on env`).toContain(`${name}{env=~"$env"`);
    }
  });

  it('has balanced brackets in every query and names only metrics of our apps (or up)', () => {
    for (const q of dashboardQueries(dashboard)) {
      const stack: string[] = [];
      const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
      for (const c of q.expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
        if ('({['.includes(c)) stack.push(c);
        else if (c in pairs) expect(stack.pop(), `${q.panel}: ${q.expr}`).toBe(pairs[c]);
      }
      expect(stack, `${q.panel}: ${q.expr}`).toEqual([]);
      for (const name of metricNamesIn(q.expr)) expect(Boolean(appOfMetric(name) || PROMETHEUS_SYNTHETIC.has(name)), `${q.panel}: ${name}`).toBe(true);
      // Counters are read as rates, never as raw totals.
      for (const name of metricNamesIn(q.expr).filter((n) => n.endsWith('_total') || n.endsWith('_bucket'))) expect(q.expr, `${q.panel}: ${name}`).toMatch(new RegExp(`(rate|increase)\\(${name}`));
    }
  });

  it('covers what operators asked for: ingest rate, lag per consumer group, drops by reason, spool bytes, archive lag, rehydration jobs', () => {
    const exprs = dashboardQueries(dashboard).map((q) => q.expr);
    const has = (re: RegExp) => exprs.some((e) => re.test(e));
    expect(has(/rate\(harvester_input_received_events_total/)).toBe(true);
    expect(has(/es_consumer_group_lag/) && has(/compressor_committed_lag/)).toBe(true);
    expect(exprs.filter((e) => /by \(reason\)/.test(e) && /_dropped_/.test(e)).length).toBeGreaterThanOrEqual(4);
    expect(has(/harvester_spool_bytes/)).toBe(true);
    expect(has(/time\(\) - max\(compressor_sealed_window_end_seconds/)).toBe(true);
    expect(has(/indexer_jobs_active/) && has(/indexer_jobs_finished_total/)).toBe(true);
    // Every app contributes at least one metric.
    const byApp = dashboardMetricsByApp(dashboard);
    for (const app of APP_NAMES) expect(byApp[app].length, app).toBeGreaterThan(0);
  });
});

describe('deploy/prometheus', () => {
  interface Job {
    job_name: string;
    static_configs?: { targets: string[]; labels?: Record<string, string> }[];
    kubernetes_sd_configs?: { role: string }[];
    relabel_configs?: { source_labels?: string[]; action?: string; regex?: string; target_label?: string; replacement?: string }[];
  }
  const jobsOf = (rel: string) => (yaml(rel).scrape_configs as Job[]) ?? [];

  for (const [file, host] of [
    ['deploy/prometheus/prometheus.yml', (app: string) => app],
    ['deploy/prometheus/prometheus.local.yml', () => '127.0.0.1'],
  ] as const) {
    it(`${file}: one job backlog-<app> per app, at DESIGN.md's metrics port, labelled with env`, () => {
      const cfg = yaml(file) as { global?: { scrape_interval?: string } };
      expect(cfg.global?.scrape_interval).toMatch(/^\d+[smh]$/);
      const jobs = jobsOf(file);
      expect(jobs.map((j) => j.job_name).sort()).toEqual(APP_NAMES.map((a) => `backlog-${a}`).sort());
      for (const app of APP_NAMES) {
        const job = jobs.find((j) => j.job_name === `backlog-${app}`) as Job;
        const targets = (job.static_configs ?? []).flatMap((s) => s.targets);
        expect(targets, app).toContain(`${host(app)}:${METRICS_PORT[app]}`);
        for (const s of job.static_configs ?? []) expect(s.labels?.env, app).toMatch(/^[a-z0-9][a-z0-9_-]*$/);
      }
      // The dashboard's `up{job=~"backlog-.*"}` selects exactly these jobs.
      for (const j of jobs) expect(j.job_name).toMatch(/^backlog-.*$/);
    });
  }

  it('deploy/prometheus/prometheus-k8s.yml: discovers annotated backlog pods and names jobs and env as the dashboard expects', () => {
    const [job] = jobsOf('deploy/prometheus/prometheus-k8s.yml');
    expect(job?.kubernetes_sd_configs?.[0]?.role).toBe('pod');
    const rules = job?.relabel_configs ?? [];
    expect(rules.find((r) => r.source_labels?.[0] === '__meta_kubernetes_pod_annotation_prometheus_io_scrape')).toMatchObject({ action: 'keep', regex: 'true' });
    expect(rules.find((r) => r.target_label === 'job')).toMatchObject({ source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name'], replacement: 'backlog-$1' });
    expect(rules.find((r) => r.target_label === 'env')?.source_labels).toEqual(['__meta_kubernetes_pod_label_backlog_dev_env']);
    const port = rules.find((r) => r.target_label === '__address__');
    // The address rewrite keeps the pod IP and takes the annotated port.
    const re = new RegExp(`^${port?.regex}$`);
    expect('10.1.2.3:8080;9104'.replace(re, (port?.replacement ?? '').replace(/\$(\d)/g, '$$$1'))).toBe('10.1.2.3:9104');
    expect('10.1.2.3;9101'.replace(re, (port?.replacement ?? '').replace(/\$(\d)/g, '$$$1'))).toBe('10.1.2.3:9101');
  });
});

describe('deploy/grafana/provisioning', () => {
  it('points the data source at Prometheus with the scrape interval, and the dashboard provider at the mounted folder', () => {
    const ds = (yaml('deploy/grafana/provisioning/datasources/prometheus.yaml').datasources as { type: string; url: string; uid: string; jsonData?: { timeInterval?: string } }[])[0];
    expect(ds).toMatchObject({ type: 'prometheus', url: 'http://prometheus:9090' });
    expect(ds?.jsonData?.timeInterval).toBe((yaml('deploy/prometheus/prometheus.yml').global as { scrape_interval: string }).scrape_interval);
    const provider = (yaml('deploy/grafana/provisioning/dashboards/backlog.yaml').providers as { type: string; options: { path: string } }[])[0];
    expect(provider?.type).toBe('file');
    expect(provider?.options.path).toBe('/var/lib/grafana/dashboards/backlog');
  });
});

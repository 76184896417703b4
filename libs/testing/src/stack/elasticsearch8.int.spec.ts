// The stack's Elasticsearch 8 node (ADR 0017) as the real server it is: its version, loopback only, the
// modules it loads, the 8.x client's product check; what the modules that Maven Central does not serve
// would have given, checked absent here (the ADR's table, row by row); and a start failure reported in
// the stack's error catalogue like any other server's.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, errors } from '@elastic/elasticsearch';
import { afterAll, describe, expect, it } from 'vitest';
import { ES8_MODULES, type StackConfig, StackError, elasticsearch8Server, loadStackConfig, repoRoot, upOne } from '@backlog/platform-stack';
import { freePort } from '../helpers';
import { stackInfo, testNamespace } from '../test-context';

const url = stackInfo().elasticsearch?.url;
const pinned = /<artifactId>elasticsearch<\/artifactId><version>([^<]+)</.exec(readFileSync(join(repoRoot(), 'deploy/local/elasticsearch8/pom.xml'), 'utf8'))?.[1];

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; product: string | null; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, product: res.headers.get('x-elastic-product'), body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

describe.skipIf(!url)('local stack: the Elasticsearch 8 node', () => {
  // Every request below is refused, so nothing is created; the names are unique all the same.
  const ns = testNamespace('es8');

  it(`answers as Elasticsearch ${pinned} on loopback only, one node, with only the modules we load and a bounded heap`, async () => {
    const cfg = loadStackConfig();
    const r = await call(
      'GET',
      '/_nodes/_local?filter_path=nodes.*.version,nodes.*.build_flavor,nodes.*.http.bound_address,nodes.*.transport.bound_address,nodes.*.modules.name,nodes.*.plugins.name,nodes.*.jvm.mem.heap_max_in_bytes',
    );
    expect(r.status).toBe(200);
    expect(r.product).toBe('Elasticsearch');
    const nodes = Object.values(r.body.nodes as Record<string, Record<string, unknown>>);
    expect(nodes).toHaveLength(1);
    const node = nodes[0] as {
      version: string;
      build_flavor: string;
      http: { bound_address: string[] };
      transport: { bound_address: string[] };
      modules: { name: string }[];
      plugins?: { name: string }[];
      jvm: { mem: { heap_max_in_bytes: number } };
    };
    expect(node.version).toBe(pinned);
    expect(node.build_flavor).toBe('default');
    expect(node.http.bound_address).toEqual([`127.0.0.1:${cfg.es8.port}`]);
    expect(node.transport.bound_address).toEqual([`127.0.0.1:${cfg.es8.transportPort}`]);
    expect(node.modules.map((m) => m.name)).toEqual(ES8_MODULES.map((m) => m.name));
    expect(node.plugins ?? []).toEqual([]);
    expect(node.jvm.mem.heap_max_in_bytes).toBeLessThanOrEqual(cfg.es8.heapMb * 1024 * 1024);
  });

  it('passes the @elastic/elasticsearch 8 client product check (which the same client fails against OpenSearch)', async () => {
    const es = new Client({ node: url as string, maxRetries: 0 });
    const os = new Client({ node: stackInfo().search.url, maxRetries: 0 });
    try {
      const health = await es.cluster.health();
      expect(health.number_of_nodes).toBe(1);
      expect(['green', 'yellow']).toContain(health.status);
      await expect(os.cluster.health()).rejects.toBeInstanceOf(errors.ProductNotSupportedError);
    } finally {
      await es.close();
      await os.close();
    }
  });

  // One row per module of the distribution that Central does not serve (ADR 0017, "What is missing"): what it
  // would have given answers as absent. When a row fails, Central serves more than it did: update the ADR.
  const absent: { module: string; what: string; method: string; path: () => string; body?: unknown; status: number; says: RegExp }[] = [
    { module: 'rest-root', what: 'GET /', method: 'GET', path: () => '/', status: 405, says: /Incorrect HTTP method for uri \[\/\]/ },
    ...['scaled_float', 'match_only_text', 'search_as_you_type', 'rank_feature', 'token_count'].map((type) => ({
      module: 'mapper-extras',
      what: `the ${type} field type`,
      method: 'PUT',
      path: () => `/${ns}-${type.replace(/_/g, '')}`,
      body: { mappings: { properties: { f: { type, ...(type === 'scaled_float' ? { scaling_factor: 10 } : type === 'token_count' ? { analyzer: 'standard' } : {}) } } } },
      status: 400,
      says: new RegExp(`The mapper type \\[${type}\\] declared on field \\[f\\] does not exist`),
    })),
    ...['wildcard', 'constant_keyword', 'unsigned_long', 'version'].map((type) => ({
      module: `x-pack ${type === 'version' ? 'version-field' : type.replace('_', '-')}`,
      what: `the ${type} field type`,
      method: 'PUT',
      path: () => `/${ns}-${type.replace(/_/g, '')}`,
      body: { mappings: { properties: { f: { type } } } },
      status: 400,
      says: new RegExp(`The mapper type \\[${type}\\] declared on field \\[f\\] does not exist`),
    })),
    {
      module: 'lang-painless',
      what: 'painless scripts',
      method: 'PUT',
      path: () => `/_scripts/${ns}`,
      body: { script: { lang: 'painless', source: '1' } },
      status: 400,
      says: /unsupported lang \[painless\]/,
    },
    {
      module: 'aggregations',
      what: 'auto_date_histogram',
      method: 'POST',
      path: () => '/_search',
      body: { size: 0, aggs: { a: { auto_date_histogram: { field: '@timestamp' } } } },
      status: 400,
      says: /auto_date_histogram/,
    },
    {
      module: 'analysis-common',
      what: 'the pattern analyzer',
      method: 'POST',
      path: () => '/_analyze',
      body: { analyzer: 'pattern', text: 'a b' },
      status: 400,
      says: /failed to find global analyzer \[pattern\]/,
    },
    { module: 'data-streams', what: 'the data stream API', method: 'GET', path: () => '/_data_stream', status: 400, says: /Invalid index name \[_data_stream\]/ },
    { module: 'reindex', what: '_delete_by_query', method: 'POST', path: () => `/${ns}-none/_delete_by_query`, body: { query: { match_all: {} } }, status: 400, says: /no handler found/ },
    {
      module: 'ingest-common',
      what: 'the set processor',
      method: 'PUT',
      path: () => `/_ingest/pipeline/${ns}`,
      body: { processors: [{ set: { field: 'x', value: 1 } }] },
      status: 400,
      says: /No processor type exists with name \[set\]/,
    },
    { module: 'x-pack ilm', what: 'index lifecycle policies', method: 'GET', path: () => '/_ilm/policy', status: 405, says: /Incorrect HTTP method for uri \[\/_ilm\/policy\]/ },
    {
      module: 'x-pack stack',
      what: 'the built-in logs template (logs-*-*, priority 100)',
      method: 'GET',
      path: () => '/_index_template/logs',
      status: 404,
      says: /index template matching \[logs\] not found/,
    },
  ];

  it.each(absent)('without $module (not on Central): no $what', async (row) => {
    const r = await call(row.method, row.path(), row.body);
    expect(r.product).toBe('Elasticsearch');
    expect(r.status).toBe(row.status);
    expect(JSON.stringify(r.body)).toMatch(row.says);
  });
});

describe.skipIf(!url)('local stack: an Elasticsearch 8 node that cannot start', () => {
  let blocker: Server | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('fails with START_FAILED and the cause at the end of the quoted log (its transport port is taken)', async () => {
    const base = loadStackConfig();
    dir = mkdtempSync(join(tmpdir(), 'backlog-es8-fail-'));
    // The jars are in ~/.m2 already: reuse the stack's resolved class paths, no Maven run.
    for (const rel of ['elasticsearch8/classpath.txt', ...ES8_MODULES.map((m) => `elasticsearch8/modules/${m.name}/classpath.txt`)]) {
      if (!existsSync(join(base.dir, rel))) continue;
      mkdirSync(join(dir, rel, '..'), { recursive: true });
      copyFileSync(join(base.dir, rel), join(dir, rel));
    }
    const taken = createServer((s) => s.destroy());
    blocker = taken;
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const transportPort = (taken.address() as { port: number }).port;
    const cfg: StackConfig = { ...base, dir, es8: { enabled: true, port: await freePort(), transportPort, heapMb: 256 }, startTimeoutS: 240 };
    const err = await upOne(elasticsearch8Server(cfg), cfg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StackError);
    expect(err).toMatchObject({ code: 'START_FAILED', server: 'elasticsearch8' });
    expect((err as StackError).message).toMatch(new RegExp(`backlog-elasticsearch8: FAILED to start: .*(BindTransportException|Address already in use).*\\n?`));
    expect((err as StackError).message).toContain(`${transportPort}`);
    // The pid file is gone with the process: nothing of it is left to stop.
    expect(existsSync(join(dir, 'elasticsearch8', 'elasticsearch8.pid'))).toBe(false);
  }, 300_000);
});

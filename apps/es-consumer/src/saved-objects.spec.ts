// Kibana and OpenSearch Dashboards cannot run here, so their saved objects (deploy/kibana,
// deploy/opensearch-dashboards) are checked against the index template instead: structure, ids,
// references, and every field they name (columns, sort, query, time field) must exist in the mapping.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freeFormObjectMapping, type Json } from '@backlog/adapter-search';
import { fieldMapping, logsProperties } from '@backlog/adapter-search';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const FLAVOURS = [
  { dir: 'deploy/kibana', engine: 'elasticsearch' as const },
  { dir: 'deploy/opensearch-dashboards', engine: 'opensearch' as const },
];

interface SavedObject {
  type: string;
  id: string;
  attributes: Json;
  references: Array<{ name: string; type: string; id: string }>;
}

const load = (dir: string, env = 'dev'): SavedObject[] =>
  readFileSync(join(ROOT, dir, 'saved-objects.ndjson'), 'utf8')
    .replace(/__ENV__/g, env)
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as SavedObject);

/** Field names a KQL/DQL query uses (`field:value`, `field:(a or b)`). */
const kqlFields = (q: string) => [...q.matchAll(/([A-Za-z_@][\w.@]*)\s*:/g)].map((m) => m[1] as string);

describe.each(FLAVOURS)('$dir saved objects', ({ dir, engine }) => {
  const objects = load(dir);
  const props = logsProperties(freeFormObjectMapping(engine));
  const byId = new Map(objects.map((o) => [o.id, o]));

  it('has the data views and saved searches the issue asks for, with unique ids', () => {
    expect(byId.size).toBe(objects.length);
    const titles = objects.filter((o) => o.type === 'index-pattern').map((o) => o.attributes.title);
    expect(titles).toEqual(expect.arrayContaining(['logs-dev-recent-*', 'logs-dev-history-*']));
    expect(objects.some((o) => o.type === 'search' && /errors/.test(String(o.attributes.title)))).toBe(true);
    for (const o of objects) {
      expect(['index-pattern', 'search']).toContain(o.type);
      expect(o.id).toMatch(/^backlog-dev-[a-z-]+$/);
      expect(Array.isArray(o.references)).toBe(true);
    }
  });

  it('index patterns match the index names of DESIGN.md and use a date time field of the template', () => {
    for (const o of objects.filter((x) => x.type === 'index-pattern')) {
      expect(String(o.attributes.title)).toMatch(/^logs-dev-(recent-\*|history-\*|dlq)$/);
      expect(fieldMapping(props, String(o.attributes.timeFieldName))?.type).toBe('date');
    }
  });

  it('saved searches reference an index pattern of the file and name only fields of the template', () => {
    for (const o of objects.filter((x) => x.type === 'search')) {
      const source = JSON.parse(String((o.attributes.kibanaSavedObjectMeta as Json).searchSourceJSON)) as { query: { query: string; language: string }; indexRefName: string };
      expect(source.query.language).toBe('kuery');
      const ref = o.references.find((r) => r.name === source.indexRefName);
      expect(ref?.type).toBe('index-pattern');
      expect(byId.get(ref?.id ?? '')?.type).toBe('index-pattern');
      const fields = [...(o.attributes.columns as string[]), ...(o.attributes.sort as string[][]).map((s) => s[0] as string), ...kqlFields(source.query.query)];
      expect(fields.length).toBeGreaterThan(2);
      for (const f of fields) expect(fieldMapping(props, f), `${o.id}: field ${f}`).toBeDefined();
    }
  });
});

it('Kibana and OpenSearch Dashboards ship the same objects', () => {
  const ids = (dir: string) =>
    load(dir)
      .map((o) => `${o.type}:${o.id}`)
      .sort();
  expect(ids('deploy/kibana')).toEqual(ids('deploy/opensearch-dashboards'));
});

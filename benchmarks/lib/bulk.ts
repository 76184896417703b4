// The raw `_bulk` baseline the search benchmarks compare against: documents posted as they are, each
// `create`d under its event id, `workers` requests in flight, every item checked.

/** Posts `docs` to `<url>/_bulk` in chunks of `bulkDocs` with `workers` requests in flight; returns the seconds taken. */
export async function rawBulk(url: string, docs: readonly Record<string, unknown>[], opts: { index: (d: Record<string, unknown>) => string; bulkDocs: number; workers: number }): Promise<number> {
  const base = url.replace(/\/+$/, '');
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < docs.length) {
      const chunk = docs.slice(next, (next += opts.bulkDocs));
      let body = '';
      for (const d of chunk) body += `${JSON.stringify({ create: { _index: opts.index(d), _id: (d.event as { id: string }).id } })}\n${JSON.stringify(d)}\n`;
      const res = await fetch(`${base}/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
      const out = (await res.json()) as { errors: boolean };
      if (!res.ok || out.errors) throw new Error(`baseline bulk failed: HTTP ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: opts.workers }, worker));
  return (performance.now() - t0) / 1000;
}

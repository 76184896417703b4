// backlog archive verify tells a window nothing was sent in (idle) from one whose part was lost
// (missing): the real compressor archives h-<env> records of two windows with a quiet window between
// them, then the CLI runs as a child process against the same Kafka and S3 server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka } from '@backlog/adapter-kafka';
import { type BatchEvent, encodeBatch, harvestTopic, windowId, windowOf, windowStartMs } from '@backlog/core-codec';
import { stackInfo, testNamespace, waitFor } from '@backlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Rec, eventId, exited, manifests, produce, startCompressor } from '../compressor/helpers';
import { deletePrefix, runCli, s3Of } from './helpers';

const W0 = windowOf(Date.parse('2026-10-05T12:00:00Z'));

/** One 30-s batch per host through windows W0 and W0+2; W0+1 and W0+3 get nothing. */
function records(): Rec[] {
  const out: Rec[] = [];
  let n = 0;
  for (const w of [W0, W0 + 2]) {
    for (let t = windowStartMs(w); t < windowStartMs(w + 1); t += 30_000) {
      for (const host of ['web-0', 'web-1', 'web-2']) {
        const events: BatchEvent[] = Array.from({ length: 20 }, (_, i) => ({
          '@timestamp': new Date(t + i * 1000).toISOString(),
          event: { id: eventId(t + i * 1000, n++) },
          host: { name: host },
          message: `request ${i}`,
          labels: { env: 'test', input: 'file' },
        }));
        const b = encodeBatch(events, { host, batchId: `b-${out.length}` });
        out.push({ key: b.key, value: b.value, headers: { ...b.headers } });
      }
    }
  }
  return out;
}

interface Report {
  ok: boolean;
  counts: Record<string, number>;
  missingWindows: string[];
  windowStates: Array<{ window: string; state: string; parts: number; lost?: string[] }>;
  problems: Array<{ code: string; key: string }>;
}

describe('backlog archive verify: idle windows and lost parts', () => {
  const info = stackInfo();
  const env = testNamespace('verwin');
  const s3 = s3Of(info);
  const cwd = mkdtempSync(join(tmpdir(), 'backlog-verify-windows-'));
  const range = ['--from', new Date(windowStartMs(W0)).toISOString(), '--to', new Date(windowStartMs(W0 + 4)).toISOString()];
  const verify = async (): Promise<{ code: number | null; report: Report; stderr: string }> => {
    const r = await runCli(info, ['archive', 'verify', '--env', env, ...range, '--json'], { cwd }).done;
    return { code: r.code, report: JSON.parse(r.stdout.trim()) as Report, stderr: r.stderr };
  };
  const stateOf = (r: Report) => Object.fromEntries(r.windowStates.map((w) => [w.window, w.state]));

  beforeAll(async () => {
    const recs = records();
    await produce(info, env, recs, 2);
    const c = startCompressor(info, env);
    try {
      await c.ready;
      // Archived and caught up: the compressor's committed offsets reached the end of h-<env>.
      const kafka = createKafka({ brokers: info.kafka.brokers, clientId: `test-${env}` });
      const admin = kafka.admin();
      await admin.connect();
      try {
        await waitFor(
          'compressor caught up',
          async () => {
            const ends = await admin.topicOffsets(harvestTopic(env));
            const got = new Map((await admin.groupOffsets(`compressor-${env}`, harvestTopic(env))).map((p) => [p.partition, p.offset]));
            return ends.every((p) => got.get(p.partition) === p.high) || undefined;
          },
          90_000,
          250,
        );
      } finally {
        await admin.disconnect();
      }
    } finally {
      c.child.kill('SIGTERM');
      await exited(c.child);
    }
  }, 180_000);

  afterAll(async () => {
    await deletePrefix(s3, `${env}/`);
    s3.close();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('a healthy archive with quiet windows verifies ok and lists them as idle', async () => {
    const { code, report, stderr } = await verify();
    expect(stderr).not.toMatch(/warning/);
    expect(stateOf(report)).toEqual({ [windowId(W0)]: 'present', [windowId(W0 + 1)]: 'idle', [windowId(W0 + 2)]: 'present', [windowId(W0 + 3)]: 'idle' });
    expect(report.counts).toMatchObject({ present: 2, idle: 2, missing: 0, open: 0, unknown: 0 });
    expect(report.missingWindows).toEqual([]);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(code).toBe(0);
  });

  it('a part deleted from S3 (object and manifest) is reported missing and fails', async () => {
    const ms = (await manifests(s3, env)).filter((x) => x.m.window === windowId(W0 + 2));
    expect(ms.length).toBeGreaterThanOrEqual(1);
    const gone = ms[0] as (typeof ms)[number];
    await s3.delete(gone.key);
    await s3.delete(gone.key.replace(/\.json$/, '.log.bz2'));
    const { code, report } = await verify();
    expect(stateOf(report)[windowId(W0 + 2)]).toBe('missing');
    expect(stateOf(report)[windowId(W0 + 1)]).toBe('idle');
    expect(report.missingWindows).toEqual([windowId(W0 + 2)]);
    const w2 = report.windowStates.find((w) => w.window === windowId(W0 + 2));
    expect(w2?.lost).toEqual([`${windowId(W0 + 2)}/p${gone.m.partition}-${gone.m.firstOffset}`]);
    expect(report.problems).toContainEqual(expect.objectContaining({ code: 'MISSING_PART', key: gone.key.replace(/\.json$/, '.log.bz2') }));
    expect(report.ok).toBe(false);
    expect(code).toBe(1);
  });
});

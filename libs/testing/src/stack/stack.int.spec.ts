import { createServer, type Server } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StackError, kafkaServer, loadStackConfig, stackStatus, stackUp, upOne } from '@backlog/platform-stack';
import { stackInfo } from '../test-context';

describe('local stack', () => {
  it('reports every server running and healthy', async () => {
    const rows = await stackStatus();
    expect(rows.map((r) => [r.name, r.state])).toEqual([
      ['kafka', 'running'],
      ['opensearch', 'running'],
      ...(loadStackConfig().es8.enabled ? [['elasticsearch8', 'running']] : []),
      ['s3proxy', 'running'],
      ['redis', 'running'],
    ]);
  });

  it('`up` a second time reuses what runs and starts nothing', async () => {
    const res = await stackUp();
    expect(res.started).toEqual([]);
    expect(res.servers.every((s) => s.action === 'reused')).toBe(true);
    expect(res.info).toEqual(stackInfo());
  });

  it('the search engine answers as OpenSearch 2.19 on loopback', async () => {
    const body = (await (await fetch(stackInfo().search.url)).json()) as { version: { distribution: string; number: string } };
    expect(body.version.distribution).toBe('opensearch');
    expect(body.version.number).toMatch(/^2\.19\./);
  });

  describe('a port taken by something else', () => {
    let blocker: Server;
    afterAll(() => new Promise<void>((r) => blocker.close(() => r())));

    it('fails with PORT_IN_USE naming the server, and starts nothing', async () => {
      blocker = createServer((sock) => sock.destroy());
      await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
      const port = (blocker.address() as { port: number }).port;
      const cfg = { ...loadStackConfig(), dir: mkdtempSync(join(tmpdir(), 'backlog-stack-')) };
      cfg.kafka = { ...cfg.kafka, port };
      const err = await upOne(kafkaServer(cfg), cfg).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StackError);
      expect((err as StackError).code).toBe('PORT_IN_USE');
      expect((err as StackError).message).toMatch(new RegExp(`^kafka: port ${port} is in use`));
    });
  });
});

import type { Command } from 'commander';
import { type ServerReport, stackDown, stackStatus, stackUp } from '@backlog/platform-stack';

const say = (line: string) => process.stdout.write(`${line}\n`);

function printStatus(rows: ServerReport[], json: boolean): void {
  if (json) {
    say(JSON.stringify(rows));
    return;
  }
  for (const r of rows) {
    const owner = r.owner === 'external' ? 'not started by backlog' : r.pid ? `pid ${r.pid}` : '';
    say(`${r.name.padEnd(14)} ${r.state.padEnd(9)} ${r.endpoint.padEnd(24)} ${owner}`);
  }
}

/** `backlog stack up|down|status`: the real local servers (Kafka, OpenSearch, Elasticsearch 8, S3 server, Redis) on loopback. */
export function registerStack(program: Command): void {
  const stack = program.command('stack').description('run the local Kafka, search engines (OpenSearch, Elasticsearch 8), S3 server and Redis (no Docker)');
  stack
    .command('up')
    .description('start (or reuse) every server and wait until all are healthy')
    .action(async () => {
      const t0 = Date.now();
      const res = await stackUp({ say });
      say(`stack ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      say(`  Kafka:          ${res.info.kafka.brokers.join(',')}`);
      say(`  Search (${res.info.search.engine}): ${res.info.search.url}`);
      if (res.info.elasticsearch) say(`  Elasticsearch 8: ${res.info.elasticsearch.url}`);
      say(`  S3:             ${res.info.s3.endpoint} bucket ${res.info.s3.bucket} (key ${res.info.s3.accessKeyId})`);
      say(`  Redis:          ${res.info.redis.url}`);
    });
  stack
    .command('down')
    .description('stop the servers that `stack up` started (others are left alone)')
    .action(async () => {
      await stackDown({ say });
    });
  stack
    .command('status')
    .description('show each server: running, stopped or unhealthy, and who started it')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const rows = await stackStatus();
      printStatus(rows, Boolean(opts.json));
      if (rows.some((r) => r.state !== 'running')) process.exitCode = 3;
    });
}

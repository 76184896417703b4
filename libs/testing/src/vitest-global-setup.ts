// Brings the real local stack up once per test run (reusing servers already up, e.g. from `npm start`)
// and stops again only what this run started, unless BACKLOG_KEEP_STACK=1.
import type { TestProject } from 'vitest/node';
import { stackDown, stackUp } from '@backlog/platform-stack';

export default async function setup(project: TestProject) {
  const t0 = Date.now();
  const say = (line: string) => process.stderr.write(`[stack] ${line}\n`);
  const res = await stackUp({ say });
  say(`ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  const es8 = process.env.BACKLOG_TEST_ES_URL || res.info.elasticsearch?.url;
  if (es8) say(`Elasticsearch 8 engine exercised too: ${es8}${process.env.BACKLOG_TEST_ES_URL ? ' (BACKLOG_TEST_ES_URL)' : " (the stack's node)"}`);
  else say('Elasticsearch 8 engine NOT exercised in this run (BACKLOG_ES8=off and no BACKLOG_TEST_ES_URL)');
  project.provide('backlogStack', res.info);
  return async () => {
    if (process.env.BACKLOG_KEEP_STACK === '1' || res.started.length === 0) return;
    await stackDown({ say, only: res.started });
  };
}

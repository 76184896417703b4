import { loadStackConfig, s3Server, stopPid, upOne } from '@backlog/testing';
import { freePort } from './helpers';

/**
 * A second S3Proxy, ours alone, on a free port with its own data dir: a test may stop it (the shared
 * one serves every other test). Stop/start keep the data dir, like a real outage.
 */
export async function startPrivateS3(dir: string): Promise<{ endpoint: string; start(): Promise<void>; stop(): Promise<void> }> {
  const base = loadStackConfig();
  const cfg = { ...base, dir, s3: { ...base.s3, port: await freePort() } };
  const server = s3Server(cfg);
  let pid: number | undefined;
  const start = async () => {
    pid = (await upOne(server, cfg)).pid;
  };
  await start();
  return {
    endpoint: server.endpoint,
    start,
    async stop() {
      if (pid !== undefined) await stopPid(pid, 10_000);
      pid = undefined;
    },
  };
}

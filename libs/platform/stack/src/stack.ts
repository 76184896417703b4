import { mkdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { type StackConfig, type StackInfo, loadStackConfig, stackInfoFromConfig } from './config';
import { StackError, alive, ours, portOpen, removeFile, stopPid, tail } from './proc';
import { elasticsearch8Server } from './elasticsearch8';
import { type LocalServer, kafkaServer, redisServer, s3Server, searchServer } from './servers';

export type Owner = 'backlog' | 'external';

export interface ServerReport {
  name: string;
  endpoint: string;
  state: 'running' | 'stopped' | 'unhealthy';
  owner?: Owner;
  pid?: number;
  /** What `up` did: reused a healthy server or started one. */
  action?: 'reused' | 'started';
  seconds?: number;
  logFile: string;
}

export interface UpResult {
  info: StackInfo;
  servers: ServerReport[];
  /** Names of the servers this call started (the ones a test run should stop again). */
  started: string[];
}

type Say = (line: string) => void;
const quiet: Say = () => undefined;

/** The servers of the stack, in the order `status` lists them. */
export function allServers(cfg: StackConfig): LocalServer[] {
  return [kafkaServer(cfg), searchServer(cfg), ...(cfg.es8.enabled ? [elasticsearch8Server(cfg)] : []), s3Server(cfg), redisServer(cfg)];
}

function pidOf(s: LocalServer): number | undefined {
  return ours(s.pidFile);
}

async function waitHealthy(s: LocalServer, cfg: StackConfig, pid: number | undefined, t0: number): Promise<void> {
  const deadline = t0 + cfg.startTimeoutS * 1000;
  while (Date.now() < deadline) {
    if (await s.healthy()) return;
    if (pid !== undefined && !alive(pid)) {
      removeFile(s.pidFile);
      throw new StackError('START_FAILED', s.name, `process ${pid} exited during start-up. Last log lines:\n${tail(s.logFile)}`, s.logFile);
    }
    await sleep(500);
  }
  throw new StackError('TIMEOUT', s.name, `not healthy after ${cfg.startTimeoutS}s (raise BACKLOG_STACK_START_TIMEOUT_S). Last log lines:\n${tail(s.logFile)}`, s.logFile);
}

/** Brings one server up (or reuses it). Exported for tests of the failure paths. */
export async function upOne(s: LocalServer, cfg: StackConfig, say: Say = quiet): Promise<ServerReport> {
  const t0 = Date.now();
  const report: ServerReport = { name: s.name, endpoint: s.endpoint, state: 'running', logFile: s.logFile };
  const mine = pidOf(s);
  if (await s.healthy()) {
    Object.assign(report, { owner: mine ? 'backlog' : 'external', pid: mine, action: 'reused' });
  } else if (mine) {
    // Ours and still starting (a parallel `up`, or a slow start): wait for it instead of starting twice.
    await waitHealthy(s, cfg, mine, t0);
    Object.assign(report, { owner: 'backlog', pid: mine, action: 'reused' });
  } else {
    if (await portOpen(s.port)) {
      throw new StackError('PORT_IN_USE', s.name, `port ${s.port} is in use by another process that is not a healthy ${s.name}; stop it or choose another port (see README, "Local stack")`);
    }
    mkdirSync(s.dir, { recursive: true });
    const pid = await s.start(say);
    await waitHealthy(s, cfg, pid, t0);
    Object.assign(report, { owner: 'backlog', pid, action: 'started' });
  }
  await s.afterReady?.();
  report.seconds = (Date.now() - t0) / 1000;
  say(
    `${s.name.padEnd(14)} ${report.action === 'started' ? 'started' : 'reused '} in ${report.seconds.toFixed(1).padStart(5)}s  ${s.endpoint}${report.pid ? `  (pid ${report.pid})` : report.owner === 'external' ? '  (not ours)' : ''}`,
  );
  return report;
}

/** Brings every server up (in parallel), reusing healthy ones. Fails with every server's problem listed. */
export async function stackUp(opts: { say?: Say; config?: StackConfig } = {}): Promise<UpResult> {
  const cfg = opts.config ?? loadStackConfig();
  const say = opts.say ?? quiet;
  mkdirSync(cfg.dir, { recursive: true });
  const servers = allServers(cfg);
  const results = await Promise.allSettled(servers.map((s) => upOne(s, cfg, say)));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failures.length) {
    const err = new Error(`local stack did not come up:\n${failures.map((f) => `- ${f.message}`).join('\n')}`);
    (err as Error & { failures: Error[] }).failures = failures;
    throw err;
  }
  const reports = results.map((r) => (r as PromiseFulfilledResult<ServerReport>).value);
  return { info: stackInfoFromConfig(cfg), servers: reports, started: reports.filter((r) => r.action === 'started').map((r) => r.name) };
}

/** Stops what `up` started (pid files whose process is still ours). Servers we did not start are left alone. */
export async function stackDown(opts: { say?: Say; config?: StackConfig; only?: string[] } = {}): Promise<ServerReport[]> {
  const cfg = opts.config ?? loadStackConfig();
  const say = opts.say ?? quiet;
  const servers = allServers(cfg).filter((s) => !opts.only || opts.only.includes(s.name));
  // Kafka last-but-not-least: stop in parallel, each with its own deadline.
  return Promise.all(
    servers.map(async (s) => {
      const pid = pidOf(s);
      if (pid === undefined) {
        removeFile(s.pidFile);
        const external = await s.healthy();
        say(`${s.name.padEnd(14)} ${external ? 'left running (not started by backlog)' : 'not running'}`);
        return { name: s.name, endpoint: s.endpoint, state: external ? 'running' : 'stopped', owner: external ? 'external' : undefined, logFile: s.logFile } as ServerReport;
      }
      const t0 = Date.now();
      const how = await stopPid(pid, s.stopTimeoutS * 1000);
      removeFile(s.pidFile);
      say(`${s.name.padEnd(14)} ${how === 'killed' ? 'killed after timeout' : 'stopped'} in ${((Date.now() - t0) / 1000).toFixed(1)}s (pid ${pid})`);
      return { name: s.name, endpoint: s.endpoint, state: 'stopped', pid, seconds: (Date.now() - t0) / 1000, logFile: s.logFile } as ServerReport;
    }),
  );
}

export async function stackStatus(opts: { config?: StackConfig } = {}): Promise<ServerReport[]> {
  const cfg = opts.config ?? loadStackConfig();
  return Promise.all(
    allServers(cfg).map(async (s) => {
      const pid = pidOf(s);
      const healthy = await s.healthy();
      const state: ServerReport['state'] = healthy ? 'running' : pid ? 'unhealthy' : 'stopped';
      return { name: s.name, endpoint: s.endpoint, state, owner: pid ? 'backlog' : healthy ? 'external' : undefined, pid, logFile: s.logFile } as ServerReport;
    }),
  );
}

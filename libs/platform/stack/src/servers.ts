import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Kafka, logLevel } from 'kafkajs';
import type { StackConfig } from './config';
import { resolveClasspath } from './maven';
import { StackError, commandExists, spawnDetached } from './proc';
import { spawnSync } from 'node:child_process';

/** One server of the local stack. The orchestration (reuse, wait, stop) lives in stack.ts. */
export interface LocalServer {
  readonly name: string;
  readonly port: number;
  readonly endpoint: string;
  readonly dir: string;
  readonly logFile: string;
  readonly pidFile: string;
  /** Cheap, bounded health probe through the server's real protocol. */
  healthy(): Promise<boolean>;
  /** Fetches what is missing and spawns the process; returns its pid. */
  start(say: (line: string) => void): Promise<number>;
  /** Work after the server is healthy (create the bucket, …). */
  afterReady?(): Promise<void>;
  /** Seconds `down` waits for a clean exit before SIGKILL. */
  readonly stopTimeoutS: number;
}

/** Checks that Java 17+ is there; returns its feature version (17, 21, 25, …), or undefined when `java -version` did not say. */
export function requireJava(server: string): number | undefined {
  if (!commandExists('java')) {
    throw new StackError('JAVA_MISSING', server, 'Java 17+ is not installed; run `bash scripts/prereqs.sh` (installs Debian package openjdk-17-jre-headless)');
  }
  const v = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const m = /version "(\d+)/.exec(`${v.stderr}${v.stdout}`);
  if (m && Number(m[1]) < 17) throw new StackError('JAVA_MISSING', server, `Java 17+ is required, found ${m[1]}`);
  return m ? Number(m[1]) : undefined;
}

export function jvmFlags(heapMb: number, tmp: string): string[] {
  return [`-Xms${Math.min(256, heapMb)}m`, `-Xmx${heapMb}m`, '-XX:+UseG1GC', '-XX:+ExitOnOutOfMemoryError', '-Djava.awt.headless=true', `-Djava.io.tmpdir=${tmp}`];
}

export function base(cfg: StackConfig, name: string, port: number) {
  const dir = join(cfg.dir, name);
  return { name, port, dir, logFile: join(dir, `${name}.log`), pidFile: join(dir, `${name}.pid`) };
}

/**
 * What a private test broker may add to the stack's single-node setup (the shared stack uses none):
 * more listeners (e.g. SASL_SSL), server properties for them, and SCRAM users written into the
 * metadata when the log dir is formatted (`kafka.tools.StorageTool format --add-scram`, KIP-900).
 * The PLAINTEXT listener stays: it carries inter-broker traffic and the health probe.
 */
export interface KafkaServerExtras {
  listeners?: ReadonlyArray<{ name: string; port: number; protocol: 'SSL' | 'SASL_SSL' | 'SASL_PLAINTEXT' }>;
  /** Extra server.properties lines, `key → value` (e.g. `listener.name.<name>.ssl.client.auth`). */
  properties?: Readonly<Record<string, string>>;
  scramUsers?: ReadonlyArray<{ mechanism: 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; name: string; password: string }>;
}

export function kafkaServer(cfg: StackConfig, extras: KafkaServerExtras = {}): LocalServer {
  const b = base(cfg, 'kafka', cfg.kafka.port);
  const more = extras.listeners ?? [];
  for (const l of more)
    if (!/^[A-Z][A-Z0-9_]*$/.test(l.name) || ['PLAINTEXT', 'CONTROLLER'].includes(l.name))
      throw new Error(`kafka listener name ${l.name}: expected an upper-case name other than PLAINTEXT/CONTROLLER`);
  const listenersOf = (ls: readonly { name: string; port: number }[]) => ls.map((l) => `${l.name}://${cfg.host}:${l.port}`);
  const dataDir = join(b.dir, 'data');
  const props = join(b.dir, 'server.properties');
  return {
    ...b,
    endpoint: `${cfg.host}:${cfg.kafka.port}`,
    stopTimeoutS: 60,
    async healthy() {
      // A listening socket is not enough: the broker must have joined its KRaft quorum and serve metadata.
      const admin = new Kafka({
        clientId: 'backlog-stack-probe',
        brokers: [`${cfg.host}:${cfg.kafka.port}`],
        logLevel: logLevel.NOTHING,
        connectionTimeout: 1000,
        requestTimeout: 2000,
        retry: { retries: 0 },
      }).admin();
      try {
        await admin.connect();
        await admin.listTopics();
        return true;
      } catch {
        return false;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
    async start(say) {
      requireJava('kafka');
      const cp = await resolveClasspath(cfg.root, cfg.dir, 'kafka', say);
      mkdirSync(join(b.dir, 'logs'), { recursive: true });
      mkdirSync(join(b.dir, 'tmp'), { recursive: true });
      // Single combined broker+controller in KRaft mode. Replication factors must be 1 on one node, or
      // consumer groups never find a coordinator. Topic auto-creation is off: backlog creates h-<env>/c-<env>.
      writeFileSync(
        props,
        [
          'process.roles=broker,controller',
          'node.id=1',
          `controller.quorum.voters=1@${cfg.host}:${cfg.kafka.controllerPort}`,
          `listeners=${[`PLAINTEXT://${cfg.host}:${cfg.kafka.port}`, `CONTROLLER://${cfg.host}:${cfg.kafka.controllerPort}`, ...listenersOf(more)].join(',')}`,
          `advertised.listeners=${[`PLAINTEXT://${cfg.host}:${cfg.kafka.port}`, ...listenersOf(more)].join(',')}`,
          'inter.broker.listener.name=PLAINTEXT',
          'controller.listener.names=CONTROLLER',
          `listener.security.protocol.map=${['CONTROLLER:PLAINTEXT', 'PLAINTEXT:PLAINTEXT', ...more.map((l) => `${l.name}:${l.protocol}`)].join(',')}`,
          `log.dirs=${dataDir}`,
          'num.partitions=1',
          'auto.create.topics.enable=false',
          'offsets.topic.replication.factor=1',
          'offsets.topic.num.partitions=8',
          'transaction.state.log.replication.factor=1',
          'transaction.state.log.min.isr=1',
          'transaction.state.log.num.partitions=4',
          'group.initial.rebalance.delay.ms=0',
          'log.retention.hours=168',
          'log.segment.bytes=268435456',
          ...Object.entries(extras.properties ?? {}).map(([k, v]) => `${k}=${v}`),
          '',
        ].join('\n'),
      );
      const log4j = join(b.dir, 'log4j.properties');
      writeFileSync(
        log4j,
        [
          'log4j.rootLogger=INFO, stdout',
          'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
          'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
          'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
          'log4j.logger.kafka=INFO',
          'log4j.logger.org.apache.kafka=INFO',
          '',
        ].join('\n'),
      );
      const java = [...jvmFlags(cfg.kafka.heapMb, join(b.dir, 'tmp')), `-Dlog4j.configuration=file:${log4j}`, `-Dkafka.logs.dir=${join(b.dir, 'logs')}`, '-cp', cp];
      if (!existsSync(join(dataDir, 'meta.properties'))) {
        // KRaft storage must be formatted once per log dir, or the broker refuses to start.
        const id = spawnSync('java', ['-Xmx256m', '-cp', cp, 'kafka.tools.StorageTool', 'random-uuid'], { encoding: 'utf8' });
        const clusterId = id.stdout.trim().split('\n').pop() ?? '';
        const fmt = spawnSync(
          'java',
          [
            '-Xmx256m',
            `-Dlog4j.configuration=file:${log4j}`,
            '-cp',
            cp,
            'kafka.tools.StorageTool',
            'format',
            '-t',
            clusterId,
            '-c',
            props,
            '--ignore-formatted',
            ...(extras.scramUsers ?? []).flatMap((u) => ['--add-scram', `${u.mechanism}=[name=${u.name},password=${u.password}]`]),
          ],
          { encoding: 'utf8' },
        );
        if (fmt.status !== 0) throw new StackError('START_FAILED', 'kafka', `storage format failed: ${fmt.stderr || fmt.stdout}`);
      }
      return spawnDetached('java', [...java, 'kafka.Kafka', props], { cwd: b.dir, logFile: b.logFile, pidFile: b.pidFile });
    },
  };
}

export function searchServer(cfg: StackConfig): LocalServer {
  const b = base(cfg, 'opensearch', cfg.search.port);
  const url = `http://${cfg.host}:${cfg.search.port}`;
  return {
    ...b,
    endpoint: url,
    stopTimeoutS: 30,
    async healthy() {
      try {
        const res = await fetch(`${url}/_cluster/health`, { signal: AbortSignal.timeout(2000) });
        if (!res.ok) return false;
        const body = (await res.json()) as { status?: string };
        return body.status === 'green' || body.status === 'yellow';
      } catch {
        return false;
      }
    },
    async start(say) {
      requireJava('opensearch');
      const cp = await resolveClasspath(cfg.root, cfg.dir, 'opensearch', say);
      mkdirSync(join(b.dir, 'tmp'), { recursive: true });
      const launcher = join(cfg.root, 'deploy', 'local', 'opensearch', 'BacklogOpenSearch.java');
      return spawnDetached(
        'java',
        [...jvmFlags(cfg.search.heapMb, join(b.dir, 'tmp')), '-cp', cp, launcher, join(b.dir, 'home'), String(cfg.search.port), String(cfg.search.transportPort), 'backlog-local'],
        { cwd: b.dir, logFile: b.logFile, pidFile: b.pidFile },
      );
    },
  };
}

export function s3Server(cfg: StackConfig): LocalServer {
  const b = base(cfg, 's3proxy', cfg.s3.port);
  const endpoint = `http://${cfg.host}:${cfg.s3.port}`;
  const client = () =>
    new S3Client({
      endpoint,
      region: cfg.s3.region,
      forcePathStyle: true,
      credentials: { accessKeyId: cfg.s3.accessKeyId, secretAccessKey: cfg.s3.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1,
    });
  return {
    ...b,
    endpoint,
    stopTimeoutS: 20,
    async healthy() {
      try {
        const res = await fetch(`${endpoint}/`, { signal: AbortSignal.timeout(2000) });
        // S3Proxy answers every request (403 without a signature); any S3-style answer means it is up.
        await res.arrayBuffer();
        return res.status < 500;
      } catch {
        return false;
      }
    },
    async start(say) {
      requireJava('s3proxy');
      const cp = await resolveClasspath(cfg.root, cfg.dir, 's3proxy', say);
      const data = join(b.dir, 'data');
      mkdirSync(data, { recursive: true });
      mkdirSync(join(b.dir, 'tmp'), { recursive: true });
      const conf = join(b.dir, 's3proxy.conf');
      // filesystem-nio2 stores each object as a file under `data` (multipart works through stub objects).
      writeFileSync(
        conf,
        [
          `s3proxy.endpoint=${endpoint}`,
          's3proxy.authorization=aws-v2-or-v4',
          `s3proxy.identity=${cfg.s3.accessKeyId}`,
          `s3proxy.credential=${cfg.s3.secretAccessKey}`,
          's3proxy.ignore-unknown-headers=true',
          'jclouds.provider=filesystem-nio2',
          `jclouds.filesystem.basedir=${data}`,
          '',
        ].join('\n'),
      );
      return spawnDetached('java', [...jvmFlags(cfg.s3.heapMb, join(b.dir, 'tmp')), '-cp', cp, 'org.gaul.s3proxy.Main', '--properties', conf], {
        cwd: b.dir,
        logFile: b.logFile,
        pidFile: b.pidFile,
      });
    },
    async afterReady() {
      const s3 = client();
      try {
        try {
          await s3.send(new HeadBucketCommand({ Bucket: cfg.s3.bucket }));
        } catch {
          await s3.send(new CreateBucketCommand({ Bucket: cfg.s3.bucket }));
        }
      } finally {
        s3.destroy();
      }
    },
  };
}

/** RESP PING without a client library: the probe must work before anything else is set up. */
function redisPing(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    let buf = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1500, () => done(false));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
    socket.once('error', () => done(false));
  });
}

export function redisServer(cfg: StackConfig): LocalServer {
  const b = base(cfg, 'redis', cfg.redis.port);
  return {
    ...b,
    endpoint: `redis://${cfg.host}:${cfg.redis.port}`,
    stopTimeoutS: 10,
    healthy: () => redisPing(cfg.redis.port, cfg.host),
    async start() {
      if (!commandExists('redis-server')) {
        throw new StackError('NOT_INSTALLED', 'redis', 'no Redis answers on the port and redis-server is not installed; run `bash scripts/prereqs.sh`');
      }
      mkdirSync(join(b.dir, 'data'), { recursive: true });
      // Test and dev data only: no persistence, loopback only.
      return spawnDetached('redis-server', ['--port', String(cfg.redis.port), '--bind', cfg.host, '--save', '', '--appendonly', 'no', '--dir', join(b.dir, 'data'), '--daemonize', 'no'], {
        cwd: b.dir,
        logFile: b.logFile,
        pidFile: b.pidFile,
      });
    },
  };
}

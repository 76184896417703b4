import { resolve } from 'node:path';
import { type KafkaConnection, checkKafkaAtStart, createKafka } from '@backlog/adapter-kafka';
import { type BatchEvent, harvestTopic } from '@backlog/core-codec';
import type { Logger, SourcePosition } from '@backlog/core-pipeline';
import { decodeKey, parseKeyFile, publicKeyOf } from '@backlog/core-sealed';
import { ensureDataDir, readPrivateKeyFile } from '@backlog/platform-config';
import type { MetricsRegistry } from '@backlog/platform-telemetry';
import { Spool } from '../spool/spool';
import type { ShippingConfig } from './config';
import { KafkaSender } from './kafka-sender';
import { shippingMetrics } from './metrics';
import type { BatchSender } from './port';
import { SealedSender } from './sealed-sender';
import { SeqStore } from './seq-store';
import { Shipper, shipperOptions } from './shipper';

export interface Shipping {
  /** Hand this to the inputs as their sink. */
  sink: Shipper;
  /** For /healthz. */
  health(): { ok: boolean; shipping: Record<string, unknown> };
  /** Stops intake, closes open batches, sends until the deadline (epoch ms); the rest stays spooled. */
  stop(deadline: number): Promise<void>;
}

/**
 * Builds and starts shipping for harvester main.ts. Call it before the inputs start, then pass
 * `shipping.sink` as their sink and route commits back:
 *
 *   const shipping = await startShipping({ host, env, kafka, shipping: config.shipping }, { registry, logger, onCommit: (p) => sources.forEach((s) => s.commit?.(p)) });
 *
 * `kafka` is the connection `kafkaConnection` built from the shared settings (brokers, TLS, SASL) and
 * its warnings; it is unused when shipping is sealed. Before shipping directly, the brokers are probed
 * once: credentials or certificates they refuse throw (the harvester exits with the message), an
 * unreachable cluster is only logged (the spool holds the batches until it is back).
 *
 * It recovers the spool and waits (up to `startupDrainMs`) until the previous run's batches are
 * acknowledged, so that file offsets they hold are committed before a file input re-reads from them.
 */
export async function startShipping(
  cfg: { host: string; env: string; kafka?: { connection: KafkaConnection; warnings: readonly string[] }; shipping: ShippingConfig },
  deps: { registry: MetricsRegistry; logger: Logger; onCommit?: (positions: SourcePosition[]) => void },
): Promise<Shipping> {
  const s = cfg.shipping;
  const dir = resolve(s.spool.dir);
  // A batch's WAL chunks also stay in memory until it is sealed: room for a whole batch plus one read.
  const spool = new Spool({ dir, fsync: s.spool.fsync, walBufferBytes: s.maxBatchRawBytes + 256 * 1024 });
  const metrics = shippingMetrics(deps.registry);
  let sender: BatchSender;
  let target: string;
  if (s.sealed.enabled) {
    const secretKey = s.sealed.keyFile
      ? parseKeyFile(readPrivateKeyFile(s.sealed.keyFile, { app: 'harvester', setting: 'shipping.sealed.keyFile' }).toString('utf8')).secretKey
      : decodeKey(s.sealed.secretKey!, 'shipping.sealed.secretKey');
    const [host, port] = s.sealed.gateway.split(':') as [string, string];
    // The sequence store lives beside the spool: both must survive restarts together (and stay private).
    ensureDataDir(dir);
    sender = new SealedSender({
      host,
      port: Number(port),
      keys: { secretKey, publicKey: publicKeyOf(secretKey) },
      gatewayPublicKey: decodeKey(s.sealed.gatewayPublicKey!, 'shipping.sealed.gatewayPublicKey'),
      seq: new SeqStore(dir),
      ackTimeoutMs: s.sealed.ackTimeoutMs,
      env: cfg.env,
      metrics,
    });
    target = `nacl-gateway ${s.sealed.gateway}`;
  } else {
    if (!cfg.kafka) throw new Error('startShipping: kafka connection settings are required to ship to Kafka');
    const kafka = createKafka({ ...cfg.kafka.connection, clientId: `harvester-${cfg.host}`, retry: { retries: 5, initialRetryTimeMs: 200, maxRetryTimeMs: 2_000 } });
    // Bounded: a hung broker must not hold the inputs back for long.
    await checkKafkaAtStart(kafka, deps.logger, { warnings: cfg.kafka.warnings, timeoutMs: 5_000 });
    sender = new KafkaSender(kafka, harvestTopic(cfg.env));
    target = `kafka ${harvestTopic(cfg.env)}`;
  }
  const shipper = new Shipper(shipperOptions(cfg.host, s), { spool, sender, metrics, onCommit: deps.onCommit, log: deps.logger });
  const rec = shipper.start();
  deps.logger.info('shipping started', { target, spool: dir, ...rec });
  if (rec.segments || rec.walEvents) {
    const ok = await shipper.drained(s.startupDrainMs);
    if (!ok) deps.logger.warn("previous run's batches not all acknowledged yet; inputs start anyway (re-read file lines may be duplicated with new ids)", { ...shipper.backlog });
  }
  return {
    sink: shipper,
    // Unhealthy while the spool's disk refuses writes (inputs paused) or anything sits in quarantine/:
    // both need an operator (free space; `backlog spool inspect`, then drain --quarantine or purge).
    health: () => {
      const quarantined = spool.quarantined();
      const state = shipper.diskState ?? (quarantined > 0 ? 'quarantined' : 'ok');
      return {
        ok: state === 'ok',
        shipping: { target, state, connected: shipper.connected, writable: shipper.writable, ...shipper.backlog, spoolBytes: spool.bytes, quarantined, heldSources: shipper.heldSources },
      };
    },
    stop: (deadline) => shipper.stop(Math.max(0, deadline - Date.now())),
  };
}

export type { BatchEvent };

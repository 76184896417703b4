// Smoke tests of the Kafka adapter against the real local broker (Kafka 3.9.1 KRaft, topic
// auto-creation off).
// Tests (not sources) of an adapter use the test stack; the tag rules have no spec exception yet.
import { stackInfo, testNamespace, waitFor } from '@backlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, headerText, nextOffset, type Admin, type ConsumedRecord, type Consumer, type GroupJoin, type KafkaAdapterError, type KafkaClient, type Logger } from './index';

async function rejection(p: Promise<unknown>): Promise<KafkaAdapterError> {
  try {
    await p;
  } catch (e) {
    return e as KafkaAdapterError;
  }
  throw new Error('expected a rejection');
}

describe('kafka adapter', () => {
  const ns = testNamespace('kafka');
  const logs: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];
  const logger: Logger = {
    debug: (msg, fields) => logs.push({ level: 'debug', msg, ...(fields ? { fields } : {}) }),
    info: (msg, fields) => logs.push({ level: 'info', msg, ...(fields ? { fields } : {}) }),
    warn: (msg, fields) => logs.push({ level: 'warn', msg, ...(fields ? { fields } : {}) }),
    error: (msg, fields) => logs.push({ level: 'error', msg, ...(fields ? { fields } : {}) }),
  };
  const topics = { main: `h-${ns}`, resume: `r-${ns}`, pause: `p-${ns}` };
  let kafka: KafkaClient;
  let admin: Admin;
  const consumers: Consumer[] = [];

  beforeAll(async () => {
    kafka = createKafka({ brokers: stackInfo().kafka.brokers, clientId: `test-${ns}`, logLevel: 'info', logger });
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    for (const c of consumers) await c.disconnect().catch(() => undefined);
    if (admin) {
      await admin.deleteTopics(Object.values(topics));
      await admin.disconnect();
    }
  });

  it('ensureTopics creates missing topics once (broker auto-creation is off)', async () => {
    const specs = [
      { topic: topics.main, partitions: 3, config: { 'max.message.bytes': '1048576' } },
      { topic: topics.resume, partitions: 1 },
      { topic: topics.pause, partitions: 1 },
    ];
    const first = await admin.ensureTopics(specs);
    expect(first.created.sort()).toEqual(Object.values(topics).sort());
    const again = await admin.ensureTopics(specs);
    expect(again.created).toEqual([]);
    expect(again.existing.find((e) => e.topic === topics.main)?.partitions).toBe(3);
    expect((await admin.topicOffsets(topics.main)).map((p) => p.partition)).toEqual([0, 1, 2]);
  });

  it('produces idempotently with headers; a consumer group member joins and reads them', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const res = await producer.send(topics.main, [
      { key: 'web-01', value: Buffer.from('batch-1'), headers: { schema: '1', 'content-encoding': 'gzip', count: '2' } },
      { key: 'web-01', value: Buffer.from('batch-2'), headers: { schema: '1', bin: Buffer.from([0, 255]) } },
      { key: 'web-02', value: Buffer.from('batch-3') },
    ]);
    expect(res.length).toBeGreaterThanOrEqual(1);
    for (const r of res) expect(Number(r.baseOffset)).toBeGreaterThanOrEqual(0);
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `g-${ns}-main` });
    consumers.push(consumer);
    const joins: GroupJoin[] = [];
    consumer.onGroupJoin((j) => joins.push(j));
    const seen: ConsumedRecord[] = [];
    await consumer.connect();
    await consumer.subscribe([topics.main]);
    await consumer.run(async (b) => {
      seen.push(...b.records);
    });
    await waitFor('3 records', () => seen.length >= 3, 30_000, 50);
    expect(joins[0]?.assignment[topics.main]?.sort()).toEqual([0, 1, 2]);
    const byValue = new Map(seen.map((r) => [r.value?.toString(), r]));
    const one = byValue.get('batch-1');
    expect(one?.key?.toString()).toBe('web-01');
    expect(one && headerText(one, 'content-encoding')).toBe('gzip');
    expect(one && headerText(one, 'count')).toBe('2');
    expect(byValue.get('batch-2')?.headers.bin).toEqual(Buffer.from([0, 255]));
    // Same key → same partition, in order.
    expect(byValue.get('batch-1')?.partition).toBe(byValue.get('batch-2')?.partition);
    expect(BigInt(byValue.get('batch-2')?.offset ?? '0')).toBeGreaterThan(BigInt(one?.offset ?? '0'));
    // Offsets by time: from before the first record → where records start; from the future → the end.
    const at0 = await admin.topicOffsetsAt(topics.main, 0);
    const ends = await admin.topicOffsets(topics.main);
    expect(at0.map((p) => p.offset)).toEqual(ends.map((p) => p.low));
    const later = await admin.topicOffsetsAt(topics.main, Date.now() + 3_600_000);
    expect(later.map((p) => p.offset)).toEqual(ends.map((p) => p.high));
    expect(byValue.get('batch-3')?.headers).toEqual({});
    await consumer.disconnect();
    // kafkajs' own logs (at logLevel info: the group join) reach our logger port.
    expect(logs.some((l) => l.level === 'info' && l.fields?.component === 'kafkajs' && /joined the group/i.test(l.msg))).toBe(true);
  });

  it('commits offsets only when told; a restarted member resumes after the committed offset', async () => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send(
      topics.resume,
      Array.from({ length: 10 }, (_, i) => ({ key: 'h', value: Buffer.from(`m${i}`) })),
    );
    await producer.disconnect();
    const groupId = `g-${ns}-resume`;

    const a = kafka.consumer({ groupId });
    consumers.push(a);
    const seenA: ConsumedRecord[] = [];
    await a.connect();
    await a.subscribe([topics.resume]);
    await a.run(async (b) => {
      for (const r of b.records) {
        seenA.push(r);
        // Acknowledge only up to m4: everything after it was "not yet delivered downstream".
        if (r.value?.toString() === 'm4') await a.commit([{ topic: r.topic, partition: r.partition, offset: nextOffset(r.offset) }]);
      }
    });
    await waitFor('10 records in A', () => seenA.length >= 10, 30_000, 50);
    await a.disconnect();
    expect(seenA.map((r) => r.value?.toString())).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    const m4 = seenA[4] as ConsumedRecord;
    expect(await admin.groupOffsets(groupId, topics.resume)).toEqual([{ partition: 0, offset: nextOffset(m4.offset) }]);

    const b = kafka.consumer({ groupId });
    consumers.push(b);
    const seenB: ConsumedRecord[] = [];
    await b.connect();
    await b.subscribe([topics.resume]);
    await b.run(async (batch) => {
      seenB.push(...batch.records);
      const last = batch.records.at(-1);
      if (last) await b.commit([{ topic: batch.topic, partition: batch.partition, offset: nextOffset(last.offset) }]);
    });
    await waitFor('5 records in B', () => seenB.length >= 5, 30_000, 50);
    // Give a wrongly rewound consumer a moment to show extra records.
    await new Promise((r) => setTimeout(r, 1000));
    expect(seenB.map((r) => r.value?.toString())).toEqual(['m5', 'm6', 'm7', 'm8', 'm9']);
    await b.disconnect();
    const end = (await admin.topicOffsets(topics.resume))[0]?.high;
    expect(await admin.groupOffsets(groupId, topics.resume)).toEqual([{ partition: 0, offset: end }]);
  });

  it('pause stops fetching a partition without leaving the group; resume picks up', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const c = kafka.consumer({ groupId: `g-${ns}-pause`, maxWaitTimeMs: 100 });
    consumers.push(c);
    const seen: string[] = [];
    await c.connect();
    await c.subscribe([topics.pause]);
    await c.run(async (b) => {
      seen.push(...b.records.map((r) => r.value?.toString() ?? ''));
    });
    await producer.send(topics.pause, [{ value: Buffer.from('before') }]);
    await waitFor('first record', () => seen.length === 1, 30_000, 50);
    c.pause([{ topic: topics.pause }]);
    expect(c.paused()).toEqual([{ topic: topics.pause, partitions: [0] }]);
    await producer.send(topics.pause, [{ value: Buffer.from('while-paused') }]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(seen).toEqual(['before']);
    c.resume([{ topic: topics.pause }]);
    await waitFor('record after resume', () => seen.length === 2, 30_000, 50);
    expect(seen).toEqual(['before', 'while-paused']);
    await producer.disconnect();
    await c.disconnect();
  });

  it('maps kafkajs failures to coded errors', async () => {
    // Unknown topic (auto-creation is off): not retriable for the caller.
    const quick = createKafka({ brokers: stackInfo().kafka.brokers, clientId: `q-${ns}`, retry: { retries: 1, initialRetryTimeMs: 50 } });
    const p = quick.producer();
    await p.connect();
    const unknown = await rejection(p.send(`nope-${ns}`, [{ value: Buffer.from('x') }]));
    expect(unknown).toMatchObject({ code: 'KAFKA_UNKNOWN_TOPIC', retriable: false, brokerError: 'UNKNOWN_TOPIC_OR_PARTITION' });
    await p.disconnect();

    // Connection refused: retriable.
    const down = createKafka({ brokers: ['127.0.0.1:1'], clientId: `d-${ns}`, retry: { retries: 0 } });
    const a = down.admin();
    const refused = await rejection(a.connect());
    expect(refused).toMatchObject({ code: 'KAFKA_CONNECTION', retriable: true });
  });
});

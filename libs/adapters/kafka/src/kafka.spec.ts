import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { KafkaAdapterError, kafkajsLogCreator, mapKafkaError, nextOffset, type Logger } from './index';

// Real kafkajs error classes, built the way kafkajs builds them (protocol errors from its error-code table).
const protocol = (type: string, retriable: boolean) =>
  new kafkajs.KafkaJSProtocolError({ type, code: 1, retriable, message: `${type} message` } as never);

describe('mapKafkaError', () => {
  it.each([
    [protocol('MESSAGE_TOO_LARGE', false), 'KAFKA_RECORD_TOO_LARGE', false],
    [protocol('UNKNOWN_TOPIC_OR_PARTITION', true), 'KAFKA_UNKNOWN_TOPIC', false],
    [protocol('NOT_LEADER_FOR_PARTITION', true), 'KAFKA_NOT_LEADER', true],
    [protocol('REBALANCE_IN_PROGRESS', true), 'KAFKA_REBALANCE', false],
    [protocol('OUT_OF_ORDER_SEQUENCE_NUMBER', false), 'KAFKA_PRODUCER_FENCED', false],
    [protocol('SOME_NEW_ERROR', true), 'KAFKA_PROTOCOL', true],
    [new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1'), 'KAFKA_CONNECTION', true],
    [new kafkajs.KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out'), 'KAFKA_TIMEOUT', true],
    [new Error('something else'), 'KAFKA_UNKNOWN', false],
  ] as const)('%s → %s', (err, code, retriable) => {
    const e = mapKafkaError(err, 'op');
    expect(e).toBeInstanceOf(KafkaAdapterError);
    expect(e).toMatchObject({ code, retriable });
    expect(e.cause).toBe(err);
  });

  it('looks through kafkajs retry and aggregate wrappers to the cause', () => {
    const wrapped = new kafkajs.KafkaJSNumberOfRetriesExceeded(new kafkajs.KafkaJSConnectionError('connect ECONNREFUSED'), {
      retryCount: 8,
      retryTime: 1000,
    });
    expect(mapKafkaError(wrapped, 'send')).toMatchObject({ code: 'KAFKA_CONNECTION', retriable: true });
    const agg = new kafkajs.KafkaJSAggregateError('x', [protocol('TOPIC_ALREADY_EXISTS', false)]);
    expect(mapKafkaError(agg, 'create')).toMatchObject({ code: 'KAFKA_TOPIC_EXISTS', brokerError: 'TOPIC_ALREADY_EXISTS' });
  });
});

describe('kafkajs log routing', () => {
  it('maps kafkajs levels to the logger port and keeps extra fields', () => {
    const got: string[] = [];
    const rec = (lvl: string) => (msg: string, f?: Record<string, unknown>) => got.push(`${lvl}:${msg}:${String(f?.namespace)}:${String(f?.groupId)}`);
    const logger: Logger = { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
    const log = kafkajsLogCreator(logger)(5);
    const entry = (level: number, message: string) => ({ namespace: 'Consumer', level, label: '', log: { message, timestamp: 't', logger: 'kafkajs', groupId: 'g' } });
    log(entry(1, 'crash'));
    log(entry(2, 'slow'));
    log(entry(4, 'joined'));
    log(entry(5, 'fetch'));
    log(entry(2, 'Limiting retries for the idempotent producer may invalidate EoS guarantees'));
    expect(got).toEqual([
      'error:crash:Consumer:g',
      'warn:slow:Consumer:g',
      'info:joined:Consumer:g',
      'debug:fetch:Consumer:g',
      'debug:Limiting retries for the idempotent producer may invalidate EoS guarantees:Consumer:g',
    ]);
  });
});

describe('nextOffset', () => {
  it('adds one without losing int64 precision', () => {
    expect(nextOffset('0')).toBe('1');
    expect(nextOffset('9007199254740993')).toBe('9007199254740994');
  });
});

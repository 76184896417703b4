import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { KafkaAdapterError, isProduceRefused, kafkajsLogCreator, mapKafkaError, nextOffset, type Logger } from './index';

// Real kafkajs error classes, built the way kafkajs builds them (protocol errors from its error-code table).
const protocol = (type: string, retriable: boolean) => new kafkajs.KafkaJSProtocolError({ type, code: 1, retriable, message: `${type} message` } as never);

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

  it('maps certificate failures to KAFKA_TLS and SASL refusals to KAFKA_AUTH, not retriable, naming the broker', () => {
    // kafkajs reports a failed TLS handshake as a retriable connection error carrying Node's code.
    const untrusted = new kafkajs.KafkaJSConnectionError('Connection error: unable to verify the first certificate', { broker: 'k1:9093', code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    const tls = mapKafkaError(new kafkajs.KafkaJSNumberOfRetriesExceeded(untrusted, { retryCount: 0, retryTime: 0 }), 'admin connect', ['k1:9093', 'k2:9093']);
    expect(tls).toMatchObject({ code: 'KAFKA_TLS', retriable: false });
    expect(tls.message).toBe('admin connect: broker k1:9093: TLS handshake failed (UNABLE_TO_VERIFY_LEAF_SIGNATURE): Connection error: unable to verify the first certificate');
    const refusedCert = new kafkajs.KafkaJSConnectionError('Connection error: sslv3 alert bad certificate', { broker: 'k2:9093', code: 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE' });
    expect(mapKafkaError(refusedCert, 'x')).toMatchObject({ code: 'KAFKA_TLS', retriable: false });
    // kafkajs' SASL errors name no broker: the client's bootstrap list is named instead.
    const SaslError = kafkajs.KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;
    const sasl = new SaslError('SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512');
    const auth = mapKafkaError(sasl, 'producer connect', ['k1:9093']);
    expect(auth).toMatchObject({ code: 'KAFKA_AUTH', retriable: false });
    expect(auth.message).toMatch(/^producer connect: broker k1:9093: SASL SCRAM SHA512 authentication failed/);
    // A plain refused connection stays retriable.
    expect(mapKafkaError(new kafkajs.KafkaJSConnectionError('Connection error: connect ECONNREFUSED', { broker: 'k1:9093', code: 'ECONNREFUSED' }), 'x')).toMatchObject({
      code: 'KAFKA_CONNECTION',
      retriable: true,
    });
  });

  it('an ACL denial refuses the records (quarantine after a few tries); a failed SASL login does not (the records are kept and retried)', () => {
    const denied = mapKafkaError(protocol('TOPIC_AUTHORIZATION_FAILED', false), 'send');
    expect(denied).toMatchObject({ code: 'KAFKA_DENIED', retriable: false });
    expect(isProduceRefused(denied)).toBe(true);
    const SaslError = kafkajs.KafkaJSSASLAuthenticationError as unknown as new (message: string) => Error;
    const login = mapKafkaError(new SaslError('SASL PLAIN authentication failed: Authentication failed: Invalid username or password'), 'send', ['k1:9093']);
    expect(login).toMatchObject({ code: 'KAFKA_AUTH', retriable: false });
    expect(isProduceRefused(login)).toBe(false);
    expect(isProduceRefused(mapKafkaError(protocol('SASL_AUTHENTICATION_FAILED', false), 'send'))).toBe(false);
    for (const t of ['MESSAGE_TOO_LARGE', 'UNKNOWN_TOPIC_OR_PARTITION']) expect(isProduceRefused(mapKafkaError(protocol(t, false), 'send'))).toBe(true);
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

/**
 * Coded errors of the Kafka adapter. kafkajs errors are mapped here so that callers never see a
 * kafkajs type (kafkajs can then be replaced) and branch on `code`/`retriable`, never on messages.
 *
 * `retriable` answers "may the *caller* try the same thing again later?". kafkajs has already retried
 * internally (its `retry` options) by the time an error reaches us, so for example an unknown topic
 * (auto-creation is off) is *not* retriable here although kafkajs retries it for metadata propagation.
 */
export type KafkaErrorCode =
  /** Broker unreachable, connection refused/closed, no broker available. Retriable. */
  | 'KAFKA_CONNECTION'
  /** A request or a lock timed out. Retriable. */
  | 'KAFKA_TIMEOUT'
  /** Leader moved or not elected yet. Retriable. */
  | 'KAFKA_NOT_LEADER'
  /** Group coordinator loading or moving. Retriable. */
  | 'KAFKA_COORDINATOR'
  /** The broker is overloaded or a replica is behind (NOT_ENOUGH_REPLICAS…). Retriable. */
  | 'KAFKA_BROKER_BUSY'
  /** Topic or partition does not exist (topic auto-creation is off: call `ensureTopics`). */
  | 'KAFKA_UNKNOWN_TOPIC'
  /** Record or batch above `max.message.bytes` / the producer's limit. Split it. */
  | 'KAFKA_RECORD_TOO_LARGE'
  /** The broker refused the records (CRC, invalid record, timestamp out of range). */
  | 'KAFKA_INVALID_RECORD'
  /**
   * The group rebalanced and this member's generation is stale (commit refused). Not retriable:
   * the partition may now belong to another member, which will re-read from the last committed
   * offset; drop the commit and let the group redeliver.
   */
  | 'KAFKA_REBALANCE'
  /** The idempotent producer's sequence/epoch was rejected: recreate the producer. */
  | 'KAFKA_PRODUCER_FENCED'
  /** Requested offset no longer (or not yet) in the log. */
  | 'KAFKA_OFFSET_OUT_OF_RANGE'
  /** Topic already exists (create race); `ensureTopics` treats this as success. */
  | 'KAFKA_TOPIC_EXISTS'
  /**
   * SASL authentication failed (wrong user or password, mechanism not enabled on the listener). Not
   * retriable: the same credentials get the same answer; an app exits at start. Met later (a password
   * rotated under a running app) it is a connection problem, not a problem of the records being sent:
   * a producer keeps its records and retries, it never sets them aside for it.
   */
  | 'KAFKA_AUTH'
  /**
   * An ACL refused the operation (TOPIC_/GROUP_/CLUSTER_/TRANSACTIONAL_ID_AUTHORIZATION_FAILED): the
   * credentials are good but not allowed to do this. Not retriable; for a produce, the records are refused
   * for where they go (PRODUCE_REFUSED_CODES).
   */
  | 'KAFKA_DENIED'
  /**
   * The TLS handshake failed for a reason that repeats on every attempt: the broker's certificate is not
   * signed by a trusted CA, does not name the host, has expired, or the broker refused our client
   * certificate. Not retriable: fix `kafka.ssl`.
   */
  | 'KAFKA_TLS'
  /** Invalid topic config, partitions, replication factor or adapter config. */
  | 'KAFKA_INVALID_CONFIG'
  /** The broker does not support a request kafkajs needs. */
  | 'KAFKA_UNSUPPORTED'
  /** The client was used after `disconnect()` or before `connect()`. */
  | 'KAFKA_NOT_CONNECTED'
  /** Any other broker error code; `retriable` follows kafkajs' classification. */
  | 'KAFKA_PROTOCOL'
  /** Anything else. */
  | 'KAFKA_UNKNOWN';

const ALWAYS_RETRIABLE: ReadonlySet<KafkaErrorCode> = new Set<KafkaErrorCode>(['KAFKA_CONNECTION', 'KAFKA_TIMEOUT', 'KAFKA_NOT_LEADER', 'KAFKA_COORDINATOR', 'KAFKA_BROKER_BUSY']);

export class KafkaAdapterError extends Error {
  readonly retriable: boolean;
  constructor(
    readonly code: KafkaErrorCode,
    message: string,
    options: {
      /** The broker's error name (e.g. `MESSAGE_TOO_LARGE`) when the broker sent one. */
      brokerError?: string;
      retriable?: boolean;
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KafkaAdapterError';
    this.brokerError = options.brokerError;
    this.retriable = options.retriable ?? ALWAYS_RETRIABLE.has(code);
  }
  readonly brokerError: string | undefined;
}

export function isKafkaAdapterError(e: unknown): e is KafkaAdapterError {
  return e instanceof KafkaAdapterError;
}

/** Broker error names (Kafka protocol error codes, as kafkajs names them) → our code. */
const BY_BROKER_ERROR: Record<string, KafkaErrorCode> = {
  UNKNOWN_TOPIC_OR_PARTITION: 'KAFKA_UNKNOWN_TOPIC',
  MESSAGE_TOO_LARGE: 'KAFKA_RECORD_TOO_LARGE',
  RECORD_LIST_TOO_LARGE: 'KAFKA_RECORD_TOO_LARGE',
  CORRUPT_MESSAGE: 'KAFKA_INVALID_RECORD',
  INVALID_RECORD: 'KAFKA_INVALID_RECORD',
  INVALID_TIMESTAMP: 'KAFKA_INVALID_RECORD',
  INVALID_REQUIRED_ACKS: 'KAFKA_INVALID_CONFIG',
  NOT_LEADER_FOR_PARTITION: 'KAFKA_NOT_LEADER',
  LEADER_NOT_AVAILABLE: 'KAFKA_NOT_LEADER',
  FENCED_LEADER_EPOCH: 'KAFKA_NOT_LEADER',
  UNKNOWN_LEADER_EPOCH: 'KAFKA_NOT_LEADER',
  GROUP_COORDINATOR_NOT_AVAILABLE: 'KAFKA_COORDINATOR',
  NOT_COORDINATOR_FOR_GROUP: 'KAFKA_COORDINATOR',
  GROUP_LOAD_IN_PROGRESS: 'KAFKA_COORDINATOR',
  COORDINATOR_LOAD_IN_PROGRESS: 'KAFKA_COORDINATOR',
  NOT_ENOUGH_REPLICAS: 'KAFKA_BROKER_BUSY',
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 'KAFKA_BROKER_BUSY',
  REQUEST_TIMED_OUT: 'KAFKA_TIMEOUT',
  NETWORK_EXCEPTION: 'KAFKA_CONNECTION',
  KAFKA_STORAGE_ERROR: 'KAFKA_BROKER_BUSY',
  THROTTLING_QUOTA_EXCEEDED: 'KAFKA_BROKER_BUSY',
  REBALANCE_IN_PROGRESS: 'KAFKA_REBALANCE',
  ILLEGAL_GENERATION: 'KAFKA_REBALANCE',
  UNKNOWN_MEMBER_ID: 'KAFKA_REBALANCE',
  FENCED_INSTANCE_ID: 'KAFKA_REBALANCE',
  OUT_OF_ORDER_SEQUENCE_NUMBER: 'KAFKA_PRODUCER_FENCED',
  INVALID_PRODUCER_EPOCH: 'KAFKA_PRODUCER_FENCED',
  PRODUCER_FENCED: 'KAFKA_PRODUCER_FENCED',
  UNKNOWN_PRODUCER_ID: 'KAFKA_PRODUCER_FENCED',
  DUPLICATE_SEQUENCE_NUMBER: 'KAFKA_PRODUCER_FENCED',
  OFFSET_OUT_OF_RANGE: 'KAFKA_OFFSET_OUT_OF_RANGE',
  TOPIC_ALREADY_EXISTS: 'KAFKA_TOPIC_EXISTS',
  INVALID_TOPIC_EXCEPTION: 'KAFKA_INVALID_CONFIG',
  INVALID_PARTITIONS: 'KAFKA_INVALID_CONFIG',
  INVALID_REPLICATION_FACTOR: 'KAFKA_INVALID_CONFIG',
  INVALID_REPLICA_ASSIGNMENT: 'KAFKA_INVALID_CONFIG',
  INVALID_CONFIG: 'KAFKA_INVALID_CONFIG',
  POLICY_VIOLATION: 'KAFKA_INVALID_CONFIG',
  INVALID_REQUEST: 'KAFKA_INVALID_CONFIG',
  TOPIC_AUTHORIZATION_FAILED: 'KAFKA_DENIED',
  GROUP_AUTHORIZATION_FAILED: 'KAFKA_DENIED',
  CLUSTER_AUTHORIZATION_FAILED: 'KAFKA_DENIED',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'KAFKA_DENIED',
  SASL_AUTHENTICATION_FAILED: 'KAFKA_AUTH',
  UNSUPPORTED_VERSION: 'KAFKA_UNSUPPORTED',
};

/** kafkajs error class names (kafkajs sets `name` explicitly) → our code. */
const BY_NAME: Record<string, KafkaErrorCode> = {
  KafkaJSConnectionError: 'KAFKA_CONNECTION',
  KafkaJSConnectionClosedError: 'KAFKA_CONNECTION',
  KafkaJSBrokerNotFound: 'KAFKA_CONNECTION',
  KafkaJSNoBrokerAvailableError: 'KAFKA_CONNECTION',
  KafkaJSRequestTimeoutError: 'KAFKA_TIMEOUT',
  KafkaJSTimeout: 'KAFKA_TIMEOUT',
  KafkaJSLockTimeout: 'KAFKA_TIMEOUT',
  KafkaJSGroupCoordinatorNotFound: 'KAFKA_COORDINATOR',
  KafkaJSOffsetOutOfRange: 'KAFKA_OFFSET_OUT_OF_RANGE',
  KafkaJSSASLAuthenticationError: 'KAFKA_AUTH',
  KafkaJSServerDoesNotSupportApiKey: 'KAFKA_UNSUPPORTED',
  KafkaJSTopicMetadataNotLoaded: 'KAFKA_UNKNOWN_TOPIC',
  KafkaJSMetadataNotLoaded: 'KAFKA_CONNECTION',
};

/**
 * Node's TLS verification codes (OpenSSL's X509_V_ERR_* names, as `tls.connect` reports them on
 * `err.code`) and `ERR_SSL_*` alerts from the peer (`ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE`,
 * `ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`, …): each means the same handshake fails again.
 * https://nodejs.org/api/tls.html#x509-certificate-error-codes
 */
const TLS_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_CRL',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECRYPT_CRL_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CRL_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CRL_NOT_YET_VALID',
  'CRL_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const isTlsCode = (code: string): boolean => TLS_CODES.has(code) || code.startsWith('ERR_SSL_');

interface KafkaJSLike {
  name?: unknown;
  message?: unknown;
  type?: unknown;
  retriable?: unknown;
  cause?: unknown;
  originalError?: unknown;
  errors?: unknown;
  code?: unknown;
  broker?: unknown;
}

/**
 * Maps anything kafkajs throws to a KafkaAdapterError. Matching is on kafkajs' `name`/`type`
 * properties rather than `instanceof`, because kafkajs is CommonJS and its error classes are not
 * importable as named ESM exports (they are spread into `module.exports`).
 *
 * `brokers` (the client's bootstrap list) is named in authentication and TLS errors when kafkajs does
 * not say which broker failed (its SASL errors do not), so the message always points at a broker.
 */
export function mapKafkaError(e: unknown, what: string, brokers?: readonly string[]): KafkaAdapterError {
  if (e instanceof KafkaAdapterError) return e;
  const root = unwrap(e);
  const err = (root ?? {}) as KafkaJSLike;
  const name = typeof err.name === 'string' ? err.name : '';
  const type = typeof err.type === 'string' ? err.type : undefined;
  const msg = (typeof err.message === 'string' ? err.message : String(root)).trim();
  const kafkaRetriable = typeof err.retriable === 'boolean' ? err.retriable : false;
  const opts = { cause: e, ...(type ? { brokerError: type } : {}) };
  const where = typeof err.broker === 'string' ? `broker ${err.broker}` : brokers?.length ? `broker${brokers.length > 1 ? 's' : ''} ${brokers.join(', ')}` : undefined;
  const at = (text: string) => (where ? `${what}: ${where}: ${text}` : `${what}: ${text}`);

  // Before the generic connection mapping: a certificate kafkajs reports as a (retriable) connection error.
  const code = typeof err.code === 'string' ? err.code : '';
  if (code && isTlsCode(code)) return new KafkaAdapterError('KAFKA_TLS', at(`TLS handshake failed (${code}): ${msg}`), { ...opts, retriable: false });
  if (name === 'KafkaJSSASLAuthenticationError' || type === 'SASL_AUTHENTICATION_FAILED') return new KafkaAdapterError('KAFKA_AUTH', at(msg), { ...opts, retriable: false });

  if (type) {
    const code = BY_BROKER_ERROR[type];
    if (code) return new KafkaAdapterError(code, `${what}: ${type}: ${msg}`, opts);
    return new KafkaAdapterError('KAFKA_PROTOCOL', `${what}: ${type}: ${msg}`, { ...opts, retriable: kafkaRetriable });
  }
  const byName = BY_NAME[name];
  if (byName) return new KafkaAdapterError(byName, `${what}: ${msg}`, opts);
  if (/ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EHOSTUNREACH/.test(msg)) return new KafkaAdapterError('KAFKA_CONNECTION', `${what}: ${msg}`, opts);
  if (/disconnected|not connected/i.test(msg)) return new KafkaAdapterError('KAFKA_NOT_CONNECTED', `${what}: ${msg}`, opts);
  return new KafkaAdapterError('KAFKA_UNKNOWN', `${what}: ${msg}`, { ...opts, retriable: kafkaRetriable });
}

/** Follows kafkajs' wrappers (NumberOfRetriesExceeded → cause, AggregateError → first error) to the error that says why. */
function unwrap(e: unknown): unknown {
  let cur = e;
  for (let i = 0; i < 5 && cur && typeof cur === 'object'; i++) {
    const x = cur as KafkaJSLike;
    if (x.name === 'KafkaJSNumberOfRetriesExceeded' || x.name === 'KafkaJSNonRetriableError') {
      const next = x.cause ?? x.originalError;
      if (!next || next === cur) return cur;
      cur = next;
    } else if (x.name === 'KafkaJSAggregateError' && Array.isArray(x.errors) && x.errors.length) {
      cur = x.errors[0];
    } else return cur;
  }
  return cur;
}

/**
 * Codes with which the broker refuses a produce request for the records themselves or for where they go:
 * sending the same records again fails the same way, so a caller that retries forever blocks everything
 * behind them. Record too large (split it), invalid record, not authorized by an ACL, unknown topic
 * (auto-creation off). A failed SASL authentication (KAFKA_AUTH) is not among them: it is about the
 * connection, not the records, so records are kept and retried until the credentials are fixed. A producer must set such records aside (quarantine) after a few attempts rather than retry forever.
 */
export const PRODUCE_REFUSED_CODES: ReadonlySet<KafkaErrorCode> = new Set<KafkaErrorCode>(['KAFKA_RECORD_TOO_LARGE', 'KAFKA_INVALID_RECORD', 'KAFKA_DENIED', 'KAFKA_UNKNOWN_TOPIC']);

/** Whether a produce error is one of PRODUCE_REFUSED_CODES (the same records will be refused again). */
export function isProduceRefused(e: unknown): e is KafkaAdapterError {
  return e instanceof KafkaAdapterError && PRODUCE_REFUSED_CODES.has(e.code);
}

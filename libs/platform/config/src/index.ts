// @backlog/platform-config: load + validate + freeze an app's config (file and environment), and
// the connection settings every app and the CLI share. See README.md beside this folder.
export { ConfigError, CONFIG_EXIT_CODE, formatProblems, type ConfigErrorCode, type ConfigProblem } from './errors';
export { deepFreeze, redact, type DeepReadonly } from './freeze';
export { appEnvPrefix, configKeys, envSegment, type ConfigKey, type ValueKind } from './keys';
export { BACKLOG_APPS, deepMerge, loadConfig, type LoadConfigOptions } from './load';
export {
  appConfigSchema,
  connectionSettingsSchema,
  connectionSettingsShape,
  DEFAULT_KAFKA_PASSWORD_ENV,
  KAFKA_SASL_MECHANISMS,
  kafkaSaslSettingsSchema,
  kafkaSettingsSchema,
  kafkaTlsSettingsSchema,
  redisSettingsSchema,
  s3SettingsSchema,
  searchSettingsSchema,
  SHARED_KEYS,
  type ConnectionSettings,
  type KafkaSettings,
} from './connections';
export { logSettingsSchema, metricsSettingsSchema } from './telemetry-settings';
export { generateToken, readTokenFile, TOKEN_HOWTO, TOKEN_MIN_BITS, TOKEN_MIN_LENGTH, tokenBits, tokenProblems, tokenSchema } from './tokens';
export { defaultScratchDir, ensureDataDir, ensurePrivateDir, ensureScratchDir, PrivateDirError, privateKeyFileProblem, readPrivateKeyFile, writePrivateFile, type PrivateDir } from './private-files';
export { decodeHistoryCommand, encodeHistoryCommand, historyCommand, HistoryCommandError, historyCommandSchema, type HistoryCommand, type HistoryCommandInput } from './history-command';

// @backlog/platform-stack: the local stack launcher (Kafka, OpenSearch, Elasticsearch 8, S3 server, Redis from
// Maven Central; ADR 0001), production code behind `npm start` and `backlog stack up|down|status`, and the
// repository's root. The test kit (@backlog/testing) re-exports it for tests that start private servers.
export { type StackConfig, type StackInfo, loadStackConfig, repoRoot, stackInfoFromConfig } from './config';
export { StackError, ours, stopPid } from './proc';
// Per-server launchers: fault tests start private extra servers with them (stop/freeze those, never the shared stack).
export { type KafkaServerExtras, type LocalServer, kafkaServer, redisServer, s3Server, searchServer } from './servers';
export { type ServerReport, type UpResult, allServers, stackDown, stackStatus, stackUp, upOne } from './stack';
export { ES8_MODULES, elasticsearch8Server } from './elasticsearch8';

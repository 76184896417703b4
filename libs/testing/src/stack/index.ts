export { type StackConfig, type StackInfo, loadStackConfig, repoRoot, stackInfoFromConfig } from './config';
export { StackError, stopPid } from './proc';
// Per-server launchers: fault tests start private extra servers with them (stop/freeze those, never the shared stack).
export { type KafkaServerExtras, type LocalServer, kafkaServer, redisServer, s3Server, searchServer } from './servers';
export { type PrivateKafka, startPrivateKafka } from './private-kafka';
export { type ServerReport, type UpResult, allServers, stackDown, stackStatus, stackUp, upOne } from './stack';
export { ES8_MODULES, elasticsearch8Server } from './elasticsearch8';

export { type StackConfig, type StackInfo, loadStackConfig, repoRoot, stackInfoFromConfig } from './config';
export { StackError, stopPid } from './proc';
export { type LocalServer, kafkaServer, redisServer, s3Server, searchServer } from './servers';
export { type ServerReport, type UpResult, stackDown, stackStatus, stackUp, upOne } from './stack';
// A private, extra server for fault tests (stop/freeze it without touching the shared stack).
export { type LocalServer, kafkaServer, searchServer } from './servers';
export { upOne } from './stack';
export { stopPid } from './proc';

export { type StackConfig, type StackInfo, loadStackConfig, repoRoot, stackInfoFromConfig } from './config';
export { StackError } from './proc';
export { type ServerReport, type UpResult, stackDown, stackStatus, stackUp } from './stack';
// A private, extra server for fault tests (stop/freeze it without touching the shared stack).
export { type LocalServer, kafkaServer, searchServer } from './servers';
export { upOne } from './stack';
export { stopPid } from './proc';

export { type StackConfig, type StackInfo, loadStackConfig, repoRoot, stackInfoFromConfig } from './config';
export { StackError } from './proc';
export { type ServerReport, type UpResult, stackDown, stackStatus, stackUp } from './stack';

export * from './stack/index';
export { stackInfo, testNamespace } from './test-context';

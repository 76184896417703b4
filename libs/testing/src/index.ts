// The stack launcher lives in @backlog/platform-stack (production code behind `npm start`); tests get it from here.
export * from '@backlog/platform-stack';
export { type PrivateKafka, startPrivateKafka } from './private-kafka';
export { elasticsearchUrl, stackInfo, testNamespace } from './test-context';
export { APP_METRIC_PREFIX, APP_NAMES, type AppName, dashboardMetricsByApp, dashboardQueries, exposedMetricNames, metricNamesIn, missingMetrics, readDashboard } from './deploy/observability';
export { freePort, sleep, stackEnv, waitFor } from './helpers';
export { type TestPki, makeTestPki } from './pki';
export { type SmallDisk, type SmallDiskMode, smallDisk } from './disk';

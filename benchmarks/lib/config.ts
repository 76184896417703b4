// Loading a benchmark's settings like any app's (BACKLOG_<APP>_* over a config file over defaults):
// a bad setting prints every problem and exits 78, as the apps do (ARCHITECTURE.md habit 2).
import type { z } from 'zod';
import { CONFIG_EXIT_CODE, ConfigError, loadConfig } from '@backlog/platform-config';

export function loadBenchConfig<S extends z.ZodType>(app: string, schema: S): ReturnType<typeof loadConfig<S>> {
  try {
    return loadConfig({ app, schema });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(CONFIG_EXIT_CODE);
    }
    throw err;
  }
}

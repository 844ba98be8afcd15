/** Reads the configuration and starts serving (lifecycle.ts: one process or a cluster, graceful shutdown). */
import { ConfigError, loadConfig } from './config.js';
import { start } from './lifecycle.js';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`gradient-service: ${error.message}\n`);
  process.exit(1);
}

await start(config);

/**
 * The service as `npm start` builds it (config from the environment), on a free port, without request logs
 * (they would measure pino). BENCH_DIST=1 imports the compiled dist/app.js instead of the sources.
 */
import { announce } from './announce.js';

const { buildApp } = (await import(
  process.env.BENCH_DIST === '1' ? '../../dist/app.js' : '../../src/app.js'
)) as typeof import('../../src/app.js');
const { loadConfig } = (await import(
  process.env.BENCH_DIST === '1' ? '../../dist/config.js' : '../../src/config.js'
)) as typeof import('../../src/config.js');

const config = { ...loadConfig(), logLevel: 'silent' as const };
const app = await buildApp(config, { logger: false });
await app.listen({ port: 0, host: '127.0.0.1' });
announce(app.server.address());

// The parent ends us with SIGTERM; close so that a worker pool shuts down with the app.
process.once('SIGTERM', () => {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});

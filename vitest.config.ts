import { defineConfig } from 'vitest/config';

/**
 * `npm test` runs the fast suites (math, routes through inject, codecs, config, client): under a minute.
 * `npm run test:slow` runs what starts processes, sockets and worker pools under load, or searches at random
 * for minutes' worth of inputs: the fuzz suite, the drain and timeout tests, the pool and process tests. Its
 * workers run with --expose-gc (the memory checks read heap and buffers after a full collection), so no test
 * flips V8 flags at run time. CI runs both.
 */
const slowTests = [
  'test/fuzz/**/*.test.ts',
  'test/scripts/**/*.test.ts',
  'test/ops/pool.test.ts',
  'test/ops/process.test.ts',
  'test/ops/drain.test.ts',
  'test/ops/drain-keepalive.test.ts',
  'test/ops/drain-slow-reader.test.ts',
  'test/ops/memory-budget.test.ts',
  'test/ops/timeouts.test.ts',
  'test/ops/linger.test.ts',
  'test/ops/http-edges.test.ts',
  'test/workers/thread-pool.test.ts',
];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/e2e/**', ...slowTests],
          // One module graph per worker, not per file: importing the app (fastify, typebox, the tables) anew for
          // each of ~55 files was most of the wall time; the tests share no module state they change.
          isolate: false,
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'slow',
          include: slowTests,
          execArgv: ['--expose-gc'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});

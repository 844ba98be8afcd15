/**
 * Load shedding, driven by a fake delay histogram and fake timers: no test blocks the event loop or waits for
 * the real sampler (a busy-wait against a 1 s sampler was slow and at the mercy of the machine's load).
 */
import { createRequire } from 'node:module';
import Fastify from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';
import { meanDelayMs } from '../../src/plugins/overload.js';
import { expectProblem, post } from '../support/app.js';

/** A stand-in for monitorEventLoopDelay's histogram: the test sets what it has seen. */
function fakeDelayMonitor(count: number, meanMs: number) {
  return { count, mean: meanMs * 1e6, reset() {}, enable: () => true, disable: () => true };
}

let app: App | undefined;
afterEach(async () => {
  vi.useRealTimers();
  await app?.close();
  app = undefined;
});

/** An app whose sampler runs when the test advances the fake clock by a second. */
async function sampledApp(
  limits: { maxEventLoopDelayMs: number; maxHeapUsedBytes: number },
  delayMonitor = fakeDelayMonitor(0, Number.NaN),
) {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'performance'] });
  app = await buildApp({ ...defaultConfig, logLevel: 'silent', ...limits }, { logger: false, delayMonitor });
  await app.ready();
  return { app, delayMonitor };
}

const forward = (a: App) => post(a, '/v1/activations/sigmoid/forward', { z: [0] });

describe('the mean event-loop delay of an interval', () => {
  it("is the histogram's mean less its timer resolution, never negative", () => {
    expect(meanDelayMs(fakeDelayMonitor(5, 42), 1000, 1000)).toBe(32);
    expect(meanDelayMs(fakeDelayMonitor(5, 3), 1000, 1000)).toBe(0);
  });

  it('with no delay sample in the interval, is how late the sampling timer ran: finite, not NaN', () => {
    expect(meanDelayMs(fakeDelayMonitor(0, Number.NaN), 1250, 1000)).toBe(250);
    expect(meanDelayMs(fakeDelayMonitor(0, Number.NaN), 1000, 1000)).toBe(0);
  });
});

describe('load shedding', () => {
  it('over the heap threshold: compute routes and /readyz answer 503 with Retry-After; /healthz and /metrics still 200', async () => {
    const { app } = await sampledApp({ maxHeapUsedBytes: 1, maxEventLoopDelayMs: 0 });
    expect((await forward(app)).statusCode).toBe(200);
    vi.advanceTimersByTime(1000);

    const shed = await forward(app);
    const problem = expectProblem(shed, 503, 'not-ready');
    expect(problem.detail).toMatch(/heap in use \d+ bytes > MAX_HEAP_USED_BYTES 1/);
    expect(shed.headers['retry-after']).toBe('10');

    expectProblem(await app.inject({ method: 'GET', url: '/readyz' }), 503, 'not-ready');
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
  });

  it('over the event-loop delay threshold, and serving again once the delay is gone', async () => {
    const { app, delayMonitor } = await sampledApp(
      { maxEventLoopDelayMs: 20, maxHeapUsedBytes: 0 },
      fakeDelayMonitor(50, 40),
    );
    vi.advanceTimersByTime(1000);
    expect(expectProblem(await forward(app), 503, 'not-ready').detail).toMatch(
      /event-loop delay 30 ms > MAX_EVENT_LOOP_DELAY_MS 20/,
    );
    delayMonitor.mean = 12e6;
    vi.advanceTimersByTime(1000);
    expect((await forward(app)).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('an interval with no delay sample (one long synchronous stretch) is not taken for an endless delay', async () => {
    const { app } = await sampledApp({ maxEventLoopDelayMs: 1000, maxHeapUsedBytes: 0 });
    vi.advanceTimersByTime(1000);
    expect((await forward(app)).statusCode).toBe(200);
  });

  it('with both thresholds 0 nothing is shed', async () => {
    const { app } = await sampledApp(
      { maxHeapUsedBytes: 0, maxEventLoopDelayMs: 0 },
      fakeDelayMonitor(9, 5000),
    );
    vi.advanceTimersByTime(5000);
    expect((await forward(app)).statusCode).toBe(200);
  });
});

describe('why the sampler is ours and not @fastify/under-pressure 9', () => {
  it('under-pressure sheds after an interval without a delay sample (it reads the NaN mean as an infinite delay)', async () => {
    // Its histogram is taken from node:perf_hooks when the module loads: give it the same fake as ours above.
    const require = createRequire(import.meta.url);
    const perfHooks = require('node:perf_hooks') as typeof import('node:perf_hooks');
    const real = perfHooks.monitorEventLoopDelay;
    perfHooks.monitorEventLoopDelay = (() => fakeDelayMonitor(0, Number.NaN)) as never;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const library = Fastify();
    try {
      const underPressure = require('@fastify/under-pressure');
      await library.register(underPressure, { maxEventLoopDelay: 1000, sampleInterval: 1000 });
      library.get('/work', async () => 'done');
      await library.ready();
      expect((await library.inject({ url: '/work' })).statusCode).toBe(200);
      vi.advanceTimersByTime(1000);
      // The same interval that left ours serving (the test above) shuts the library's down.
      expect((await library.inject({ url: '/work' })).statusCode).toBe(503);
    } finally {
      perfHooks.monitorEventLoopDelay = real;
      await library.close();
    }
  });
});

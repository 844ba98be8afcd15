import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { buildTestApp, expectProblem, post } from '../support/app.js';

let app: App | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** Polls until check() holds, at most `limitMs` (the overload sampler runs once a second). */
async function eventually(check: () => Promise<boolean>, limitMs = 8000): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}

const forward = (a: App) => post(a, '/v1/activations/sigmoid/forward', { z: [0] });

describe('load shedding', () => {
  it('over the heap threshold: compute routes and /readyz answer 503 with Retry-After; /healthz and /metrics still 200', async () => {
    app = await buildTestApp({ maxHeapUsedBytes: 1, maxEventLoopDelayMs: 0 });
    const shedding = app;
    expect(await eventually(async () => (await forward(shedding)).statusCode === 503)).toBe(true);

    const shed = await forward(app);
    const problem = expectProblem(shed, 503, 'not-ready');
    expect(problem.detail).toMatch(/heap in use \d+ bytes > MAX_HEAP_USED_BYTES 1/);
    expect(shed.headers['retry-after']).toBe('10');

    expectProblem(await app.inject({ method: 'GET', url: '/readyz' }), 503, 'not-ready');
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
  });

  it('over the event-loop delay threshold while the loop is kept busy, and serving again once it is not', async () => {
    app = await buildTestApp({ maxEventLoopDelayMs: 1 });
    const busy = app;
    expect((await forward(busy)).statusCode).toBe(200);
    // Each tick spends 30 ms in synchronous work, so timers run about 30 ms late.
    const blocker = setInterval(() => {
      const until = Date.now() + 30;
      while (Date.now() < until);
    }, 1);
    try {
      expect(await eventually(async () => (await forward(busy)).statusCode === 503)).toBe(true);
      expect(expectProblem(await forward(busy), 503, 'not-ready').detail).toMatch(/event-loop delay/);
    } finally {
      clearInterval(blocker);
    }
    expect(await eventually(async () => (await forward(busy)).statusCode === 200)).toBe(true);
    expect((await busy.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });

  it('one long blocking stretch is not taken for an endless delay', async () => {
    app = await buildTestApp({ maxEventLoopDelayMs: 1000 });
    // 1.2 s in one synchronous stretch: no delay sample at all in that second, and timers ~0.2-1.2 s late.
    const until = Date.now() + 1200;
    while (Date.now() < until);
    // Let the sampler run at least once after the stretch.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await forward(app)).statusCode).toBe(200);
  });

  it('with both thresholds 0 nothing is shed', async () => {
    app = await buildTestApp({ maxHeapUsedBytes: 0, maxEventLoopDelayMs: 0 });
    // A heap of any size and a loop blocked for a second are fine: there is nothing to compare them with.
    const until = Date.now() + 1100;
    while (Date.now() < until);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await forward(app)).statusCode).toBe(200);
  });
});

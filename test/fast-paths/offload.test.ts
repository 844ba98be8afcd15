/**
 * The worker pool gives the same replies as the event loop: an app that sends every request to the pool
 * (threshold 1: bodies parsed there, jobs run there) against one that never does (threshold 0), byte for
 * byte, errors included. Runs the pool from the TypeScript sources (the tsx worker entry).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';
import { buildPoolPair, expectProblem, post } from '../support/app.js';

let inline: App;
let offloaded: App;
beforeAll(async () => {
  ({ inline, offloaded } = await buildPoolPair());
});
afterAll(async () => {
  await Promise.all([inline.close(), offloaded.close()]);
});

/** Deterministic doubles with full 17-digit representations. */
const values = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => Math.sin(seed * 1000 + i * 12.9898) * 4);
const batch = (rows: number, cols: number, seed: number) =>
  Array.from({ length: rows }, (_, r) => values(cols, seed + r));

const requests: [string, unknown][] = [
  ['/v1/activations/sigmoid/forward', { z: values(300, 1) }],
  ['/v1/activations/gelu/forward', { z: batch(7, 40, 2) }],
  ['/v1/activations/softmax/forward', { z: batch(5, 30, 3) }],
  ['/v1/activations/elu/derivative', { z: batch(4, 50, 4), params: { alpha: 0.5 } }],
  ['/v1/activations/tanh/derivative', { a: values(100, 5).map((v) => Math.tanh(v)) }],
  ['/v1/softmax/jacobian', { z: batch(3, 12, 6) }],
  ['/v1/softmax/vjp', { z: batch(3, 12, 7), v: batch(3, 12, 8) }],
  [
    '/v1/gradients/output-layer',
    {
      x: batch(6, 9, 9),
      weights: batch(9, 4, 10).map((row) => row.map((w) => w / 10)),
      bias: values(4, 11),
      targets: batch(6, 4, 12).map((row) => row.map((t) => (t + 4) / 8)),
      activation: 'sigmoid',
      loss: 'binary_cross_entropy',
      reduction: 'mean',
    },
  ],
];

describe('offloaded requests', () => {
  for (const [url, body] of requests)
    it(`${url} gives the same bytes in the pool as inline`, async () => {
      const [a, b] = await Promise.all([post(inline, url, body), post(offloaded, url, body)]);
      expect(a.statusCode, a.body).toBe(200);
      expect(b.statusCode, b.body).toBe(200);
      expect(b.headers['content-type']).toBe(a.headers['content-type']);
      expect(b.body).toBe(a.body);
    });

  it('a non-finite result in the pool is the same 422 naming the quantity', async () => {
    const body = { z: [-1e300, 1], params: { alpha: 1e300 } };
    for (const app of [inline, offloaded]) {
      const problem = expectProblem(await post(app, '/v1/activations/leaky_relu/forward', body), 422);
      expect(problem.detail).toMatch(/^a\b/);
    }
  });

  it('bodies the pool cannot pack (bad elements, ragged rows, invalid JSON) get the inline errors', async () => {
    const url = '/v1/activations/sigmoid/forward';
    for (const body of [{ z: [1, '2', 3] }, { z: [[1, 2], [3]] }, '{"z": [1, 2', { z: [1, 2], extra: [3] }]) {
      const [a, b] = await Promise.all([post(inline, url, body), post(offloaded, url, body)]);
      expect(b.statusCode).toBe(a.statusCode);
      expect(a.statusCode).toBe(400);
      const { requestId: _a, ...problemA } = a.json();
      const { requestId: _b, ...problemB } = b.json();
      expect(problemB).toEqual(problemA);
    }
  });

  it('an unknown field next to a packed tensor is still a 400 naming it', async () => {
    const res = await post(offloaded, '/v1/activations/sigmoid/forward', { z: [1, 2], zz: 3 });
    const problem = expectProblem(res, 400, 'invalid-request');
    expect(problem.errors?.map((e) => e.path)).toEqual(['/zz']);
  });

  it('MAX_ELEMENTS still holds for bodies parsed in the pool', async () => {
    const small = await buildApp(
      { ...defaultConfig, logLevel: 'silent', maxElements: 10 },
      { logger: false, offload: { threshold: 1, threads: 1 } },
    );
    try {
      expectProblem(await post(small, '/v1/activations/relu/forward', { z: values(11, 1) }), 413);
    } finally {
      await small.close();
    }
  });
});

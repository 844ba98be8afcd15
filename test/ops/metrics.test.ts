import { register as globalRegistry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';
import { buildTestApp, post } from '../support/app.js';

/** The value of one sample line `name{labels} value`, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

let app: App;
beforeAll(async () => {
  app = await buildTestApp();
});
afterAll(() => app.close());

const scrape = async () => {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.body;
};

describe('/metrics', () => {
  it('counts requests per route pattern and status in the latency histogram', async () => {
    for (let i = 0; i < 3; i++)
      expect((await post(app, '/v1/activations/relu/forward', { z: [1] })).statusCode).toBe(200);
    expect((await post(app, '/v1/activations/relu/forward', { z: [] })).statusCode).toBe(400);
    const text = await scrape();
    const route = '/v1/activations/:name/forward';
    expect(
      sample(text, 'http_request_duration_seconds_count', { method: 'POST', route, status_code: '200' }),
    ).toBe(3);
    expect(
      sample(text, 'http_request_duration_seconds_count', { method: 'POST', route, status_code: '400' }),
    ).toBe(1);
    const inf = sample(text, 'http_request_duration_seconds_bucket', {
      route,
      status_code: '200',
      le: '+Inf',
    });
    expect(inf).toBe(3);
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
  });

  it('labels unknown paths by nothing at all (no cardinality from scanners)', async () => {
    await app.inject({ method: 'GET', url: '/wp-admin/setup.php' });
    expect(await scrape()).not.toContain('wp-admin');
  });

  it('exposes process and event-loop metrics and requests in flight', async () => {
    const text = await scrape();
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ])
      expect(sample(text, name), name).toBeGreaterThanOrEqual(0);
    // The scrape itself is the one request in flight while the text is produced.
    expect(sample(text, 'http_requests_in_flight')).toBe(1);
  });

  it('counts the elements of the result tensors of /v1 compute routes, by route', async () => {
    const before = await scrape();
    const count = (text: string, route: string) =>
      sample(text, 'gradient_elements_computed_total', { route }) ?? 0;
    // derivative from z returns derivative and a: 2 x 6 numbers.
    await post(app, '/v1/activations/tanh/derivative', {
      z: [
        [1, 2, 3],
        [4, 5, 6],
      ],
    });
    // The Jacobian of two rows of 3 is 2 x 3 x 3 = 18 numbers, plus a: 6.
    await post(app, '/v1/softmax/jacobian', {
      z: [
        [1, 2, 3],
        [1, 1, 1],
      ],
    });
    // A rejected request computes nothing.
    await post(app, '/v1/softmax/jacobian', { z: [[1, 2], [1]] });
    // z, a, delta 2 x 2 each, weightGradient 3 x 2, biasGradient 2, inputGradient 2 x 3 (loss is a scalar).
    const layer = await post(app, '/v1/gradients/output-layer', {
      x: [
        [1, 2, 3],
        [4, 5, 6],
      ],
      weights: [
        [0.1, 0.2],
        [0.3, 0.4],
        [0.5, 0.6],
      ],
      targets: [
        [0, 1],
        [1, 0],
      ],
      activation: 'sigmoid',
    });
    expect(layer.statusCode, layer.body).toBe(200);
    const after = await scrape();
    expect(
      count(after, '/v1/activations/:name/derivative') - count(before, '/v1/activations/:name/derivative'),
    ).toBe(12);
    expect(count(after, '/v1/softmax/jacobian') - count(before, '/v1/softmax/jacobian')).toBe(24);
    expect(count(after, '/v1/gradients/output-layer') - count(before, '/v1/gradients/output-layer')).toBe(26);
  });

  it('counts /v2 inference results too, by route, as /v1 counts the same operation', async () => {
    const before = await scrape();
    const route = '/v2/models/:name/infer';
    const count = (text: string) => sample(text, 'gradient_elements_computed_total', { route }) ?? 0;
    // tanh.derivative from z: derivative and a, 2 x 3 each.
    const res = await app.inject({
      method: 'POST',
      url: '/v2/models/tanh.derivative/infer',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({
        inputs: [{ name: 'z', shape: [2, 3], datatype: 'FP64', data: [1, 2, 3, 4, 5, 6] }],
      }),
    });
    expect(res.statusCode, res.body).toBe(200);
    // A refused request computes nothing.
    await app.inject({
      method: 'POST',
      url: '/v2/models/sigmoid.derivative/infer',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ inputs: [{ name: 'a', shape: [2], datatype: 'FP64', data: [2, -0.5] }] }),
    });
    expect(count(await scrape()) - count(before)).toBe(12);
  });

  it('counts the same when the job runs in the worker pool', async () => {
    const pooled = await buildApp(
      { ...defaultConfig, logLevel: 'silent' },
      { logger: false, offload: { threshold: 1, threads: 1 } },
    );
    try {
      const res = await post(pooled, '/v1/activations/tanh/derivative', { z: [1, 2, 3] });
      expect(res.statusCode, res.body).toBe(200);
      const text = (await pooled.inject({ method: 'GET', url: '/metrics' })).body;
      expect(
        sample(text, 'gradient_elements_computed_total', { route: '/v1/activations/:name/derivative' }),
      ).toBe(6);
    } finally {
      await pooled.close();
    }
  });

  it('each app has its own registry: a new app starts from zero', async () => {
    const other = await buildTestApp();
    try {
      const text = (await other.inject({ method: 'GET', url: '/metrics' })).body;
      expect(
        sample(text, 'http_request_duration_seconds_count', { route: '/v1/activations/:name/forward' }),
      ).toBeUndefined();
      expect(
        sample(text, 'gradient_elements_computed_total', { route: '/v1/softmax/jacobian' }),
      ).toBeUndefined();
    } finally {
      await other.close();
    }
    // Nothing lands in prom-client's global registry, which every app in the process would share.
    expect(globalRegistry.getMetricsAsArray().map((m) => m.name)).toEqual([]);
  });

  it('is not part of the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: object };
    expect(Object.keys(doc.paths)).not.toContain('/metrics');
  });
});

import { connect } from 'node:net';
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

  it('renders each series as a Prometheus histogram: cumulative buckets, +Inf = _count, a sum', async () => {
    for (let i = 0; i < 4; i++) await app.inject({ method: 'GET', url: '/v1/activations' });
    const text = await scrape();
    const labels = { method: 'GET', route: '/v1/activations', status_code: '200' };
    const count = sample(text, 'http_request_duration_seconds_count', labels) ?? 0;
    expect(count).toBeGreaterThanOrEqual(4);
    const buckets = ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1']
      .concat(['2.5', '5', '10', '+Inf'])
      .map((le) => sample(text, 'http_request_duration_seconds_bucket', { ...labels, le }));
    for (const [i, b] of buckets.entries()) {
      expect(b, `bucket ${i}`).toBeDefined();
      if (i > 0) expect(b).toBeGreaterThanOrEqual(buckets[i - 1] ?? 0);
    }
    expect(buckets.at(-1)).toBe(count);
    expect(sample(text, 'http_request_duration_seconds_sum', labels)).toBeGreaterThan(0);
    // A GET route's automatic HEAD twin is its own series, not a second count of the GET.
    await app.inject({ method: 'HEAD', url: '/v1/activations' });
    const after = await scrape();
    expect(sample(after, 'http_request_duration_seconds_count', labels)).toBe(count);
    expect(
      sample(after, 'http_request_duration_seconds_count', { ...labels, method: 'HEAD' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('counts requests answered by a global hook (401 without a key) under their route', async () => {
    const guarded = await buildTestApp({ apiKeys: ['k'.repeat(32)] });
    try {
      for (let i = 0; i < 2; i++)
        expect((await post(guarded, '/v1/activations/relu/forward', { z: [1] })).statusCode).toBe(401);
      const text = (await guarded.inject({ method: 'GET', url: '/metrics' })).body;
      expect(
        sample(text, 'http_request_duration_seconds_count', {
          method: 'POST',
          route: '/v1/activations/:name/forward',
          status_code: '401',
        }),
      ).toBe(2);
    } finally {
      await guarded.close();
    }
  });

  it('a request whose client goes away leaves the in-flight count and is no latency sample', async () => {
    const server = await buildTestApp();
    try {
      await server.listen({ port: 0, host: '127.0.0.1' });
      const { port } = server.server.address() as { port: number };
      const scrapeOver = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      // Headers and part of a body: the request is in flight, waiting for the rest.
      const socket = connect(port, '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(
        'POST /v1/activations/relu/forward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          'Content-Length: 100\r\n\r\n{"z": [1',
      );
      const inFlight = async (n: number) => {
        for (let i = 0; i < 100; i++) {
          // The scrape is itself one request in flight.
          if (sample(await scrapeOver(), 'http_requests_in_flight') === n + 1) return true;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return false;
      };
      expect(await inFlight(1)).toBe(true);
      socket.destroy();
      expect(await inFlight(0)).toBe(true);
      expect(await scrapeOver()).not.toContain('route="/v1/activations/:name/forward"');
    } finally {
      await server.close();
    }
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

import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { buildTestApp } from '../support/app.js';

let app: App;
let base: string;
beforeAll(async () => {
  app = await buildTestApp();
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
afterAll(() => app.close());

describe('a real listening server', () => {
  it('answers a forward request over HTTP with the request id echoed', async () => {
    const res = await request(`${base}/v1/activations/sigmoid/forward`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'http-test-1' },
      body: JSON.stringify({ z: [-2, 0, 2] }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-request-id']).toBe('http-test-1');
    const { a } = (await res.body.json()) as { a: number[] };
    expect(a[1]).toBe(0.5);
  });

  it('answers malformed JSON with a problem, and then a good request', async () => {
    const bad = await request(`${base}/v1/softmax/jacobian`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"z": [1, 2,',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(((await bad.body.json()) as { status: number }).status).toBe(400);
    const good = await request(`${base}/v1/softmax/jacobian`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ z: [1, 2, 3] }),
    });
    expect(good.statusCode).toBe(200);
    expect(((await good.body.json()) as { jacobian: number[][] }).jacobian).toHaveLength(3);
  });

  it('serves the OpenAPI document', async () => {
    const res = await request(`${base}/openapi.json`);
    expect(res.statusCode).toBe(200);
    expect(((await res.body.json()) as { openapi: string }).openapi).toBe('3.1.0');
  });
});

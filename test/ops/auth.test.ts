import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { matchKey } from '../../src/plugins/auth.js';
import { buildTestApp, expectProblem, post } from '../support/app.js';

const key1 = 'first-key-0123456789';
const key2 = 'second-key-abcdefghij';
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('bearer authentication with API_KEYS', () => {
  let app: App;
  beforeAll(async () => {
    app = await buildTestApp({ apiKeys: [key1, key2] });
  });
  afterAll(() => app.close());

  it('a /v1 compute route without a key is a 401 problem with the Bearer challenge', async () => {
    const res = await post(app, '/v1/activations/relu/forward', { z: [1] });
    const problem = expectProblem(res, 401, 'unauthorized');
    expect(problem.detail).toMatch(/Authorization: Bearer/);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="gradient-service"');
  });

  it('a wrong key, a key of another length, a prefix of a key and other schemes are 401 invalid_token', async () => {
    for (const authorization of [
      `Bearer ${key1}x`,
      `Bearer ${key1.slice(0, -1)}`,
      'Bearer wrong-key-wrong-key-',
      `Basic ${Buffer.from(`user:${key1}`).toString('base64')}`,
      key1,
      'Bearer',
    ]) {
      const res = await post(app, '/v1/activations/relu/forward', { z: [1] }, { authorization });
      expectProblem(res, 401, 'unauthorized');
      expect(res.headers['www-authenticate'], authorization).toBe(
        'Bearer realm="gradient-service", error="invalid_token"',
      );
    }
  });

  it('either configured key is accepted (scheme case-insensitive); GET /v1 routes need it too', async () => {
    expect((await post(app, '/v1/activations/relu/forward', { z: [-1, 2] }, bearer(key1))).json()).toEqual({
      a: [0, 2],
    });
    const lower = await post(
      app,
      '/v1/softmax/vjp',
      { z: [0, 0], v: [1, 0] },
      { authorization: `bearer ${key2}` },
    );
    expect(lower.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/v1/activations' })).statusCode).toBe(401);
    expect(
      (await app.inject({ method: 'GET', url: '/v1/activations', headers: bearer(key2) })).statusCode,
    ).toBe(200);
  });

  it('covers every path under /v1 and /v2 by prefix, including unknown and percent-encoded ones', async () => {
    for (const url of ['/v1/not-a-route', '/v1/activations?x=1'])
      expectProblem(await app.inject({ method: 'GET', url }), 401, 'unauthorized');
    // /v2 answers in its own protocol's { error } shape, with the same status and challenge.
    for (const url of ['/v2/models', '/v2/anything/else', '/v2']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
      expect(res.headers['www-authenticate'], url).toBe('Bearer realm="gradient-service"');
    }
    // A percent-encoded path may be decoded by the router: it must not reach the route without a key.
    const encoded = await app.inject({ method: 'GET', url: '/%761/activations' });
    expect(encoded.statusCode).not.toBe(200);
  });

  it('leaves probes, docs, the OpenAPI document and (by default) /metrics open', async () => {
    for (const url of [
      '/healthz',
      '/readyz',
      '/v2/health/live',
      '/v2/health/ready',
      '/openapi.json',
      '/openapi.yaml',
      '/docs/',
      '/metrics',
    ])
      expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
  });

  it('documents the bearer scheme as required on /v1 operations and not on the probes', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
      paths: Record<string, Record<string, { security?: unknown; responses: Record<string, unknown> }>>;
    };
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    const forward = doc.paths['/v1/activations/{name}/forward'].post;
    expect(forward.security).toEqual([{ bearerAuth: [] }]);
    expect(forward.responses['401']).toBeDefined();
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });
});

describe('METRICS_AUTH=true', () => {
  it('closes /metrics to requests without a key, and only that besides /v1 and /v2', async () => {
    const app = await buildTestApp({ apiKeys: [key1], metricsAuth: true });
    try {
      expectProblem(await app.inject({ method: 'GET', url: '/metrics' }), 401, 'unauthorized');
      expect((await app.inject({ method: 'GET', url: '/metrics', headers: bearer(key1) })).statusCode).toBe(
        200,
      );
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('without API_KEYS', () => {
  it('everything is open and the document shows the bearer scheme as optional', async () => {
    const app = await buildTestApp({ metricsAuth: true });
    try {
      expect((await post(app, '/v1/activations/relu/forward', { z: [1] })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
      const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
        components: { securitySchemes: Record<string, { description: string }> };
        paths: Record<string, Record<string, { security?: unknown }>>;
      };
      expect(doc.components.securitySchemes.bearerAuth.description).toMatch(
        /when the server runs with API_KEYS/,
      );
      // `{}` is the "no credentials" alternative: a client may send a key, and need not.
      expect(doc.paths['/v1/activations/{name}/forward'].post.security).toEqual([{ bearerAuth: [] }, {}]);
      expect(doc.paths['/healthz'].get.security).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

describe('matchKey', () => {
  const keys = [key1, key2].map((k) => createHash('sha256').update(k).digest());
  it('returns the position of the matching key, -1 otherwise', () => {
    expect(matchKey(`Bearer ${key1}`, keys)).toBe(0);
    expect(matchKey(`Bearer   ${key2}  `, keys)).toBe(1);
    expect(matchKey(undefined, keys)).toBe(-1);
    expect(matchKey(`Bearer ${key1} ${key2}`, keys)).toBe(-1);
    expect(matchKey(`Token ${key1}`, keys)).toBe(-1);
  });
});

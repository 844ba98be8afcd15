import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { buildTestApp, expectProblem } from '../support/app.js';

const key1 = 'first-key-0123456789';
const key2 = 'second-key-abcdefghij';

let app: App | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const forward = (a: App, headers: Record<string, string> = {}, remoteAddress = '127.0.0.1') =>
  a.inject({
    method: 'POST',
    url: '/v1/activations/relu/forward',
    headers: { 'content-type': 'application/json', ...headers },
    payload: '{"z":[1]}',
    remoteAddress,
  });

describe('RATE_LIMIT', () => {
  it('per client IP: the request beyond the limit is a 429 problem with Retry-After; another IP is unaffected', async () => {
    app = await buildTestApp({ rateLimit: 3 });
    for (let i = 0; i < 3; i++) expect((await forward(app)).statusCode).toBe(200);
    const limited = await forward(app);
    const problem = expectProblem(limited, 429, 'rate-limited');
    expect(problem.detail).toMatch(/More than 3 requests per minute \(RATE_LIMIT\)/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect((await forward(app, {}, '10.0.0.2')).statusCode).toBe(200);
  });

  it('never limits probes, docs or /metrics', async () => {
    app = await buildTestApp({ rateLimit: 1 });
    for (let i = 0; i < 3; i++)
      for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json'])
        expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    expect((await forward(app)).statusCode).toBe(200);
  });

  it('with API keys, per key: two keys from one address each get the full limit', async () => {
    app = await buildTestApp({ rateLimit: 2, apiKeys: [key1, key2] });
    const as = (key: string) => ({ authorization: `Bearer ${key}` });
    for (let i = 0; i < 2; i++) expect((await forward(app, as(key1))).statusCode).toBe(200);
    expectProblem(await forward(app, as(key1)), 429, 'rate-limited');
    for (let i = 0; i < 2; i++) expect((await forward(app, as(key2))).statusCode).toBe(200);
    // The same key from another address shares its count.
    expectProblem(await forward(app, as(key2), '10.0.0.9'), 429, 'rate-limited');
  });

  it('0 means no limit', async () => {
    app = await buildTestApp({ rateLimit: 0 });
    for (let i = 0; i < 20; i++) expect((await forward(app)).statusCode).toBe(200);
  });
});

describe('failed logins count against RATE_LIMIT', () => {
  it('wrong keys get 401 up to the limit, then 429 with Retry-After, per client address', async () => {
    app = await buildTestApp({ rateLimit: 2, apiKeys: [key1] });
    const wrong = { authorization: 'Bearer wrong-key-0123456789' };
    for (let i = 0; i < 2; i++) expectProblem(await forward(app, wrong), 401, 'unauthorized');
    const limited = await forward(app, wrong);
    expectProblem(limited, 429, 'rate-limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // No key at all counts in the same bucket: the address is what is limited.
    expectProblem(await forward(app), 429, 'rate-limited');
    // Another address still gets its 401s, and the valid key its own count.
    expectProblem(await forward(app, wrong, '10.0.0.7'), 401, 'unauthorized');
    expect((await forward(app, { authorization: `Bearer ${key1}` })).statusCode).toBe(200);
  });

  it('on /metrics with METRICS_AUTH too, in the same count; a scrape with a valid key is never limited', async () => {
    app = await buildTestApp({ rateLimit: 2, apiKeys: [key1], metricsAuth: true });
    const scrape = (a: App, headers: Record<string, string> = {}) =>
      a.inject({ method: 'GET', url: '/metrics', headers });
    const wrong = { authorization: 'Bearer wrong-key-0123456789' };
    for (let i = 0; i < 2; i++) expectProblem(await scrape(app, wrong), 401, 'unauthorized');
    const limited = await scrape(app, wrong);
    expectProblem(limited, 429, 'rate-limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // The address's budget is spent on compute routes as well: /metrics is no second allowance for guesses.
    expectProblem(await forward(app, wrong), 429, 'rate-limited');
    for (let i = 0; i < 4; i++)
      expect((await scrape(app, { authorization: `Bearer ${key1}` })).statusCode).toBe(200);
  });

  it('a failed attempt uses up the address budget that requests without keys share', async () => {
    app = await buildTestApp({ rateLimit: 3, apiKeys: [key1] });
    expectProblem(await forward(app), 401, 'unauthorized');
    expectProblem(await forward(app, { authorization: 'Basic abc' }), 401, 'unauthorized');
    expectProblem(await forward(app, { authorization: 'Bearer nope-nope-nope-nope' }), 401, 'unauthorized');
    expectProblem(await forward(app, { authorization: 'Bearer nope-nope-nope-nope' }), 429, 'rate-limited');
  });
});

describe('TRUST_PROXY', () => {
  const viaProxy = (a: App, client: string) => forward(a, { 'x-forwarded-for': client }, '10.0.0.1');

  it('unset: every client behind a proxy is the proxy, and they share one RATE_LIMIT', async () => {
    app = await buildTestApp({ rateLimit: 1 });
    expect((await viaProxy(app, '192.0.2.1')).statusCode).toBe(200);
    expectProblem(await viaProxy(app, '192.0.2.2'), 429, 'rate-limited');
  });

  it.each([
    ['true', true],
    ['the proxy address', ['10.0.0.1']],
    ['the proxy range', ['10.0.0.0/8']],
    ['one hop', 1],
  ] as const)('%s: each forwarded client has its own RATE_LIMIT', async (_, trustProxy) => {
    app = await buildTestApp({
      rateLimit: 1,
      trustProxy: typeof trustProxy === 'object' ? [...trustProxy] : trustProxy,
    });
    expect((await viaProxy(app, '192.0.2.1')).statusCode).toBe(200);
    expect((await viaProxy(app, '192.0.2.2')).statusCode).toBe(200);
    expectProblem(await viaProxy(app, '192.0.2.1'), 429, 'rate-limited');
  });

  it('a proxy outside the trusted range is not believed', async () => {
    app = await buildTestApp({ rateLimit: 1, trustProxy: ['172.16.0.0/12'] });
    expect((await viaProxy(app, '192.0.2.1')).statusCode).toBe(200);
    expectProblem(await viaProxy(app, '192.0.2.2'), 429, 'rate-limited');
  });
});

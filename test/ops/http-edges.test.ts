/**
 * Errors decided before any route runs, over real sockets: routing 404/405, bad percent-encoding, heads
 * over 16 KiB, malformed HTTP, the 408 of the request timeout. Each is problem+json outside /v2 and the
 * protocol's { error } under /v2, with the request id in the body and the x-request-id header.
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { buildTestApp } from '../support/app.js';
import { exchange, openRaw, parseResponses, type RawResponse, within } from '../support/raw-http.js';

let app: App;
let port: number;
// Short timeouts for the 408s, on their own server: on a loaded machine they would cut the other tests' requests.
let slowApp: App;
let slowPort: number;
beforeAll(async () => {
  app = await buildTestApp();
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
  slowApp = await buildTestApp({ headersTimeoutMs: 1000, requestTimeoutMs: 1200 });
  await slowApp.listen({ port: 0, host: '127.0.0.1' });
  slowPort = (slowApp.server.address() as AddressInfo).port;
});
afterAll(() => Promise.all([app.close(), slowApp.close()]));

const problemPrefix = 'urn:gradient-service:problem:';

/** Asserts one problem+json response with this status and type; returns its body. */
function expectRawProblem(responses: RawResponse[], status: number, type: string) {
  expect(responses.length).toBe(1);
  const [res] = responses;
  expect(res.status, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(res.body);
  expect(body).toMatchObject({ type: problemPrefix + type, status, title: expect.any(String) });
  expect(body.detail.length).toBeGreaterThan(0);
  expect(typeof body.instance).toBe('string');
  expect(body.requestId).toBe(res.headers['x-request-id']);
  expect(Buffer.byteLength(res.body)).toBeLessThan(16_384);
  return body as { detail: string; instance: string; requestId: string };
}

/** Asserts one /v2 error: { error: string } and nothing else, as application/json. */
function expectRawV2Error(responses: RawResponse[], status: number): string {
  expect(responses.length).toBe(1);
  const [res] = responses;
  expect(res.status, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = JSON.parse(res.body);
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error).toBe('string');
  expect(res.headers['x-request-id']).toMatch(/.+/);
  return body.error;
}

const get = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}Connection: close\r\n\r\n`;

async function stillAnswers() {
  const [res] = await exchange(port, get('/healthz'));
  expect(res.status).toBe(200);
}

describe('routing errors on both surfaces', () => {
  it('404 and 405 outside /v2 are problems; the 405 names the allowed methods', async () => {
    expectRawProblem(await exchange(port, get('/nope')), 404, 'not-found');
    const responses = await exchange(port, get('/v1/activations/relu/forward'));
    const problem = expectRawProblem(responses, 405, 'method-not-allowed');
    expect(problem.detail).toContain('POST');
    expect(responses[0].headers.allow).toBe('POST');
  });

  it('under /v2: a 405 with Allow (not a 404), and a 404, both as { error }', async () => {
    const responses = await exchange(port, get('/v2/models/relu/infer'));
    expect(expectRawV2Error(responses, 405)).toMatch(/GET is not allowed.*POST/);
    expect(responses[0].headers.allow).toBe('POST');
    expect(expectRawV2Error(await exchange(port, get('/v2/nope')), 404)).toMatch(/no route/i);
  });

  it('GET /healthz/ is a 404 naming /healthz, not a 405 that allows GET', async () => {
    const problem = expectRawProblem(await exchange(port, get('/healthz/')), 404, 'not-found');
    expect(problem.detail).toContain('trailing slash');
    expect(problem.detail).toContain('/healthz exists');
    const forward = expectRawProblem(
      await exchange(
        port,
        'POST /v1/activations/relu/forward/ HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 9\r\nConnection: close\r\n\r\n{"z":[1]}',
      ),
      404,
      'not-found',
    );
    expect(forward.detail).toContain('/v1/activations/relu/forward exists');
  });
});

describe('unmatched requests are answered before their body', () => {
  const withBody = (method: string, path: string, body: string) =>
    `${method} ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;

  it('an empty or malformed JSON body to no route is its 404 or 405, not a 400 about the body', async () => {
    expectRawProblem(await exchange(port, withBody('PUT', '/v1/nope', '')), 404, 'not-found');
    expectRawProblem(await exchange(port, withBody('PUT', '/v1/nope', '{"z": [1,')), 404, 'not-found');
    expect(expectRawV2Error(await exchange(port, withBody('PUT', '/v2/nope', '')), 404)).toMatch(/no route/i);
    const responses = await exchange(port, withBody('POST', '/v2/models/sigmoid', ''));
    expect(expectRawV2Error(responses, 405)).toContain('GET');
    expect(responses[0].headers.allow).toBe('GET, HEAD');
  });

  it('with API keys, a request without one to an unmatched /v2 path is a 401 as { error }', async () => {
    const keyed = await buildTestApp({ apiKeys: ['k'.repeat(32)] });
    try {
      const res = await keyed.inject({ method: 'GET', url: '/v2/nope' });
      expect(res.statusCode).toBe(401);
      expect(Object.keys(res.json())).toEqual(['error']);
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
    } finally {
      await keyed.close();
    }
  });
});

describe('URLs the router refuses', () => {
  it('bad percent-encoding: 400 problem naming the path; { error } under /v2', async () => {
    const problem = expectRawProblem(
      await exchange(port, get('/v1/activations/%E0%A4%A/forward')),
      400,
      'bad-url',
    );
    expect(problem.detail).toContain('percent-encoding');
    expect(problem.instance).toBe('/v1/activations/%E0%A4%A/forward');
    expect(expectRawV2Error(await exchange(port, get('/v2/models/%E0%A4%A')), 400)).toContain(
      'percent-encoding',
    );
    await stillAnswers();
  });

  it('a path parameter over 100 characters: 414 problem', async () => {
    const name = 'x'.repeat(150);
    const problem = expectRawProblem(
      await exchange(port, get(`/v1/activations/${name}`)),
      414,
      'uri-too-long',
    );
    expect(problem.detail).toContain('100 characters');
  });
});

describe('malformed HTTP, answered on the raw socket', () => {
  it('a 20,000-character path: 414 problem; { error } under /v2; the body echoes only its start', async () => {
    const responses = await exchange(port, get(`/v1/activations/${'a'.repeat(20_000)}/forward`));
    const problem = expectRawProblem(responses, 414, 'uri-too-long');
    expect(problem.instance.length).toBeLessThanOrEqual(256);
    expect(problem.instance.startsWith('/v1/activations/aaaa')).toBe(true);
    expectRawV2Error(await exchange(port, get(`/v2/models/${'a'.repeat(20_000)}/infer`)), 414);
    await stillAnswers();
  });

  it('headers over 16 KiB: 431 problem', async () => {
    const big = `X-Big: ${'b'.repeat(20_000)}\r\n`;
    expectRawProblem(await exchange(port, get('/v1/activations', big)), 431, 'headers-too-large');
    expectRawV2Error(await exchange(port, get('/v2/models', big)), 431);
  });

  it('Content-Length together with Transfer-Encoding: 400 problem naming the reason', async () => {
    const smuggle = (path: string) =>
      `POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{"z":[1]}\r\n0\r\n\r\n`;
    const problem = expectRawProblem(
      await exchange(port, smuggle('/v1/activations/relu/forward')),
      400,
      'malformed-request',
    );
    expect(problem.detail).toMatch(/Content-Length|Transfer-Encoding/);
    expectRawV2Error(await exchange(port, smuggle('/v2/models/relu/infer')), 400);
    await stillAnswers();
  });

  it('a body that breaks the parser after its answer has begun: that answer arrives whole, then the close', async () => {
    // An HTTP/2.0 request line makes node answer from the headers, then fail on the body (an unknown
    // Transfer-Encoding): the answer to GET /openapi.yaml is already being written, from memory.
    const request = `GET /openapi.yaml HTTP/2.0\r\nHost: test\r\nTransfer-Encoding: xchunked\r\n\r\n{"z":[1`;
    const document = await app.inject({ method: 'GET', url: '/openapi.yaml' });
    for (let attempt = 0; attempt < 5; attempt++) {
      const responses = await exchange(port, request);
      expect(responses.length).toBe(1);
      expect(responses[0].status).toBe(200);
      expect(responses[0].body).toBe(document.body);
    }
    await stillAnswers();
  });

  it('a request line that is not HTTP: 400 problem whose instance names the occurrence', async () => {
    const problem = expectRawProblem(await exchange(port, 'HELLO\r\n\r\n'), 400, 'malformed-request');
    expect(problem.instance).toBe(`urn:uuid:${problem.requestId}`);
  });

  it('a method node does not know (a lowercase get): 400 in the shape of the surface its path names', async () => {
    const lowercase = (path: string) => `get ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`;
    expect(expectRawV2Error(await exchange(port, lowercase('/v2/health/live')), 400)).toContain('method');
    const problem = expectRawProblem(await exchange(port, lowercase('/healthz')), 400, 'malformed-request');
    expect(problem.instance).toBe('/healthz');
  });

  it('an absolute-form target (http://host/path) is on its path surface, wherever the error is decided', async () => {
    const absolute = (method: string, target: string, newline = '\r\n', extra = '') =>
      [
        `${method} ${target} HTTP/1.1`,
        'Host: localhost',
        ...(extra ? [extra] : []),
        'Connection: close',
        '',
        '',
      ].join(newline);
    // Bare LF line endings: node's parser refuses the request on the raw socket.
    expect(
      expectRawV2Error(await exchange(port, absolute('POST', 'http://localhost/v2/models/nope', '\n')), 400),
    ).toContain('HTTP/1.1');
    expectRawProblem(
      await exchange(port, absolute('POST', 'http://localhost/v1/activations/relu/forward', '\n')),
      400,
      'malformed-request',
    );
    // No route, a method the path does not allow, bad percent-encoding, no Host: decided before any /v2 route.
    expect(
      expectRawV2Error(await exchange(port, absolute('GET', 'http://localhost/v2/nope')), 404),
    ).toContain('/v2/nope');
    expectRawV2Error(
      await exchange(port, absolute('DELETE', 'HTTPS://LOCALHOST:8080/v2/health/live?x=1')),
      405,
    );
    expectRawV2Error(await exchange(port, absolute('GET', 'http://localhost/v2/%zz')), 400);
    expectRawV2Error(
      await exchange(port, 'GET http://localhost/v2/health/live HTTP/1.1\r\nConnection: close\r\n\r\n'),
      400,
    );
    // Outside /v2 the problem names the path, not the whole target.
    const problem = expectRawProblem(
      await exchange(port, absolute('GET', 'http://localhost/v1/nope?q=1')),
      404,
      'not-found',
    );
    expect(problem.instance).toBe('/v1/nope');
    const [health] = await exchange(port, absolute('GET', 'http://localhost/healthz'));
    expect(health.status).toBe(200);
    await stillAnswers();
  });

  it('a # in the target ends the path, for the router and for the error surface alike', async () => {
    // The router takes /v2#x as /v2 (GET only): a PATCH is its 405 as { error }, not a 404 problem.
    const patch = await exchange(port, 'PATCH /v2#x HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
    expect(expectRawV2Error(patch, 405)).toContain('/v2');
    expect(patch[0].headers.allow).toMatch(/GET/);
    const problem = expectRawProblem(
      await exchange(
        port,
        'POST /healthz#x HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      ),
      405,
      'method-not-allowed',
    );
    expect(problem.instance).toBe('/healthz');
  });

  it('a bare LF or a NUL in a header: 400 problem, the server unharmed', async () => {
    expectRawProblem(
      await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: test\r\nX-A: \0\r\n\r\n'),
      400,
      'malformed-request',
    );
    await stillAnswers();
  });
});

describe('requests node answers before Fastify', () => {
  it('CONNECT: 405 problem with Allow (node would close the socket without an answer)', async () => {
    const responses = await exchange(
      port,
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    );
    const problem = expectRawProblem(responses, 405, 'method-not-allowed');
    expect(problem.detail).toContain('not a proxy');
    expect(responses[0].headers.allow).toBe('GET, HEAD, POST');
  });

  it('an Expect other than 100-continue: 417 problem (node sends an empty 417); { error } under /v2', async () => {
    const expecting = (path: string) =>
      `POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nExpect: teapot\r\nContent-Length: 9\r\n\r\n{"z":[1]}`;
    const problem = expectRawProblem(
      await exchange(port, expecting('/v1/activations/relu/forward')),
      417,
      'expectation-failed',
    );
    expect(problem.detail).toContain('teapot');
    expect(problem.instance).toBe('/v1/activations/relu/forward');
    expect(expectRawV2Error(await exchange(port, expecting('/v2/models/relu/infer')), 417)).toContain(
      '100-continue',
    );
    await stillAnswers();
  });
  it('HTTP/1.1 without a Host header: 400 problem (node sends an empty 400); { error } under /v2', async () => {
    const problem = expectRawProblem(
      await exchange(port, 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'),
      400,
      'malformed-request',
    );
    expect(problem.detail).toContain('Host');
    expect(
      expectRawV2Error(
        await exchange(port, 'GET /v2/health/live HTTP/1.1\r\nConnection: close\r\n\r\n'),
        400,
      ),
    ).toContain('Host');
    // HTTP/1.0 has no Host requirement.
    const [old] = await exchange(port, 'GET /healthz HTTP/1.0\r\n\r\n');
    expect(old.status).toBe(200);
    await stillAnswers();
  });
});

describe('the request timeout', () => {
  it('a body that stops arriving: 408 problem carrying the request id of the request', async () => {
    const connection = await openRaw(slowPort);
    connection.socket.write(
      'POST /v1/activations/relu/forward HTTP/1.1\r\nHost: test\r\nX-Request-Id: slow-body-1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"z":',
    );
    expect(await within(connection.closed, 5000)).toBe(true);
    const problem = expectRawProblem(parseResponses(connection.received()), 408, 'request-timeout');
    expect(problem.requestId).toBe('slow-body-1');
    expect(problem.instance).toBe('/v1/activations/relu/forward');
    expect(problem.detail).toContain('REQUEST_TIMEOUT_MS');
  });

  it('under /v2: 408 as { error }', async () => {
    const connection = await openRaw(slowPort);
    connection.socket.write(
      'POST /v2/models/relu/infer HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"inputs":',
    );
    expect(await within(connection.closed, 5000)).toBe(true);
    expect(expectRawV2Error(parseResponses(connection.received()), 408)).toContain('REQUEST_TIMEOUT_MS');
  });

  it('headers that never end: 408 problem', async () => {
    const connection = await openRaw(slowPort);
    connection.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n');
    expect(await within(connection.closed, 5000)).toBe(true);
    expectRawProblem(parseResponses(connection.received()), 408, 'request-timeout');
  });
});

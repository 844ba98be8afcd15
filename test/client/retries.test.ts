/**
 * The client's retries, case by case (packages/client/src/index.ts): what the service refused before any
 * work is repeated, what it computed and gave up on (504 computation-timeout) never is, and, unless
 * retryInterrupted is false, a request lost with its connection or answered by a proxy (502/503/504 without
 * problem+json) is. Then the binary-tensor methods, against the real service and with the same retries.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BinaryTensor,
  createClient,
  GradientServiceError,
  tensorMediaType,
} from '../../packages/client/src/index.js';
import { type App, buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';
import { defaultParams, findActivation, forwardTensor } from '../../src/core/activations/index.js';

/** A node:http server answering the n-th request with `handler` (after reading its body). */
async function fakeServer(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void) {
  const counts = { requests: 0 };
  const server = createServer((req, res) => {
    counts.requests++;
    req.resume();
    req.on('end', () => handler(req, res, counts.requests));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const ok = (res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"a":[0.5]}');
};

/** Calls activationForward once through a fresh client against `handler`; the outcome and requests seen. */
async function forwardAgainst(
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void,
  options: { retryInterrupted?: boolean } = {},
) {
  const fake = await fakeServer(handler);
  const c = createClient({ baseUrl: fake.url, ...options });
  try {
    const result = await c.activationForward('sigmoid', { z: [0] }).catch((e: unknown) => e);
    return { result, requests: fake.counts.requests };
  } finally {
    await c.close();
    await fake.close();
  }
}

describe('POST retries', () => {
  it("never repeats the service's 504 computation-timeout (the work ran to OFFLOAD_TIMEOUT_MS)", async () => {
    const { result, requests } = await forwardAgainst((_req, res) => {
      res.writeHead(504, { 'content-type': 'application/problem+json' });
      res.end(
        JSON.stringify({
          type: 'urn:gradient-service:problem:computation-timeout',
          title: 'Gateway Timeout',
          status: 504,
          detail: 'did not finish within 40 ms (OFFLOAD_TIMEOUT_MS)',
        }),
      );
    });
    expect(result).toBeInstanceOf(GradientServiceError);
    expect((result as GradientServiceError).type).toBe('urn:gradient-service:problem:computation-timeout');
    expect(requests).toBe(1);
  });

  it.each([502, 503, 504])(
    "repeats a proxy's %i (no problem+json), not with retryInterrupted: false",
    async (status) => {
      const proxy = (_req: IncomingMessage, res: ServerResponse, n: number) => {
        if (n > 1) return ok(res);
        res.writeHead(status, { 'content-type': 'text/html' });
        res.end(`<html><body><h1>${status}</h1>No server is available.</body></html>`);
      };
      expect(await forwardAgainst(proxy)).toEqual({ result: { a: [0.5] }, requests: 2 });
      const once = await forwardAgainst(proxy, { retryInterrupted: false });
      expect((once.result as GradientServiceError).status).toBe(status);
      expect(once.requests).toBe(1);
    },
  );

  it("repeats a draining instance's refusal: Fastify's own 503 while closing (application/json)", async () => {
    const { result, requests } = await forwardAgainst((_req, res, n) => {
      if (n > 1) return ok(res);
      res.writeHead(503, { 'content-type': 'application/json', connection: 'close' });
      res.end('{"error":"Service Unavailable","message":"Service Unavailable","statusCode":503}');
    });
    expect(result).toEqual({ a: [0.5] });
    expect(requests).toBe(2);
  });

  it('repeats a request whose answer broke off mid-body (a replica killed while writing)', async () => {
    const broken = (req: IncomingMessage, res: ServerResponse, n: number) => {
      if (n > 1) return ok(res);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"a":[0.5,');
      setTimeout(() => req.socket.destroy(), 20);
    };
    expect(await forwardAgainst(broken)).toEqual({ result: { a: [0.5] }, requests: 2 });
    const once = await forwardAgainst(broken, { retryInterrupted: false });
    expect(once.result).toBeInstanceOf(Error);
    expect(once.requests).toBe(1);
  });
});

describe('against the real service', () => {
  it('a computation past OFFLOAD_TIMEOUT_MS reaches the service once (it answered 503 with Retry-After: three times)', async () => {
    // A pool handler that loops on a body with "mode": "loop" (test/support/hostile-offload.ts).
    const handler = new URL('../support/hostile-offload.ts', import.meta.url);
    const app = await buildApp(
      { ...defaultConfig, logLevel: 'silent', maxEventLoopDelayMs: 0 },
      { logger: false, offload: { threshold: 1, threads: 1, timeoutMs: 300, handler } },
    );
    let requests = 0;
    app.addHook('onRequest', async () => {
      requests++;
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const c = createClient({ baseUrl: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` });
    try {
      const body = { z: [0], mode: 'loop' } as unknown as { z: number[] };
      const error = await c.activationForward('sigmoid', body).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GradientServiceError);
      expect((error as GradientServiceError).status).toBe(504);
      expect((error as GradientServiceError).retryAfter).toBeUndefined();
      expect(requests).toBe(1);
    } finally {
      await c.close();
      await app.close();
    }
  });
});

describe('binary-tensor methods', () => {
  let app: App;
  let baseUrl: string;
  beforeAll(async () => {
    app = await buildApp({ ...defaultConfig, logLevel: 'silent', maxEventLoopDelayMs: 0 }, { logger: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => app?.close());

  it('forward and derivative send and receive float64 tensors, batch shapes kept', async () => {
    const c = createClient({ baseUrl });
    try {
      const z: BinaryTensor = { data: Float64Array.from([-2, -0.5, 0, 0.5, 2, 3]), shape: [2, 3] };
      const { a } = await c.activationForwardBinary('gelu', { z });
      expect(a.shape).toEqual([2, 3]);
      const gelu = findActivation('gelu');
      if (!gelu) throw new Error('gelu');
      expect(Array.from(a.data)).toEqual(Array.from(forwardTensor(gelu, z.data, 3, defaultParams(gelu))));

      const leaky = await c.activationForwardBinary('leaky_relu', {
        z: { data: Float64Array.from([-1, 1]), shape: [2] },
        params: { alpha: 0.25 },
      });
      expect(Array.from(leaky.a.data)).toEqual([-0.25, 1]);

      const derivative = await c.activationDerivativeBinary('sigmoid', {
        z: { data: Float64Array.from([0]), shape: [1] },
      });
      const [field] = Object.values(derivative);
      expect(Array.from((field as BinaryTensor).data)).toEqual([0.25]);
    } finally {
      await c.close();
    }
  });

  it('a bad binary request is a GradientServiceError naming the problem, not retried', async () => {
    const c = createClient({ baseUrl });
    try {
      const error = await c
        .activationForwardBinary('relu', { z: { data: Float64Array.from([1, 2, 3]), shape: [2] } })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GradientServiceError);
      expect((error as GradientServiceError).status).toBe(400);
    } finally {
      await c.close();
    }
  });

  it("retries a binary POST on the service's 503 with Retry-After", async () => {
    const header = Buffer.from(
      JSON.stringify({
        outputs: [{ name: 'a', shape: [1], datatype: 'FP64', parameters: { binary_data_size: 8 } }],
      }),
    );
    const fake = await fakeServer((req, res, n) => {
      if (n === 1) {
        res.writeHead(503, { 'content-type': 'application/problem+json', 'retry-after': '0' });
        return res.end(
          '{"type":"urn:gradient-service:problem:not-ready","title":"T","status":503,"detail":"d"}',
        );
      }
      expect(req.headers['content-type']).toBe(tensorMediaType);
      res.writeHead(200, {
        'content-type': tensorMediaType,
        'inference-header-content-length': String(header.length),
      });
      res.end(Buffer.concat([header, Buffer.from(Float64Array.from([0.5]).buffer)]));
    });
    const c = createClient({ baseUrl: fake.url });
    try {
      const { a } = await c.activationForwardBinary('sigmoid', {
        z: { data: Float64Array.from([0]), shape: [1] },
      });
      expect(Array.from(a.data)).toEqual([0.5]);
      expect(fake.counts.requests).toBe(2);
    } finally {
      await c.close();
      await fake.close();
    }
  });
});

/**
 * The typed client against a real listening server (and, for retry and transport cases, against small
 * node:http servers that misbehave on purpose).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import {
  createClient,
  type GradientServiceClient,
  GradientServiceError,
  parseRetryAfter,
  ResponseTooLargeError,
} from '../../packages/client/src/index.js';
import { type App, buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';
import { defaultParams, findActivation, forwardTensor } from '../../src/core/activations/index.js';

async function listen(app: App): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

let app: App;
let client: GradientServiceClient;
let baseUrl: string;
beforeAll(async () => {
  app = await buildApp({ ...defaultConfig, logLevel: 'silent', maxEventLoopDelayMs: 0 }, { logger: false });
  baseUrl = await listen(app);
  client = createClient({ baseUrl, timeout: 10_000 });
});
afterAll(async () => {
  await client?.close();
  await app?.close();
});

/** A node:http server answering with `handler`; counts requests and TCP connections. */
async function fakeServer(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void) {
  const counts = { requests: 0, connections: 0 };
  const server: Server = createServer((req, res) => {
    counts.requests++;
    req.resume();
    req.on('end', () => handler(req, res, counts.requests));
  });
  server.on('connection', () => {
    counts.connections++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const problem = (res: ServerResponse, status: number, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/problem+json', ...headers });
  res.end(
    JSON.stringify({
      type: 'urn:x',
      title: 'T',
      status,
      detail: `d${status}`,
      instance: '/',
      requestId: 'r',
    }),
  );
};

describe('typed methods against the real service', () => {
  it('types one sample in as one sample out, and a batch in as a batch out', async () => {
    const one = await client.activationForward('sigmoid', { z: [0, 2] });
    expectTypeOf(one.a).toEqualTypeOf<number[]>();
    const batch = await client.activationForward('sigmoid', { z: [[0], [2]] });
    expectTypeOf(batch.a).toEqualTypeOf<number[][]>();
    expect(batch.a).toEqual([[0.5], [one.a[1]]]);
    const jacobian = await client.softmaxJacobian({ z: [[0, 0]] });
    expectTypeOf(jacobian.jacobian).toEqualTypeOf<number[][][]>();
    expect(jacobian.jacobian).toHaveLength(1);
    const layer = await client.outputLayerGradients({
      x: [[1]],
      weights: [[0]],
      targets: [[1]],
      activation: 'sigmoid',
    });
    expectTypeOf(layer.inputGradient).toEqualTypeOf<number[][]>();
    // @ts-expect-error a misspelt activation does not compile
    await client.activationForward('sigmoyd', { z: [0] }).catch(() => undefined);
  });

  it('computes forward as core does', async () => {
    const entry = findActivation('tanh');
    if (!entry) throw new Error('tanh');
    const z = [-2, 0, 0.5];
    const { a } = await client.activationForward('tanh', { z });
    expect(a).toEqual(Array.from(forwardTensor(entry, Float64Array.from(z), 3, defaultParams(entry))));
  });

  it('runs every /v1 operation', async () => {
    const { activations } = await client.listActivations();
    expect(activations.length).toBeGreaterThan(10);
    expect((await client.getActivation('logistic')).name).toBe('sigmoid');
    const derivative = await client.activationDerivative('sigmoid', { a: [0.5] });
    expect(derivative.derivative).toEqual([0.25]);
    const jacobian = await client.softmaxJacobian({ z: [0, 0] });
    expect(jacobian.jacobian).toEqual([
      [0.25, -0.25],
      [-0.25, 0.25],
    ]);
    const vjp = await client.softmaxVjp({ z: [0, 0], v: [1, 0] });
    expect(vjp.gradient).toEqual([0.25, -0.25]);
    const logJacobian = await client.activationJacobian('log_softmax', { z: [[0, 0]] });
    expectTypeOf(logJacobian.jacobian).toEqualTypeOf<number[][][]>();
    expect(logJacobian.jacobian).toEqual([
      [
        [0.5, -0.5],
        [-0.5, 0.5],
      ],
    ]);
    const logVjp = await client.activationVjp('softmax', { z: [0, 0], v: [1, 0] });
    expect(logVjp.gradient).toEqual([0.25, -0.25]);
    // @ts-expect-error an elementwise activation has no Jacobian route; the service says 400 all the same
    const elementwise = await client.activationJacobian('sigmoid', { z: [0] }).catch((e: unknown) => e);
    expect((elementwise as GradientServiceError).status).toBe(400);
    const layer = await client.outputLayerGradients({
      x: [1],
      weights: [[0]],
      targets: [1],
      activation: 'sigmoid',
    });
    expect(layer.a).toEqual([0.5]);
    expect(layer.loss).toBe(0.125);
    expect(await client.healthz()).toEqual({ status: 'ok' });
    expect(await client.readyz()).toEqual({ status: 'ready' });
    const svg = await client.plotActivation('leaky_relu', { from: -2, to: 2, params: { alpha: 0.2 } });
    expect(svg).toMatch(/^<svg[^>]*>/);
    expect(svg).toContain('alpha = 0.2');
  });

  it("computes second derivatives from z and from a, typed like the input, and gets the service's 400s", async () => {
    const sigmoid = findActivation('sigmoid');
    if (sigmoid?.kind !== 'elementwise') throw new Error('sigmoid');
    const z = [-40, 1e-300, 2];
    const fromZ = await client.activationSecondDerivative('sigmoid', { z });
    expectTypeOf(fromZ.secondDerivative).toEqualTypeOf<number[]>();
    expect(fromZ.secondDerivative).toEqual(z.map((x) => sigmoid.secondDerivative(x, {})));
    expect(fromZ.derivative).toEqual(z.map((x) => sigmoid.derivative(x, {})));
    expect(fromZ.a).toEqual(z.map((x) => sigmoid.forward(x, {})));
    const fromA = await client.activationSecondDerivative('tanh', { a: [[0.5], [-0.999999]] });
    expectTypeOf(fromA.secondDerivative).toEqualTypeOf<number[][]>();
    expect(fromA.secondDerivative).toEqual([[-0.75], [-2 * -0.999999 * ((1 + 0.999999) * (1 - 0.999999))]]);
    expect(fromA.a).toBeUndefined();
    const softmax = await client
      .activationSecondDerivative('softmax', { z: [0, 1] })
      .catch((e: unknown) => e);
    expect(softmax).toBeInstanceOf(GradientServiceError);
    expect((softmax as GradientServiceError).status).toBe(400);
    expect((softmax as GradientServiceError).message).toContain('/v1/gradients/network/hessian-vector');
  });

  it('backpropagates through a network and checks gradients', async () => {
    const body = {
      x: [[0.5, -1]],
      layers: [
        { weights: [[0.1], [0.4]], activation: 'tanh' as const },
        { weights: [[0.7, -0.8]], bias: [0, 0.1], activation: 'softmax' as const },
      ],
      targets: [[1, 0]],
      loss: 'cross_entropy' as const,
    };
    const net = await client.networkGradients(body);
    expectTypeOf(net.inputGradient).toEqualTypeOf<number[][]>();
    expect(net.layers).toHaveLength(2);
    expect(net.layers[1].a?.[0][0]).toBeCloseTo(
      Math.exp(0.7 * Math.tanh(-0.35)) /
        (Math.exp(0.7 * Math.tanh(-0.35)) + Math.exp(-0.8 * Math.tanh(-0.35) + 0.1)),
      15,
    );
    const verdict = await client.checkGradients({
      ...body,
      gradients: {
        layers: [{ weightGradient: net.layers[0].weightGradient.map((r) => r.map((v) => v * 1.01)) }],
      },
    });
    expect(verdict.passed).toBe(false);
    expect(verdict.checks[0]).toMatchObject({ path: '/layers/0/weightGradient', mismatches: 2 });
  });

  it('gives a network’s Hessian-vector product and checks given products', async () => {
    // One identity layer with squared error: z = x W, H v for W is x^T (x V), for b the column sums of x V.
    const body = {
      x: [[1, 2]],
      layers: [{ weights: [[0.5], [0.25]], activation: 'identity' as const }],
      targets: [[0]],
      vector: { layers: [{ weights: [[1], [0]], bias: [0] }] },
    };
    const product = await client.networkHessianVector({ ...body, curvature: 'gauss-newton' });
    expectTypeOf(product.layers[0].weightProduct).toEqualTypeOf<number[][]>();
    expect(product).toEqual({
      loss: 0.5,
      directionalDerivative: 1,
      layers: [
        { weightGradient: [[1], [2]], biasGradient: [1], weightProduct: [[1], [2]], biasProduct: [1] },
      ],
    });
    const verdict = await client.checkGradients({
      ...body,
      gradients: { layers: [{ weightProduct: [[1], [2.5]], biasProduct: [1] }] },
    });
    expect(verdict.passed).toBe(false);
    expect(verdict.checks.map((c) => [c.path, c.passed])).toEqual([
      ['/layers/0/weightProduct', false],
      ['/layers/0/biasProduct', true],
    ]);
  });

  it('throws problem+json as a GradientServiceError with status, title, detail and errors', async () => {
    const error = await client.activationForward('sigmoid', { z: [[1, 2], [3]] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GradientServiceError);
    const e = error as GradientServiceError;
    expect(e.status).toBe(400);
    expect(e.title).toBe('Bad Request');
    expect(e.type).toBe('urn:gradient-service:problem:invalid-request');
    expect(e.detail).toMatch(/ragged/);
    expect(e.errors[0].path).toBe('/z/1');
    expect(e.errorsOmitted).toBeUndefined();

    // 40 unknown params: the service lists the first ones and counts the rest.
    const params = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, 1]));
    const many = (await client
      .activationForward('sigmoid', { z: [1], params })
      .catch((x: unknown) => x)) as GradientServiceError;
    expect(many.status).toBe(400);
    expect(many.errorsOmitted).toBeGreaterThan(0);
    expect(many.errors.length + (many.errorsOmitted ?? 0)).toBe(40);
    expect(e.requestId).toMatch(/.+/);

    // @ts-expect-error an unknown name does not compile; the service answers 404 all the same
    const unknown = (await client.getActivation('nope').catch((x: unknown) => x)) as GradientServiceError;
    expect(unknown.status).toBe(404);
    expect(unknown.detail).toMatch(/Known names/);
  });

  it('reuses kept-alive connections across sequential calls', async () => {
    const fake = await fakeServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
    });
    const c = createClient({ baseUrl: fake.url });
    try {
      for (let i = 0; i < 10; i++) await c.healthz();
      expect(fake.counts.requests).toBe(10);
      // undici's pool may hand the next request to a second socket while the first finishes its response,
      // so sequential calls alternate between at most two; without keep-alive there would be ten.
      expect(fake.counts.connections).toBeLessThanOrEqual(2);
    } finally {
      await c.close();
      await fake.close();
    }
  });

  it('keeps a path prefix of the base URL', async () => {
    const paths: string[] = [];
    const fake = await fakeServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"a":[1]}');
    });
    const c = createClient({ baseUrl: `${fake.url}/gradients/` });
    try {
      await c.activationForward('relu6', { z: [0] });
      expect(paths).toEqual(['/gradients/v1/activations/relu6/forward']);
    } finally {
      await c.close();
      await fake.close();
    }
  });
});

describe('api key', () => {
  it('sends the key as a bearer token; without it the service answers 401', async () => {
    const secured = await buildApp(
      { ...defaultConfig, logLevel: 'silent', apiKeys: ['k-123456789012345678'] },
      { logger: false },
    );
    const url = await listen(secured);
    const withKey = createClient({ baseUrl: url, apiKey: 'k-123456789012345678' });
    const without = createClient({ baseUrl: url });
    try {
      expect((await withKey.activationForward('relu', { z: [-1, 1] })).a).toEqual([0, 1]);
      const error = (await without
        .activationForward('relu', { z: [1] })
        .catch((e: unknown) => e)) as GradientServiceError;
      expect(error).toBeInstanceOf(GradientServiceError);
      expect(error.status).toBe(401);
    } finally {
      await withKey.close();
      await without.close();
      await secured.close();
    }
  });
});

describe('retries', () => {
  it('retries a GET on 503 and succeeds', async () => {
    const fake = await fakeServer((_req, res, n) => {
      if (n === 1) return problem(res, 503);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
    });
    const c = createClient({ baseUrl: fake.url });
    try {
      expect(await c.healthz()).toEqual({ status: 'ok' });
      expect(fake.counts.requests).toBe(2);
    } finally {
      await c.close();
      await fake.close();
    }
  });

  it('retries a POST on 503 with Retry-After, not on 503 without it, nor on 500', async () => {
    for (const [first, headers, expectedRequests, ok] of [
      [503, { 'retry-after': '0' }, 2, true],
      [503, {}, 1, false],
      [500, { 'retry-after': '0' }, 1, false],
      [429, { 'retry-after': '0' }, 2, true],
    ] as const) {
      const fake = await fakeServer((_req, res, n) => {
        if (n === 1) return problem(res, first, headers);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"a":[0.5]}');
      });
      const c = createClient({ baseUrl: fake.url });
      try {
        const result = await c.activationForward('sigmoid', { z: [0] }).catch((e: unknown) => e);
        if (ok) expect(result).toEqual({ a: [0.5] });
        else {
          expect(result).toBeInstanceOf(GradientServiceError);
          expect((result as GradientServiceError).status).toBe(first);
        }
        expect(fake.counts.requests, `${first} ${JSON.stringify(headers)}`).toBe(expectedRequests);
      } finally {
        await c.close();
        await fake.close();
      }
    }
  });

  it('gives up after `retries` attempts and throws the last problem', async () => {
    const fake = await fakeServer((_req, res) => problem(res, 503, { 'retry-after': '0' }));
    const c = createClient({ baseUrl: fake.url, retries: 3 });
    try {
      const error = (await c.readyz().catch((e: unknown) => e)) as GradientServiceError;
      expect(error.status).toBe(503);
      expect(error.retryAfter).toBe(0);
      expect(fake.counts.requests).toBe(4);
    } finally {
      await c.close();
      await fake.close();
    }
  });

  it('retries a GET or a POST whose connection broke after sending; a POST not with retryInterrupted: false', async () => {
    const fake = await fakeServer((req, res, n) => {
      if (n % 2 === 1) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.method === 'GET' ? '{"status":"ok"}' : '{"a":[1]}');
    });
    const c = createClient({ baseUrl: fake.url });
    const once = createClient({ baseUrl: fake.url, retryInterrupted: false });
    try {
      expect(await c.healthz()).toEqual({ status: 'ok' });
      expect(fake.counts.requests).toBe(2);
      expect(await c.activationForward('identity', { z: [1] })).toEqual({ a: [1] });
      expect(fake.counts.requests).toBe(4);
      const error = await once.activationForward('identity', { z: [1] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(GradientServiceError);
      expect(fake.counts.requests).toBe(5);
    } finally {
      await c.close();
      await once.close();
      await fake.close();
    }
  });

  it('throws the transport error when nothing listens, after retrying', async () => {
    const fake = await fakeServer(() => {});
    const url = fake.url;
    await fake.close();
    const c = createClient({ baseUrl: url, retries: 1 });
    try {
      const error = (await c.activationForward('relu', { z: [1] }).catch((e: unknown) => e)) as {
        code?: string;
      };
      expect(error.code).toBe('ECONNREFUSED');
    } finally {
      await c.close();
    }
  });

  it('gives up at the timeout when the server does not answer', async () => {
    const fake = await fakeServer(() => {});
    const c = createClient({ baseUrl: fake.url, timeout: 300 });
    try {
      const error = (await c.healthz().catch((e: unknown) => e)) as Error;
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toMatch(/TimeoutError|AbortError/);
      expect(fake.counts.requests).toBe(1);
    } finally {
      await c.close();
      await fake.close();
    }
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

/** A server that streams `total` bytes of `status` in 64 KiB chunks, honouring backpressure; counts what it wrote. */
async function streamingServer(status: number, total: number, withLength: boolean) {
  const written = { bytes: 0, finished: false };
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const fake = await fakeServer((_req, res) => {
    res.writeHead(status, {
      'content-type': status < 400 ? 'application/json' : 'application/problem+json',
      ...(withLength ? { 'content-length': String(total) } : {}),
    });
    const pump = () => {
      while (written.bytes < total) {
        written.bytes += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      written.finished = true;
      res.end();
    };
    res.on('close', () => res.removeAllListeners('drain'));
    pump();
  });
  return { ...fake, written };
}

describe('reply size cap', () => {
  it('refuses a reply whose Content-Length is over maxResponseBytes without reading it', async () => {
    const fake = await streamingServer(200, 400 * 1024 * 1024, true);
    const c = createClient({ baseUrl: fake.url, maxResponseBytes: 1024 * 1024 });
    try {
      const error = await c.activationForward('relu', { z: [1] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ResponseTooLargeError);
      expect((error as ResponseTooLargeError).contentLength).toBe(400 * 1024 * 1024);
      expect(fake.written.finished).toBe(false);
    } finally {
      await c.close();
      await fake.close();
    }
  });

  it('stops reading a chunked reply once it passes maxResponseBytes (400 MB offered)', async () => {
    const fake = await streamingServer(200, 400 * 1024 * 1024, false);
    const c = createClient({ baseUrl: fake.url, maxResponseBytes: 2 * 1024 * 1024 });
    try {
      const error = await c.activationForward('relu', { z: [1] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ResponseTooLargeError);
      expect((error as ResponseTooLargeError).limit).toBe(2 * 1024 * 1024);
      // The limit plus what the socket buffers held when the client let go: far from 400 MB.
      expect(fake.written.bytes).toBeLessThan(64 * 1024 * 1024);
      expect(fake.written.finished).toBe(false);
    } finally {
      await c.close();
      await fake.close();
    }
  });

  it('has a default cap: a 400 MB reply is refused by the default client', async () => {
    const fake = await streamingServer(200, 400 * 1024 * 1024, false);
    const c = createClient({ baseUrl: fake.url });
    try {
      const error = await c.activationForward('relu', { z: [1] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ResponseTooLargeError);
      expect((error as ResponseTooLargeError).limit).toBe(64 * 1024 * 1024);
      expect(fake.written.finished).toBe(false);
    } finally {
      await c.close();
      await fake.close();
    }
  });

  it('reads an error body only up to what it keeps (a 300 MB error body)', async () => {
    const fake = await streamingServer(500, 300 * 1024 * 1024, false);
    const c = createClient({ baseUrl: fake.url });
    try {
      const error = (await c
        .activationForward('relu', { z: [1] })
        .catch((e: unknown) => e)) as GradientServiceError;
      expect(error).toBeInstanceOf(GradientServiceError);
      expect(error.status).toBe(500);
      expect(error.detail.length).toBeLessThanOrEqual(500);
      expect(fake.written.bytes).toBeLessThan(32 * 1024 * 1024);
      expect(fake.written.finished).toBe(false);
    } finally {
      await c.close();
      await fake.close();
    }
  });

  it('still reads a normal reply whole, and the connection serves the next call after a refused one', async () => {
    const big = { a: Array.from({ length: 50_000 }, (_, i) => i) };
    const fake = await fakeServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.url?.includes('relu6') ? JSON.stringify(big) : `{"a":[${'1,'.repeat(600_000)}1]}`);
    });
    const c = createClient({ baseUrl: fake.url, maxResponseBytes: 1024 * 1024 });
    try {
      await expect(c.activationForward('relu', { z: [1] })).rejects.toBeInstanceOf(ResponseTooLargeError);
      expect(await c.activationForward('relu6', { z: [1] })).toEqual(big);
    } finally {
      await c.close();
      await fake.close();
    }
  });
});

describe('redirects', () => {
  it('a 3xx is an error naming the location, not a success, and is not followed or retried', async () => {
    for (const status of [301, 302, 307, 308]) {
      const fake = await fakeServer((_req, res) => {
        res.writeHead(status, { location: 'http://elsewhere.invalid/v1', 'content-type': 'text/html' });
        res.end('<a href="http://elsewhere.invalid/v1">moved</a>');
      });
      const c = createClient({ baseUrl: fake.url });
      try {
        const error = (await c.healthz().catch((e: unknown) => e)) as GradientServiceError;
        expect(error, String(status)).toBeInstanceOf(GradientServiceError);
        expect(error.status).toBe(status);
        expect(error.detail).toContain('http://elsewhere.invalid/v1');
        expect(fake.counts.requests).toBe(1);
      } finally {
        await c.close();
        await fake.close();
      }
    }
  });
});

describe('the client README', () => {
  it('lists every method of the client, and only those', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../packages/client/README.md', import.meta.url), 'utf8');
    const line = readme.match(/- Methods, one per operation:([\s\S]*?)\n- /)?.[1] ?? '';
    const listed = [...line.matchAll(/`(\w+)(?:\(\))?`/g)].map((m) => m[1]).sort();
    const c = createClient({ baseUrl: 'http://127.0.0.1:9' });
    const methods = Object.keys(c)
      .filter((k) => typeof (c as unknown as Record<string, unknown>)[k] === 'function')
      .sort();
    await c.close();
    expect(listed).toEqual(methods);
  });
});

/**
 * The offload pool over HTTP, on a real listening server: the hostile body (params nested 3,000
 * deep, padded past the offload threshold) gets a 400 and the pool keeps answering; so does the same at
 * 1e6 levels; repeated hostile requests leave no bodies behind. A handler that misbehaves on request
 * (test/support/hostile-offload.ts) shows each pool failure as the HTTP answer it deserves (/v1: /v2 parses
 * and computes on the event loop): 503 with
 * Retry-After for a timeout or a full queue, 500 for a task whose thread failed, and the next request
 * answered normally.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { defaultConfig, loadConfig } from '../../src/config.js';
import type { OffloadConfig } from '../../src/workers/config.js';
import { exposedGc } from '../fuzz/harness.js';

let app: App | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function listen(offload: Partial<OffloadConfig> = {}): Promise<string> {
  // Not about load shedding: a multi-second parse on the event loop must not make the next request a 503.
  app = await buildApp(
    { ...defaultConfig, logLevel: 'silent', maxEventLoopDelayMs: 0 },
    { logger: false, offload },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

interface Answer {
  status: number;
  type: string | null;
  retryAfter: string | null;
  body: string;
}

/** POSTs a JSON body; a hang fails the test after 20 s instead of holding it forever. */
async function post(url: string, body: string): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    retryAfter: res.headers.get('retry-after'),
    body: text,
  };
}

/** The body: params nested `depth` levels, padded with spaces to 800 KB (past the offload threshold). */
const hostileBody = (depth: number) =>
  `{"z":[0.5],"params":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}${' '.repeat(800_000)}}`;

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** A normal 150,000-element forward still answers, with the right numbers. */
async function expectLargeForward(base: string) {
  const z = Array.from({ length: 150_000 }, (_, i) => Math.sin(i) * 6);
  const res = await post(`${base}/v1/activations/sigmoid/forward`, JSON.stringify({ z }));
  expect(res.status, res.body.slice(0, 300)).toBe(200);
  const { a } = JSON.parse(res.body) as { a: number[] };
  expect(a).toHaveLength(150_000);
  for (const i of [0, 1, 77_777, 149_999]) expect(Math.abs(a[i] - sigmoid(z[i]))).toBeLessThan(1e-15);
}

describe('hostile bodies through the real pool', () => {
  it("the issue's body (params 3,000 deep, 800 KB) gets a 400, and a 150k forward answers after it", async () => {
    const base = await listen();
    const res = await post(`${base}/v1/activations/sigmoid/forward`, hostileBody(3000));
    expect(res.status, res.body.slice(0, 300)).toBe(400);
    expect(res.type).toMatch(/^application\/problem\+json/);
    // Which check refuses it (the parsing depth limit, or the params schema) is not the pool's business.
    expect(JSON.parse(res.body).status).toBe(400);
    await expectLargeForward(base);
  });

  it('the same nested 1e6 levels (the thread cannot even send it) gets a 4xx, not a 500', async () => {
    const base = await listen();
    const res = await post(`${base}/v1/activations/sigmoid/forward`, hostileBody(1_000_000));
    expect(res.status, res.body.slice(0, 300)).toBeGreaterThanOrEqual(400);
    expect(res.status, res.body.slice(0, 300)).toBeLessThan(500);
    expect(res.type).toMatch(/^application\/problem\+json/);
    await expectLargeForward(base);
  }, 60_000);

  it('repeated hostile requests leave no bodies behind (memory after GC does not grow with them)', async () => {
    const gc = exposedGc();
    const base = await listen();
    // 3 MB a body: 12 held bodies would be 36 MB of buffers.
    const body = `{"z":[0.5],"params":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}${' '.repeat(3_000_000)}}`;
    // Buffers are let go over a few ticks (the client here is fetch, in this process too): settle, then read.
    const held = async () => {
      for (let i = 0; i < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        gc();
      }
      const { arrayBuffers, external } = process.memoryUsage();
      return Math.max(arrayBuffers, external);
    };
    const send = async () => {
      const res = await post(`${base}/v1/activations/sigmoid/forward`, body);
      expect(res.status).toBe(400);
    };
    await send(); // the first one starts the thread and warms everything up
    const before = await held();
    for (let i = 0; i < 12; i++) await send();
    const grown = (await held()) - before;
    expect(grown, `${(grown / 1e6).toFixed(1)} MB more after 12 requests`).toBeLessThan(8e6);
  }, 120_000);
});

describe('the queue serves what it can hold', () => {
  it('12 clients at once asking a softmax Jacobian of 1000 numbers (100,000 written) from one thread all get 200', async () => {
    // The defaults for one thread: a task holding a few KB of input waits; it is not refused because four do.
    const base = await listen(loadConfig({ OFFLOAD_THREADS: '1' }).offload);
    const z = Array.from({ length: 10 }, (_, r) => Array.from({ length: 100 }, (_, k) => Math.sin(r + k)));
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => post(`${base}/v1/softmax/jacobian`, JSON.stringify({ z }))),
    );
    for (const res of answers) expect(res.status, res.body.slice(0, 300)).toBe(200);
    const { jacobian } = JSON.parse(answers[11].body) as { jacobian: number[][][] };
    expect(jacobian).toHaveLength(10);
    expect(jacobian[9]).toHaveLength(100);
    expect(jacobian[9][99]).toHaveLength(100);
    expect(app?.offload.stats).toMatchObject({ busy: 0, queued: 0 });
  });
});

describe('an array of more items than MAX_ELEMENTS is refused before it is built', () => {
  // 16 million numbers in 32 MB of `0,`: JSON.parse built them (~650 MB in the worker) before the 413.
  const body = Buffer.from(`{"z":[${'0,'.repeat(15_999_999)}0]}`);
  /** The process's peak resident set since the last reset, in bytes (Linux: VmHWM, reset through clear_refs). */
  const peakRss = () =>
    Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;
  const resetPeakRss = () => writeFileSync('/proc/self/clear_refs', '5');

  it.each([
    ['in the worker pool', {}],
    ['on the event loop (OFFLOAD_THRESHOLD=0)', { threshold: 0 }],
  ])(
    '%s: 413 too-many-elements naming z, and the process grows by far less than the numbers would take',
    async (_, offload) => {
      const base = await listen(offload);
      // Warm up (the pool's thread, with a body padded past the offload threshold; code) so that the peak
      // measures this request alone.
      const warmUp = await post(`${base}/v1/activations/sigmoid/forward`, `{"z":[1]}${' '.repeat(900_000)}`);
      expect(warmUp.status).toBe(200);
      const before = process.memoryUsage.rss();
      resetPeakRss();
      const res = await fetch(`${base}/v1/activations/sigmoid/forward`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      const grown = peakRss() - before;
      expect(res.status, text.slice(0, 300)).toBe(413);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(text)).toMatchObject({
        type: 'urn:gradient-service:problem:too-many-elements',
        detail: 'z has more than 1000000 numbers; at most 1000000 are allowed per tensor (MAX_ELEMENTS).',
      });
      // The body itself is held a few times over (the client's, the server's chunks and their concatenation:
      // ~100 MB); the 16 million numbers parsed were ~650 MB more.
      expect(grown, `the process grew by ${(grown / 1e6).toFixed(0)} MB at its peak`).toBeLessThan(200e6);
    },
    120_000,
  );
});

describe('pool failures as HTTP answers (a handler that misbehaves on request)', () => {
  const handler = new URL('../support/hostile-offload.ts', import.meta.url);
  // threshold 1: every JSON body is parsed in the pool, so the "mode" field reaches the handler.
  const misbehaving = (options: Partial<OffloadConfig> = {}) =>
    listen({ threshold: 1, threads: 1, handler, ...options });

  it('a task past OFFLOAD_TIMEOUT_MS: 504 computation-timeout without Retry-After; the next request answers', async () => {
    const base = await misbehaving({ timeoutMs: 1500 });
    const res = await post(`${base}/v1/activations/sigmoid/forward`, '{"z":[0],"mode":"loop"}');
    expect(res.status, res.body).toBe(504);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(res.retryAfter).toBeNull();
    expect(JSON.parse(res.body)).toMatchObject({
      type: 'urn:gradient-service:problem:computation-timeout',
      detail: expect.stringMatching(/did not finish within 1500 ms \(OFFLOAD_TIMEOUT_MS, running\)/),
    });
    const next = await post(`${base}/v1/activations/sigmoid/forward`, '{"z":[0]}');
    expect(next.status, next.body).toBe(200);
    expect(JSON.parse(next.body)).toEqual({ a: [0.5] });
  });

  it('a full queue: 503 problem+json with Retry-After at once, while the running request finishes', async () => {
    const base = await misbehaving({ maxQueue: 0 });
    const slow = post(`${base}/v1/activations/sigmoid/forward`, '{"z":[0],"mode":"sleep","ms":2000}');
    // Bounded wait until the slow request holds the only thread.
    for (let i = 0; i < 200 && app?.offload.stats.busy !== 1; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(app?.offload.stats.busy).toBe(1);
    const refused = await post(`${base}/v1/activations/sigmoid/forward`, '{"z":[0]}');
    expect(refused.status, refused.body).toBe(503);
    expect(refused.type).toMatch(/^application\/problem\+json/);
    expect(refused.retryAfter).toBe('1');
    expect(JSON.parse(refused.body).detail).toMatch(/worker pool for large requests is full/);
    const done = await slow;
    expect(done.status, done.body).toBe(200);
    expect(JSON.parse(done.body)).toEqual({ a: [0.5] });
  });

  it('a queue full of input bytes: a large body is refused at once (503, OFFLOAD_MAX_QUEUE_BYTES), a small one still waits', async () => {
    const base = await misbehaving({ maxQueue: 10, maxQueueBytes: 50_000 });
    const slow = post(`${base}/v1/activations/sigmoid/forward`, '{"z":[0],"mode":"sleep","ms":2000}');
    for (let i = 0; i < 200 && app?.offload.stats.busy !== 1; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(app?.offload.stats.busy).toBe(1);
    const refused = await post(`${base}/v1/activations/sigmoid/forward`, `{"z":[0]${' '.repeat(100_000)}}`);
    expect(refused.status, refused.body).toBe(503);
    expect(refused.retryAfter).toBe('1');
    expect(JSON.parse(refused.body).detail).toMatch(
      /worker pool for large requests is full \(0 waiting with 0 bytes of input, OFFLOAD_MAX_QUEUE_BYTES\)/,
    );
    const small = await post(`${base}/v1/activations/sigmoid/forward`, '{"z":[0]}');
    expect(small.status, small.body).toBe(200);
    expect((await slow).status).toBe(200);
  });

  it.each([
    ['exits (process.exit)', 'exit'],
    ['throws', 'throw'],
    ['returns something that is not plain data', 'garbage'],
  ])('a task whose thread %s: 500 problem+json, and the next request answers', async (_, mode) => {
    const base = await misbehaving();
    const res = await post(`${base}/v1/activations/sigmoid/forward`, `{"z":[0],"mode":"${mode}"}`);
    expect(res.status, res.body).toBe(500);
    expect(res.type).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(res.body).type).toBe('urn:gradient-service:problem:internal-error');
    const next = await post(`${base}/v1/activations/sigmoid/forward`, '{"z":[2]}');
    expect(next.status, next.body).toBe(200);
    expect(JSON.parse(next.body).a[0]).toBeCloseTo(sigmoid(2), 15);
  });
});

/**
 * The fuzz suite's server and client: the real app (buildApp) listening on 127.0.0.1, a worker pool with a
 * tiny offload threshold so that bodies of a few hundred bytes already go through it, and an undici Pool of
 * keep-alive connections, as a real client holds them. Every wait is bounded: a request that gets no answer
 * within `answerTimeoutMs` is a failure (a hang), not a stuck test.
 */
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { type App, buildApp } from '../../src/app.js';
import { type AppConfig, defaultConfig } from '../../src/config.js';
import type { Answer } from './properties.js';
import { type ClientRequest, requestAnswer } from './raw-client.js';

/** The fuzz suite's run count and seed: fixed for CI; FUZZ_RUNS / FUZZ_SEED to go bigger or elsewhere locally. */
export function fuzzSettings(ciRuns: number): { numRuns: number; seed: number } {
  const scale = Number(process.env.FUZZ_RUNS ?? '');
  const seed = Number(process.env.FUZZ_SEED ?? '');
  return {
    // FUZZ_RUNS multiplies every property's CI count (FUZZ_RUNS=20: twenty times as many runs).
    numRuns: Number.isFinite(scale) && scale > 0 ? Math.ceil(ciRuns * scale) : ciRuns,
    seed: Number.isSafeInteger(seed) && process.env.FUZZ_SEED ? seed : 20261129,
  };
}

/** Bodies of at least threshold x 8 bytes are parsed in the pool: 64 elements -> 512 bytes. */
export const offloadThreshold = 64;

/**
 * Limits small enough that a fuzzed body reaches them cheaply (413 for the body and the element count), and
 * no load shedding: a 503 from the overload guard would blame the request after the one that blocked.
 */
export const fuzzConfig: AppConfig = {
  ...defaultConfig,
  logLevel: 'silent',
  bodyLimit: 4 * 1024 * 1024,
  maxElements: 200_000,
  maxEventLoopDelayMs: 0,
  maxHeapUsedBytes: 0,
};

/** How long any one answer may take before it counts as a hang. */
export const answerTimeoutMs = 15_000;

export interface FuzzServer {
  app: App;
  origin: string;
  port: number;
  client: Pool;
  close(): Promise<void>;
}

export async function startFuzzServer(overrides: Partial<AppConfig> = {}): Promise<FuzzServer> {
  const app = await buildApp(
    { ...fuzzConfig, ...overrides },
    { logger: false, offload: { threshold: offloadThreshold, threads: 2 } },
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const client = new Pool(origin, {
    connections: 4,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: answerTimeoutMs,
    bodyTimeout: answerTimeoutMs,
  });
  return {
    app,
    origin,
    port,
    client,
    close: async () => {
      await client.close().catch(() => client.destroy());
      await app.close();
    },
  };
}

/** One request as the fuzz suite sends it; `describe` is what a failure report shows instead of the bytes. */
export type FuzzRequest = ClientRequest;

export type FuzzResponse = Answer;

export const send = (server: FuzzServer, request: FuzzRequest): Promise<FuzzResponse> =>
  requestAnswer(server.client, request);

/** A short, printable account of a request for failure messages: method, path, headers, body head and size. */
export function describeRequest(request: FuzzRequest): string {
  const body = request.body;
  const size = body === undefined ? 0 : Buffer.byteLength(body);
  const text = body === undefined ? '' : Buffer.from(body).toString('latin1');
  const head = text.length > 300 ? `${text.slice(0, 240)} ... ${text.slice(-60)}` : text;
  const path =
    request.path.length > 200
      ? `${request.path.slice(0, 200)}... (${request.path.length} chars)`
      : request.path;
  const headers = request.headers.map(([k, v]) => `${k}: ${v.length > 80 ? `${v.slice(0, 80)}...` : v}`);
  return `${request.method} ${path} [${headers.join('; ')}] body ${size} bytes ${JSON.stringify(head)}`;
}

/** V8's gc(): the slow suite's workers run with --expose-gc (vitest.config.ts); no flag is flipped at run time. */
export function exposedGc(): () => void {
  const { gc } = globalThis as { gc?: () => void };
  if (!gc) throw new Error('gc() is not exposed: run this test in the slow project (node --expose-gc)');
  return gc;
}

/** Heap in use plus off-heap buffers (request bodies live there) after a full collection. */
export async function retainedBytes(): Promise<number> {
  const gc = exposedGc();
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

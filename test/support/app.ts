/** Builds the app for route tests (no logging, default limits unless overridden) and checks problems. */
import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { type AppConfig, defaultConfig } from '../../src/config.js';
import type { ProblemBody } from '../../src/plugins/problem.js';

export type { ProblemBody };

/**
 * Load shedding is off unless a test turns it on (test/ops/overload.test.ts does): on a machine shared with
 * other test runs the event loop stalls past MAX_EVENT_LOOP_DELAY_MS, and route tests would get 503s.
 */
export async function buildTestApp(overrides: Partial<AppConfig> = {}): Promise<App> {
  const app = await buildApp(
    { ...defaultConfig, logLevel: 'silent', maxEventLoopDelayMs: 0, ...overrides },
    { logger: false },
  );
  await app.ready();
  return app;
}

export function post(app: App, url: string, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Asserts an RFC 9457 problem with this status and returns its body. */
export function expectProblem(res: LightMyRequestResponse, status: number, type?: string): ProblemBody {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  const body = res.json() as ProblemBody;
  expect(body).toMatchObject({ status, instance: expect.any(String), requestId: expect.any(String) });
  expect(body.title.length).toBeGreaterThan(0);
  expect(body.detail.length).toBeGreaterThan(0);
  expect(body.requestId).toBe(res.headers['x-request-id']);
  if (type) expect(body.type).toBe(`urn:gradient-service:problem:${type}`);
  return body;
}

/** The paths of a problem's errors. */
export const errorPaths = (problem: ProblemBody): string[] => (problem.errors ?? []).map((e) => e.path);

/**
 * Two apps alike but for the worker pool: `inline` never uses it (threshold 0), `offloaded` sends it every
 * request (threshold 1: bodies parsed there, jobs run and replies written there). One thread each; load
 * shedding off.
 */
export async function buildPoolPair(): Promise<{ inline: App; offloaded: App }> {
  const config = { ...defaultConfig, logLevel: 'silent' as const, maxEventLoopDelayMs: 0 };
  const [inline, offloaded] = await Promise.all(
    [0, 1].map((threshold) => buildApp(config, { logger: false, offload: { threshold, threads: 1 } })),
  );
  await Promise.all([inline.ready(), offloaded.ready()]);
  return { inline, offloaded };
}

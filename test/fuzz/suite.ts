/**
 * What the fuzz test files share: sending a request and checking its answer against the properties, the
 * liveness probes (the server still answers normal requests, inline and through the worker pool, with the
 * same bytes as before), and the heap bound.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import type { AppConfig } from '../../src/config.js';
import {
  describeRequest,
  type FuzzRequest,
  type FuzzServer,
  fuzzSettings,
  retainedBytes,
  send,
  startFuzzServer,
} from './harness.js';
import { refusedMediaType, violations } from './properties.js';
import { discoverRoutes, examplePath, type Route } from './routes.js';

/** A request that prints as a short description in fast-check's counterexample report. */
export function printable(request: FuzzRequest): FuzzRequest {
  return Object.assign(request, { [fc.toStringMethod]: () => describeRequest(request) });
}

/** Sends the request and throws, naming the request and every broken property, if its answer breaks one. */
export async function sendChecked(server: FuzzServer, request: FuzzRequest): Promise<void> {
  let answer: Awaited<ReturnType<typeof send>>;
  try {
    answer = await send(server, request);
  } catch (error) {
    throw new Error(`no answer (${(error as Error).message}) to ${describeRequest(request)}`);
  }
  const broken = violations(request.method, request.path, answer);
  const accept = request.headers.find(([name]) => name === 'accept')?.[1];
  // Only the /v1 POST routes choose between two forms (JSON and binary tensors), and there a form refused with
  // q=0 is never sent. A route with one form (documents, probes, /v2's JSON) answers in it whatever Accept
  // says, as RFC 9110 (12.5.1) allows instead of a 406, so Accept does not judge its answers.
  const negotiated = request.method === 'POST' && request.path.startsWith('/v1/');
  const refused = negotiated ? refusedMediaType(accept, answer) : undefined;
  if (refused) broken.push(refused);
  if (process.env.FUZZ_DEBUG)
    console.log(
      answer.status,
      answer.bodyBytes,
      answer.body.toString('utf8', 0, 120),
      describeRequest(request).slice(0, 160),
    );
  if (broken.length) throw new Error(`${broken.join('\n')}\n  request: ${describeRequest(request)}`);
}

/** JSON media type of the examples. */
const json = 'application/json';

/** The documented routes that take a JSON body with a working example. */
export const bodyRoutes = (routes: Route[]): Route[] => routes.filter((r) => r.bodies.has(json));

/** A normal request for the route: its example, padded past the offload threshold when `pooled`. */
export function normalRequest(route: Route, pooled: boolean): FuzzRequest {
  const example = route.bodies.get(json);
  const text = example === undefined ? undefined : JSON.stringify(example);
  return {
    method: route.method,
    path: examplePath(route),
    headers: text === undefined ? [] : [['content-type', json]],
    body: text === undefined ? undefined : pooled ? `${text}${' '.repeat(4096)}` : text,
  };
}

/** Each body route's normal answer, by `METHOD template`: the reference for every later probe. */
export type Answers = Map<string, string>;
const routeKey = (route: Route) => `${route.method} ${route.template}`;

/** The route's example still gets its 200 with the bytes it got before (through the pool when `pooled`). */
export async function expectNormalAnswer(
  server: FuzzServer,
  route: Route,
  expected: Answers,
  pooled: boolean,
): Promise<void> {
  const request = normalRequest(route, pooled);
  let answer: Awaited<ReturnType<typeof send>>;
  try {
    answer = await send(server, request);
  } catch (error) {
    throw new Error(
      `the server no longer answers a normal request (${(error as Error).message}): ${describeRequest(request)}`,
    );
  }
  const body = answer.body.toString('utf8');
  const reference = expected.get(routeKey(route));
  if (answer.status !== 200 || (reference !== undefined && body !== reference))
    throw new Error(
      `a normal request now gets ${answer.status} ${body.slice(0, 300)} instead of its 200: ${describeRequest(request)}`,
    );
}

/** /healthz answers, and each route's example still gets 200 with the same bytes, inline and through the pool. */
export async function expectServesNormally(server: FuzzServer, routes: Route[], answers: Answers) {
  const health = await send(server, { method: 'GET', path: '/healthz', headers: [] });
  expect(health.status).toBe(200);
  for (const route of routes) {
    await expectNormalAnswer(server, route, answers, false);
    await expectNormalAnswer(server, route, answers, true);
  }
}

/** What the heap may grow by over one fuzz test, after a forced collection (bodies must not be kept). */
export const heapGrowthBound = 64 * 1024 * 1024;

/** The routes of the app, read once when the test file is collected (each test then starts its own server). */
export async function appRoutes(): Promise<Route[]> {
  const server = await startFuzzServer();
  try {
    return discoverRoutes(server.app);
  } finally {
    await server.close();
  }
}

export interface Session {
  server: FuzzServer;
  routes: Route[];
  answers: Answers;
}

/**
 * Runs `fuzz` against a fresh server (so that one test's jam does not fail the next), then checks that the
 * server still answers every route's normal request as before, inline and through the pool, and that the
 * memory it retains after a forced collection grew by less than heapGrowthBound.
 */
export async function fuzzSession(
  fuzz: (session: Session) => Promise<void>,
  options: { overrides?: Partial<AppConfig>; route?: Route } = {},
) {
  const server = await startFuzzServer(options.overrides);
  try {
    const routes = discoverRoutes(server.app);
    // The route under test (its normal request is checked after every fuzzed one), or every body route.
    const checked = options.route
      ? routes.filter((r) => routeKey(r) === routeKey(options.route as Route))
      : bodyRoutes(routes);
    const answers: Answers = new Map();
    for (const route of checked) {
      const answer = await send(server, normalRequest(route, false));
      expect(answer.status, `${routeKey(route)}: ${answer.body.toString('utf8', 0, 300)}`).toBe(200);
      answers.set(routeKey(route), answer.body.toString('utf8'));
      await expectNormalAnswer(server, route, answers, true);
    }
    const before = await retainedBytes();
    await fuzz({ server, routes, answers });
    await expectServesNormally(server, checked, answers);
    const after = await retainedBytes();
    expect(after - before, `retained memory grew from ${before} to ${after} bytes`).toBeLessThan(
      heapGrowthBound,
    );
  } finally {
    await server.close();
  }
}

/** Path parameter values for a body route: mostly its example (so the body matters), sometimes another allowed one. */
export function pathFor(route: Route): fc.Arbitrary<string> {
  const choices = route.params.map((p) => {
    const example = p.example ?? p.values[0] ?? 'x';
    return p.values.length
      ? fc.oneof(
          { weight: 3, arbitrary: fc.constant(example) },
          { weight: 1, arbitrary: fc.constantFrom(...p.values) },
        )
      : fc.constant(example);
  });
  return fc.tuple(...choices).map((values) => {
    let i = 0;
    return route.template.replace(/\{(\w+)\}/g, () => encodeURIComponent(values[i++]));
  });
}

/**
 * Checks `requests` against the properties on `route`, each followed by the route's normal request through the
 * pool, stopping at the first failure (the server is stateful: shrinking on it would blame later requests).
 */
export async function checkRoute(
  { server, answers }: Session,
  route: Route,
  requests: fc.Arbitrary<FuzzRequest>,
  runs: number,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(requests.map(printable), async (request) => {
      await sendChecked(server, request);
      await expectNormalAnswer(server, route, answers, true);
    }),
    { ...fuzzSettings(runs), endOnFailure: true },
  );
}

/** A property's CI run count spread over the routes it covers (at least 10 each): the suite's time stays put as routes are added. */
export const runsPerRoute = (total: number, routes: number): number =>
  Math.max(10, Math.ceil(total / routes));

/** How long one fuzz test may take (a hang shows as a failed request long before). */
export const fuzzTestTimeout = 300_000;

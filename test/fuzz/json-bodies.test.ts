/**
 * Hostile JSON bodies on every route that takes one, /v1 and /v2, against a real listening server whose worker
 * pool parses every body past 512 bytes: anything hostile (structure, numbers at float64's edges, odd strings and
 * keys, invalid UTF-8, odd Content-Types, whitespace padding) anywhere in the route's working example. No 5xx,
 * the surface's error shape, error bodies under 16 KB; after each request the route's normal request still gets
 * its 200 through the pool; afterwards every route answers as before and the retained heap is bounded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { invalidUtf8, jsonContentType, mutation, padding, render, spliceBytes } from './hostile-json.js';
import {
  appRoutes,
  bodyRoutes,
  checkRoute,
  fuzzSession,
  fuzzTestTimeout,
  pathFor,
  runsPerRoute,
} from './suite.js';

const routes = await appRoutes();

describe('hostile JSON bodies', () => {
  it('every route that takes a body is fuzzed (read from the app: /v1 and /v2)', () => {
    const fuzzed = bodyRoutes(routes).map((r) => r.template);
    expect(fuzzed.some((t) => t.startsWith('/v1/'))).toBe(true);
    expect(fuzzed.some((t) => t.startsWith('/v2/'))).toBe(true);
    // Every POST the app has is among them: a new route without an example would escape the fuzzing.
    expect(routes.filter((r) => r.method === 'POST').map((r) => r.template)).toEqual(fuzzed);
  });

  for (const route of bodyRoutes(routes)) {
    const example = route.bodies.get('application/json');
    it(
      `${route.method} ${route.template}: hostile structure, numbers, strings and keys anywhere in the body`,
      () =>
        fuzzSession(
          (session) =>
            checkRoute(
              session,
              route,
              fc
                .record({
                  path: pathFor(route),
                  mutation: mutation(example, route.fieldNames),
                  padding: padding(),
                  splice: invalidUtf8,
                  contentType: jsonContentType,
                })
                .map(({ path, mutation, padding, splice, contentType }) => ({
                  method: route.method,
                  path,
                  headers: contentType ? [['content-type', contentType]] : [],
                  body: spliceBytes(padding.before + render(example, mutation) + padding.after, splice),
                })),
              runsPerRoute(240, bodyRoutes(routes).length),
            ),
          { route },
        ),
      fuzzTestTimeout,
    );
  }
});

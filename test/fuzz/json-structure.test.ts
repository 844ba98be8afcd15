/**
 * Structurally hostile values (nesting up to 200,000 deep, arrays 300,000 wide, objects with 150,000 keys or one
 * key repeated, megabyte strings) at any field of every route's working example, padded past the offload
 * threshold so that the worker pool parses every one of them: no 5xx, the surface's error shape, error bodies
 * under 16 KB, and the pool still answers the route's normal request after each; afterwards every route answers
 * as before and the retained heap is bounded.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { offloadThreshold } from './harness.js';
import { mutation, padding, render, structuralValue } from './hostile-json.js';
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

describe('structurally hostile JSON through the worker pool', () => {
  for (const route of bodyRoutes(routes)) {
    const example = route.bodies.get('application/json');
    it(
      `${route.method} ${route.template}: deep, wide, many-keyed and long values at any field`,
      () =>
        fuzzSession(
          (session) =>
            checkRoute(
              session,
              route,
              fc
                .record({
                  path: pathFor(route),
                  mutation: mutation(example, route.fieldNames, structuralValue, false),
                  padding: padding(offloadThreshold * 8),
                })
                .map(({ path, mutation, padding }) => ({
                  method: route.method,
                  path,
                  headers: [['content-type', 'application/json']],
                  body: padding.before + render(example, mutation) + padding.after,
                })),
              runsPerRoute(240, bodyRoutes(routes).length),
            ),
          { route },
        ),
      fuzzTestTimeout,
    );
  }
});

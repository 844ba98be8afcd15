/**
 * Every type where another is expected: each value of the type zoo (null, booleans, numbers, strings, empty and
 * nested arrays and objects, 1e400, -0, __proto__ objects) at every field of every route's working example,
 * inline or through the worker pool (alternately). No 5xx, the surface's error shape, error bodies under 16 KB;
 * afterwards every route answers as before and the retained heap is bounded.
 */
import { describe, it } from 'vitest';
import { offloadThreshold } from './harness.js';
import { pointers, render, typeZoo } from './hostile-json.js';
import { examplePath } from './routes.js';
import {
  appRoutes,
  bodyRoutes,
  expectNormalAnswer,
  fuzzSession,
  fuzzTestTimeout,
  sendChecked,
} from './suite.js';

const routes = await appRoutes();
const pooledPadding = ' '.repeat(offloadThreshold * 8);

describe('every type at every field', () => {
  for (const route of bodyRoutes(routes)) {
    const example = route.bodies.get('application/json');
    it(
      `${route.method} ${route.template}: every type at every field, inline and through the pool`,
      () =>
        fuzzSession(
          async ({ server, answers }) => {
            // Each (field, type) once, inline or padded into the pool in a checkerboard: each type meets both
            // parsers (at alternate fields), each field too.
            for (const [p, pointer] of pointers(example).all.entries())
              for (const [t, raw] of typeZoo.entries())
                await sendChecked(server, {
                  method: route.method,
                  path: examplePath(route),
                  headers: [['content-type', 'application/json']],
                  body:
                    render(example, { kind: 'replace', pointer, raw }) + ((p + t) % 2 ? pooledPadding : ''),
                });
            await expectNormalAnswer(server, route, answers, true);
          },
          { route },
        ),
      fuzzTestTimeout,
    );
  }
});

/**
 * Hostile URLs, methods and headers on every route the app has (documented or not, /v1, /v2 and the
 * operational ones), through a keep-alive client: no 5xx, the surface's error shape (problem+json outside /v2,
 * `{ error }` under it, by the path as the router sees it), error bodies under 16 KB, no NaN in a plot; after
 * each request a normal request still gets its 200 through the pool; afterwards every route answers as before
 * and the retained heap is bounded.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzSettings, send } from './harness.js';
import { hostileUrlRequest } from './hostile-http.js';
import {
  appRoutes,
  bodyRoutes,
  checkRoute,
  fuzzSession,
  fuzzTestTimeout,
  printable,
  sendChecked,
} from './suite.js';

const routes = await appRoutes();

describe('hostile URLs, methods and headers', () => {
  it('every route is fuzzed, the documented ones and those the document hides', () => {
    expect(routes.filter((r) => r.documented).length).toBeGreaterThan(10);
    expect(routes.some((r) => r.template === '/metrics')).toBe(true);
  });

  it(
    'no 5xx, the surface error shape, small errors, on any route',
    () =>
      fuzzSession((session) =>
        // Any route's request, then the first body route's normal request through the pool.
        checkRoute(session, bodyRoutes(routes)[0], fc.constantFrom(...routes).chain(hostileUrlRequest), 150),
      ),
    fuzzTestTimeout,
  );

  it(
    'plot.svg with huge, tiny and odd parameters is a plot without NaN, or a 400',
    () =>
      fuzzSession(async ({ server }) => {
        // Every (activation, param) pair of the catalog, so that each param of each activation is reached.
        const catalog = await send(server, { method: 'GET', path: '/v1/activations', headers: [] });
        const { activations } = JSON.parse(catalog.body.toString('utf8')) as {
          activations: { name: string; params: { name: string }[] }[];
        };
        const pairs = activations.flatMap((a) => [
          { name: a.name, param: '' },
          ...a.params.map((p) => ({ name: a.name, param: p.name })),
        ]);
        const numbers = [
          ...[
            '1e308',
            '-1e308',
            '1.7976931348623157e308',
            '1e300',
            '-1e300',
            '1e-308',
            '5e-324',
            '-0',
            '0',
            '1',
          ],
          ...['1e6', '-1e6', '1e7', '1e-7', '1e400', 'NaN'],
        ];
        // Every param of every activation at every extreme value, over the default range: a few hundred requests.
        for (const { name, param } of pairs)
          for (const value of param ? numbers : [''])
            await sendChecked(server, {
              method: 'GET',
              path: `/v1/activations/${name}/plot.svg${param ? `?${param}=${value}` : ''}`,
              headers: [],
            });
        // And extreme ranges, with or without a param.
        const requests = fc
          .record({
            pair: fc.constantFrom(...pairs),
            from: fc.constantFrom(...numbers),
            to: fc.constantFrom(...numbers),
            value: fc.constantFrom(...numbers),
          })
          .map(({ pair, from, to, value }) => {
            const query = [`from=${from}`, `to=${to}`, ...(pair.param ? [`${pair.param}=${value}`] : [])];
            return printable({
              method: 'GET',
              path: `/v1/activations/${pair.name}/plot.svg?${query.join('&')}`,
              headers: [],
            });
          });
        await fc.assert(
          fc.asyncProperty(requests, (request) => sendChecked(server, request)),
          {
            ...fuzzSettings(60),
            endOnFailure: true,
          },
        );
      }),
    fuzzTestTimeout,
  );
});

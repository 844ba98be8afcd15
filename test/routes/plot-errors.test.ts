/** The plot's query errors: one pointer form (/query/<key>), and an unknown param reads as unknown. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { buildTestApp, errorPaths, expectProblem } from '../support/app.js';

let app: App;
beforeAll(async () => {
  // No load shedding: a busy test machine must not turn these into 503s.
  app = await buildTestApp({ maxEventLoopDelayMs: 0 });
});
afterAll(() => app.close());

const plot = (name: string, query: string) =>
  app.inject({ method: 'GET', url: `/v1/activations/${name}/plot.svg?${query}` });

describe('plot query errors', () => {
  it('name every query field as /query/<key>, in the errors and in the detail', async () => {
    for (const [query, path, message] of [
      ['from=abc', '/query/from', /must be a finite number/],
      ['to=Infinity', '/query/to', /must be a finite number/],
      ['from=-1e7', '/query/from', /within ±1000000/],
      ['to=1e7', '/query/to', /within ±1000000/],
      ['from=2&to=1', '/query/to', /greater than from \(2\)/],
      ['from=0&to=1e-9', '/query/to', /at least 0.000001/],
      ['from=1&from=2', '/query/from', /given once/],
    ] as const) {
      const problem = expectProblem(await plot('sigmoid', query), 400, 'invalid-request');
      expect(errorPaths(problem), query).toEqual([path]);
      expect(problem.detail, query).toMatch(new RegExp(`^${path}: `));
      expect(problem.errors?.[0].message, query).toMatch(message);
    }
  });

  it('an unknown param is unknown whatever its value, and names the ones the activation has', async () => {
    for (const value of ['1', 'abc', '']) {
      const problem = expectProblem(await plot('leaky_relu', `nonsense=${value}`), 400, 'invalid-request');
      expect(problem.errors).toEqual([
        { path: '/query/nonsense', message: 'unknown parameter for leaky_relu (allowed: alpha)' },
      ]);
    }
    const none = expectProblem(await plot('sigmoid', 'alpha=x'), 400, 'invalid-request');
    expect(none.errors?.[0]).toEqual({
      path: '/query/alpha',
      message: 'unknown parameter for sigmoid (allowed: none)',
    });
  });

  it('a known param that is not a number, or out of range, points at it', async () => {
    const notNumber = expectProblem(await plot('leaky_relu', 'alpha=abc'), 400, 'invalid-request');
    expect(notNumber.errors).toEqual([{ path: '/query/alpha', message: 'must be a finite number' }]);
    const outOfRange = expectProblem(await plot('softplus', 'beta=0'), 400, 'invalid-request');
    expect(outOfRange.errors).toEqual([{ path: '/query/beta', message: 'must be > 0' }]);
  });

  it('reports every bad field of one request together', async () => {
    const problem = expectProblem(await plot('elu', 'from=x&to=y&gamma=1'), 400, 'invalid-request');
    expect(errorPaths(problem).sort()).toEqual(['/query/from', '/query/gamma', '/query/to']);
  });

  it('still draws a good request', async () => {
    const res = await plot('leaky_relu', 'alpha=0.2&from=-3&to=3');
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/^<svg/);
  });
});

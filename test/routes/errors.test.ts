import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { buildTestApp, errorPaths, expectProblem, post } from '../support/app.js';

let app: App;
beforeAll(async () => {
  app = await buildTestApp();
});
afterAll(() => app.close());

const forward = '/v1/activations/sigmoid/forward';

/** A good request and its exact answer: the app must still give it after each hostile one. */
async function stillAnswers() {
  const res = await post(app, forward, { z: [0] });
  expect(res.statusCode).toBe(200);
  expect(res.json()).toEqual({ a: [0.5] });
}

describe('every client error is an RFC 9457 problem naming the field', () => {
  it('malformed JSON: 400', async () => {
    const problem = expectProblem(await post(app, forward, '{"z": [1, 2'), 400, 'malformed-json');
    expect(problem.detail).toMatch(/JSON/);
    await stillAnswers();
  });

  it('wrong content type: 415', async () => {
    const res = await app.inject({
      method: 'POST',
      url: forward,
      headers: { 'content-type': 'text/plain' },
      payload: '{"z":[1]}',
    });
    const problem = expectProblem(res, 415, 'unsupported-media-type');
    expect(problem.detail).toContain('text/plain');
    expect(problem.detail).toContain('application/json');
  });

  it('empty body: 400', async () => {
    expectProblem(await post(app, forward, ''), 400, 'malformed-json');
    expectProblem(await app.inject({ method: 'POST', url: forward }), 400, 'malformed-json');
  });

  it('a body that is not an object: 400', async () => {
    const problem = expectProblem(await post(app, forward, [1, 2]), 400, 'invalid-request');
    expect(problem.detail).toMatch(/object/);
  });

  it('wrong types: 400 pointing at the element, no coercion of "1"', async () => {
    const problem = expectProblem(await post(app, forward, { z: [1, '2', 3] }), 400, 'invalid-request');
    expect(errorPaths(problem)).toEqual(['/z/1']);
    const batch = expectProblem(
      await post(app, forward, {
        z: [
          [1, 2],
          [3, true],
        ],
      }),
      400,
    );
    expect(errorPaths(batch)).toEqual(['/z/1/1']);
    const scalar = expectProblem(await post(app, forward, { z: 3 }), 400);
    expect(errorPaths(scalar)).toEqual(['/z']);
    expect(scalar.errors?.[0].message).toMatch(/tensor/);
  });

  it('a mix of numbers and rows: 400 pointing at the odd element', async () => {
    const problem = expectProblem(await post(app, forward, { z: [[1, 2], 3] }), 400);
    expect(errorPaths(problem)).toEqual(['/z/1']);
  });

  it('ragged batch: 400 naming both row lengths', async () => {
    const problem = expectProblem(
      await post(app, forward, {
        z: [
          [1, 2, 3],
          [4, 5],
        ],
      }),
      400,
    );
    expect(errorPaths(problem)).toEqual(['/z/1']);
    expect(problem.detail).toContain('2');
    expect(problem.detail).toContain('3');
  });

  it('empty arrays: 400', async () => {
    expect(errorPaths(expectProblem(await post(app, forward, { z: [] }), 400))).toEqual(['/z']);
    expect(errorPaths(expectProblem(await post(app, forward, { z: [[]] }), 400))).toEqual(['/z/0']);
  });

  it('nesting deeper than [N][K]: 400', async () => {
    const problem = expectProblem(await post(app, forward, { z: [[[1]]] }), 400);
    expect(errorPaths(problem)).toEqual(['/z/0/0']);
    expect(problem.detail).toMatch(/two levels/);
  });

  it('very deep nesting is a 400, not a crash', async () => {
    const depth = 200_000;
    const payload = `{"z":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    expectProblem(await post(app, forward, payload), 400);
    await stillAnswers();
  });

  it('numbers that overflow float64 (1e400): 400 with a clear message', async () => {
    const problem = expectProblem(await post(app, forward, '{"z": [1, 1e400]}'), 400);
    expect(errorPaths(problem)).toEqual(['/z/1']);
    expect(problem.detail).toMatch(/finite/);
    expect(problem.detail).toContain('1e400');
    const inParams = expectProblem(
      await post(app, '/v1/activations/leaky_relu/forward', '{"z": [1], "params": {"alpha": -1e400}}'),
      400,
    );
    expect(errorPaths(inParams)).toEqual(['/params/alpha']);
  });

  it('unknown fields: 400 naming the field and the allowed ones', async () => {
    const problem = expectProblem(await post(app, forward, { z: [1], parms: {} }), 400);
    expect(errorPaths(problem)).toEqual(['/parms']);
    expect(problem.detail).toContain('params');
  });

  it('a missing required field: 400 naming it', async () => {
    const problem = expectProblem(await post(app, forward, { params: {} }), 400);
    expect(errorPaths(problem)).toEqual(['/z']);
  });

  it('hardtanh with min >= max: 400 naming the params', async () => {
    const problem = expectProblem(
      await post(app, '/v1/activations/hardtanh/forward', { z: [0], params: { min: 1, max: 1 } }),
      400,
    );
    expect(problem.detail).toMatch(/min/);
    expect(problem.detail).toMatch(/max/);
    expect(problem.errors?.[0].path.startsWith('/params')).toBe(true);
  });

  it('a non-finite result: 422 naming the quantity, never null', async () => {
    // leaky_relu(z) = alpha z for z < 0: 1e300 * -1e300 has no float64 value.
    const res = await post(app, '/v1/activations/leaky_relu/forward', {
      z: [-1e300],
      params: { alpha: 1e300 },
    });
    const problem = expectProblem(res, 422, 'non-finite-result');
    expect(problem.detail).toMatch(/^a\b/);
    expect(res.body).not.toContain('null');
    await stillAnswers();
  });

  it('unknown route: 404 problem', async () => {
    const problem = expectProblem(await app.inject({ method: 'GET', url: '/v1/nothing' }), 404, 'not-found');
    expect(problem.instance).toBe('/v1/nothing');
  });

  it('unsupported method on a known path: 405 problem with Allow', async () => {
    const res = await app.inject({ method: 'GET', url: forward });
    const problem = expectProblem(res, 405, 'method-not-allowed');
    expect(res.headers.allow).toBe('POST');
    expect(problem.detail).toContain('POST');
    const del = await app.inject({ method: 'DELETE', url: '/v1/activations' });
    expectProblem(del, 405);
    expect(del.headers.allow).toContain('GET');
  });
});

describe('limits', () => {
  it('a body over BODY_LIMIT: 413', async () => {
    const small = await buildTestApp({ bodyLimit: 1024 });
    try {
      const z = Array.from({ length: 400 }, (_, i) => i);
      const problem = expectProblem(await post(small, forward, { z }), 413, 'payload-too-large');
      expect(problem.detail).toContain('1024');
      expect((await post(small, forward, { z: [0] })).json()).toEqual({ a: [0.5] });
    } finally {
      await small.close();
    }
  });

  it('the default body limit is 32 MiB, not 1 MiB', async () => {
    const z = new Array(300_000).fill(0.125); // about 1.8 MB of JSON
    const res = await post(app, forward, { z });
    expect(res.statusCode).toBe(200);
    expect(res.json().a).toHaveLength(300_000);
  });

  it('a tensor over MAX_ELEMENTS: 413 naming the field, also for weights', async () => {
    const small = await buildTestApp({ maxElements: 10 });
    try {
      const problem = expectProblem(
        await post(small, forward, {
          z: [
            [1, 2, 3, 4],
            [1, 2, 3, 4],
            [1, 2, 3, 4],
          ],
        }),
        413,
        'too-many-elements',
      );
      expect(problem.detail).toMatch(/^z has 12/);
      const weights = Array.from({ length: 6 }, () => [1, 2]);
      const layer = expectProblem(
        await post(small, '/v1/gradients/output-layer', {
          x: [1, 1, 1, 1, 1, 1],
          weights,
          targets: [0, 1],
          activation: 'identity',
        }),
        413,
      );
      expect(layer.detail).toMatch(/^weights has 12/);
      expect((await post(small, forward, { z: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0] })).statusCode).toBe(200);
    } finally {
      await small.close();
    }
  });

  it('a million bad numbers get a short answer', async () => {
    const z = new Array(1_000_000).fill('x');
    const res = await post(app, forward, { z });
    const problem = expectProblem(res, 400);
    expect(res.body.length).toBeLessThan(2000);
    expect(errorPaths(problem)).toEqual(['/z/0']);
  });
});

describe('request ids', () => {
  it('generates one, echoes it in the header and the problem body', async () => {
    const res = await post(app, forward, { z: [] });
    const id = res.headers['x-request-id'];
    expect(typeof id).toBe('string');
    expect(res.json().requestId).toBe(id);
    const other = await post(app, forward, { z: [0] });
    expect(other.headers['x-request-id']).not.toBe(id);
  });

  it('honours a sane incoming x-request-id', async () => {
    const res = await post(app, forward, { z: [] }, { 'x-request-id': 'trace-42.abc' });
    expect(res.headers['x-request-id']).toBe('trace-42.abc');
    expect(res.json().requestId).toBe('trace-42.abc');
    const ok = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc' } });
    expect(ok.headers['x-request-id']).toBe('abc');
  });

  it('replaces an incoming id that is too long or has odd characters', async () => {
    for (const bad of ['x'.repeat(129), 'has space', 'quote"d', '']) {
      const res = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': bad } });
      expect(res.headers['x-request-id']).not.toBe(bad);
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe('probes', () => {
  it('healthz is ok', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('readyz follows app.readiness: 200, then 503 problem with the reason', async () => {
    const own = await buildTestApp();
    try {
      expect((await own.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ready' });
      own.readiness.ready = false;
      own.readiness.reason = 'shutting down';
      const problem = expectProblem(await own.inject({ method: 'GET', url: '/readyz' }), 503, 'not-ready');
      expect(problem.detail).toBe('shutting down');
      expect((await own.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await own.close();
    }
  });
});

describe('a name the route alone decides is refused before the body is read', () => {
  const unknownActivation = '/v1/activations/no_such_thing/forward';
  const unknownModel = '/v2/models/no_such_thing/infer';

  it('an unknown activation with a body that is not JSON: 404, not 400', async () => {
    const problem = expectProblem(
      await post(app, unknownActivation, '{"z": [1, 2'),
      404,
      'unknown-activation',
    );
    expect(problem.detail).toMatch(/sigmoid/);
  });

  it('an unknown activation with a body beyond BODY_LIMIT: 404, not 413 (the body is never parsed)', async () => {
    const small = await buildTestApp({ bodyLimit: 1024 });
    try {
      const body = JSON.stringify({ z: Array.from({ length: 2000 }, (_, i) => i) });
      expectProblem(await post(small, unknownActivation, body), 404, 'unknown-activation');
      // The same body to a known name is the 413 it deserves.
      expectProblem(await post(small, '/v1/activations/relu/forward', body), 413);
    } finally {
      await small.close();
    }
  });

  it('an unknown /v2 model (or version) with a body that is not JSON: 404 { error }', async () => {
    for (const url of [unknownModel, '/v2/models/sigmoid/versions/7/infer']) {
      const res = await post(app, url, '{"inputs": [');
      expect(res.statusCode, res.body).toBe(404);
      expect(Object.keys(res.json())).toEqual(['error']);
    }
  });

  it('the plot and catalog routes take the same hook', async () => {
    expectProblem(
      await app.inject({ method: 'GET', url: '/v1/activations/nope' }),
      404,
      'unknown-activation',
    );
    expectProblem(
      await app.inject({ method: 'GET', url: '/v1/activations/nope/plot.svg' }),
      404,
      'unknown-activation',
    );
  });
});

describe('one 415 text on both surfaces', () => {
  it('/v1 and /v2 say the same thing, each listing what it reads', async () => {
    const send = (url: string) =>
      app.inject({ method: 'POST', url, headers: { 'content-type': 'text/csv' }, payload: '1,2' });
    const v1 = expectProblem(await send('/v1/activations/sigmoid/forward'), 415, 'unsupported-media-type');
    const v2 = await send('/v2/models/sigmoid/infer');
    expect(v2.statusCode).toBe(415);
    const v2Message = (v2.json() as { error: string }).error;
    const pattern = /^Content-Type "text\/csv" is not supported: send application\/json or .+\.$/;
    expect(v1.detail).toMatch(pattern);
    expect(v2Message).toMatch(pattern);
    expect(v1.detail).toMatch(/tensor\+octet-stream/);
    expect(v2Message).toMatch(/application\/octet-stream/);
  });
});

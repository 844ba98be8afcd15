import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import {
  type Activation,
  activationNames,
  activations,
  activationsWithDerivativeFromOutput,
} from '../../src/core/activations/index.js';
import { buildTestApp, errorPaths, expectProblem, post } from '../support/app.js';

let app: App;
beforeAll(async () => {
  app = await buildTestApp();
});
afterAll(() => app.close());

/** Entries picked from the table by property, so the tests follow the table rather than names. */
function pick(predicate: (e: Activation) => boolean): Activation {
  const entry = activations.find(predicate);
  if (!entry) throw new Error('the table has no such entry');
  return entry;
}
const firstWithParams = pick((e) => e.params.length > 0);
const firstWithoutFromOutput = pick((e) => e.kind === 'elementwise' && !e.derivativeFromOutput);
const vectorEntry = pick((e) => e.kind === 'vector');

describe('GET /v1/activations', () => {
  it('lists every entry of the table with the ActivationInfo shape', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/activations' });
    expect(res.statusCode).toBe(200);
    const { activations: list } = res.json();
    expect(list.map((a: { name: string }) => a.name)).toEqual(activations.map((e) => e.name));
    for (const info of list) {
      expect(Object.keys(info).sort()).toEqual(
        [
          'aliases',
          'derivativeFormula',
          'derivativeFromOutput',
          'description',
          'formula',
          'kind',
          'name',
          'params',
          'plot',
          'secondDerivativeFormula',
          'secondDerivativeFromOutput',
          ...(info.secondDerivativeNote !== undefined ? ['secondDerivativeNote'] : []),
        ].sort(),
      );
      expect(['elementwise', 'vector']).toContain(info.kind);
      expect(typeof info.derivativeFromOutput).toBe('boolean');
    }
  });

  it('marks derivativeFromOutput exactly where the table has a closed form in a', async () => {
    const { activations: list } = (await app.inject({ method: 'GET', url: '/v1/activations' })).json();
    const marked = list
      .filter((a: { derivativeFromOutput: boolean }) => a.derivativeFromOutput)
      .map((a: { name: string }) => a.name);
    expect(marked).toEqual(activationsWithDerivativeFromOutput().map((e) => e.name));
    expect(marked).toContain('sigmoid');
  });
});

describe('GET /v1/activations/{name}', () => {
  it('returns one entry, and aliases resolve to it', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/activations/logistic' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ name: 'sigmoid', aliases: ['logistic'], kind: 'elementwise' });
  });

  it('lists params with default and description', async () => {
    const entry = firstWithParams;
    const res = await app.inject({ method: 'GET', url: `/v1/activations/${entry.name}` });
    expect(res.json().params[0]).toMatchObject({
      name: entry.params[0].name,
      default: entry.params[0].default,
      description: entry.params[0].description,
    });
  });

  it('is a 404 problem listing the known names for an unknown name', async () => {
    const res = await app.inject({ method: 'GET', url: '/v1/activations/sigmoidd' });
    const problem = expectProblem(res, 404, 'unknown-activation');
    expect(problem.detail).toContain('sigmoidd');
    for (const name of activationNames) expect(problem.detail).toContain(name);
  });
});

describe('POST /v1/activations/{name}/forward', () => {
  it('computes sigmoid of a vector and mirrors its shape', async () => {
    const res = await post(app, '/v1/activations/sigmoid/forward', { z: [-2, 0, 2] });
    expect(res.statusCode).toBe(200);
    const { a } = res.json();
    expect(a).toHaveLength(3);
    expect(a[1]).toBe(0.5);
    expect(a[0]).toBeCloseTo(0.11920292202211755, 15);
    expect(a[0] + a[2]).toBeCloseTo(1, 15);
  });

  it('mirrors a batch: [N][K] in, [N][K] out', async () => {
    const res = await post(app, '/v1/activations/logistic/forward', {
      z: [
        [0, 1],
        [-1, 0],
      ],
    });
    expect(res.statusCode).toBe(200);
    const { a } = res.json();
    expect(a).toHaveLength(2);
    expect(a[0]).toHaveLength(2);
    expect(a[0][0]).toBe(0.5);
    expect(a[1][1]).toBe(0.5);
    expect(a[0][1] + a[1][0]).toBeCloseTo(1, 15);
  });

  it('a batch of one row is still a batch', async () => {
    const res = await post(app, '/v1/activations/identity/forward', { z: [[1.5, -2]] });
    expect(res.json()).toEqual({ a: [[1.5, -2]] });
  });

  it('applies a vector activation per row', async () => {
    const res = await post(app, `/v1/activations/${vectorEntry.name}/forward`, {
      z: [
        [1, 2, 3],
        [0, 0, 0],
      ],
    });
    expect(res.statusCode).toBe(200);
    const { a } = res.json();
    expect(a).toHaveLength(2);
    expect(a[1]).toHaveLength(3);
    // Each row is transformed independently: equal logits give equal outputs.
    expect(a[1][0]).toBe(a[1][1]);
    expect(a[0][0]).not.toBe(a[0][1]);
  });

  it('uses a given param and rejects an out-of-range or unknown one', async () => {
    const entry = firstWithParams;
    const spec = entry.params[0];
    const url = `/v1/activations/${entry.name}/forward`;
    const unknown = expectProblem(
      await post(app, url, { z: [1], params: { nosuch: 1 } }),
      400,
      'invalid-request',
    );
    expect(errorPaths(unknown)).toContain('/params/nosuch');
    const bound = spec.exclusiveMinimum ?? (spec.minimum !== undefined ? spec.minimum - 1 : undefined);
    if (bound !== undefined) {
      const bad = expectProblem(await post(app, url, { z: [1], params: { [spec.name]: bound } }), 400);
      expect(errorPaths(bad)).toContain(`/params/${spec.name}`);
    }
  });

  it('rejects params for an activation that has none', async () => {
    const problem = expectProblem(
      await post(app, '/v1/activations/sigmoid/forward', { z: [1], params: { alpha: 2 } }),
      400,
      'invalid-request',
    );
    expect(problem.errors?.[0].path).toBe('/params/alpha');
  });

  it('is a 404 naming the known names for an unknown activation', async () => {
    const problem = expectProblem(
      await post(app, '/v1/activations/nope/forward', { z: [1] }),
      404,
      'unknown-activation',
    );
    expect(problem.detail).toContain('sigmoid');
  });

  it('unknown name wins over a bad body', async () => {
    expectProblem(await post(app, '/v1/activations/nope/forward', { zz: 1 }), 404, 'unknown-activation');
  });
});

describe('POST /v1/activations/{name}/derivative', () => {
  it('from z gives the derivative and a, for a vector', async () => {
    const res = await post(app, '/v1/activations/tanh/derivative', { z: [-1, 0, 1] });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.derivative[1]).toBe(1);
    expect(body.a[1]).toBe(0);
    expect(body.derivative[0]).toBeCloseTo(1 - Math.tanh(1) ** 2, 15);
    expect(body.derivative[2]).toBeCloseTo(1 - Math.tanh(1) ** 2, 15);
  });

  it('mirrors a batch', async () => {
    const res = await post(app, '/v1/activations/sigmoid/derivative', { z: [[0], [0]] });
    expect(res.json()).toEqual({ derivative: [[0.25], [0.25]], a: [[0.5], [0.5]] });
  });

  it('derivative from a matches the derivative from z (and omits a)', async () => {
    const z = [
      [-3, -0.5, 0],
      [0.25, 2, 7],
    ];
    const fromZ = (await post(app, '/v1/activations/sigmoid/derivative', { z })).json();
    const res = await post(app, '/v1/activations/sigmoid/derivative', { a: fromZ.a });
    expect(res.statusCode).toBe(200);
    const fromA = res.json();
    expect(fromA.a).toBeUndefined();
    fromA.derivative.flat().forEach((d: number, i: number) => {
      expect(d).toBeCloseTo(fromZ.derivative.flat()[i], 15);
    });
  });

  it('from a is a 400 naming the activations that allow it', async () => {
    const res = await post(app, `/v1/activations/${firstWithoutFromOutput.name}/derivative`, { a: [0.5] });
    const problem = expectProblem(res, 400, 'derivative-from-output-unsupported');
    for (const e of activationsWithDerivativeFromOutput()) expect(problem.detail).toContain(e.name);
    expect(errorPaths(problem)).toEqual(['/a']);
  });

  it('an a that the activation cannot output is a 400 pointing at the element, not a wrong 200', async () => {
    const res = await post(app, '/v1/activations/sigmoid/derivative', {
      a: [
        [0.5, 0.25],
        [0.75, 2],
      ],
    });
    const problem = expectProblem(res, 400, 'invalid-request');
    expect(errorPaths(problem)).toEqual(['/a/1/1']);
    expect(problem.detail).toMatch(/\[0, 1\]/);
    const tanh = expectProblem(await post(app, '/v1/activations/tanh/derivative', { a: [-1.5] }), 400);
    expect(errorPaths(tanh)).toEqual(['/a/0']);
  });

  it('leaky_relu with a negative alpha refuses the derivative from a (a does not determine it)', async () => {
    const res = await post(app, '/v1/activations/leaky_relu/derivative', {
      a: [0.5],
      params: { alpha: -0.5 },
    });
    expect(expectProblem(res, 400).detail).toMatch(/send z/);
  });

  it('both z and a is a 400 naming both fields', async () => {
    const problem = expectProblem(
      await post(app, '/v1/activations/tanh/derivative', { z: [1], a: [0.5] }),
      400,
    );
    expect(errorPaths(problem).sort()).toEqual(['/a', '/z']);
    expect(problem.detail).toMatch(/\bz\b.*\ba\b/);
  });

  it('neither z nor a is a 400 naming both fields', async () => {
    const problem = expectProblem(await post(app, '/v1/activations/tanh/derivative', {}), 400);
    expect(errorPaths(problem).sort()).toEqual(['/a', '/z']);
  });

  it('a vector activation is a 400 pointing to its own Jacobian and VJP routes', async () => {
    for (const entry of activations.filter((e) => e.kind === 'vector')) {
      const res = await post(app, `/v1/activations/${entry.name}/derivative`, { z: [1, 2] });
      const problem = expectProblem(res, 400, 'vector-activation');
      expect(problem.detail).toContain(`/v1/activations/${entry.name}/jacobian`);
      expect(problem.detail).toContain(`/v1/activations/${entry.name}/vjp`);
    }
  });
});

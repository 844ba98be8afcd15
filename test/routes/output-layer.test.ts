import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { buildTestApp, errorPaths, expectProblem, post } from '../support/app.js';
import { loadGolden } from '../support/golden.js';

type Quantities = Record<
  'loss' | 'z' | 'a' | 'delta' | 'weightGradient' | 'biasGradient' | 'inputGradient',
  number | number[] | number[][]
>;
interface OutputLayerCase {
  name: string;
  N: number;
  M: number;
  K: number;
  request: Record<string, unknown>;
  mpmath: Quantities;
}
const golden = loadGolden<{ cases: OutputLayerCase[] }>('output_layer.json').cases;

const norm = (xs: number[]) => Math.sqrt(xs.reduce((s, x) => s + x * x, 0));

/** ||got - want|| / ||want|| (absolute when want is all zeros). */
function normwiseError(got: unknown, want: unknown): number {
  const g = [got].flat(2) as number[];
  const w = [want].flat(2) as number[];
  expect(g).toHaveLength(w.length);
  const diff = norm(g.map((x, i) => x - w[i]));
  const scale = norm(w);
  return scale > 0 ? diff / scale : diff;
}

/** The shape of a JSON tensor, e.g. [2, 3] or [3]. */
const shape = (t: unknown): number[] =>
  Array.isArray(t) ? [t.length, ...(Array.isArray(t[0]) ? [(t[0] as unknown[]).length] : [])] : [];

let app: App;
beforeAll(async () => {
  app = await buildTestApp();
});
afterAll(() => app.close());

const url = '/v1/gradients/output-layer';
const example = {
  x: [0.5, -1],
  weights: [
    [0.1, -0.2],
    [0.3, 0.4],
  ],
  bias: [0, 0.1],
  targets: [1, 0],
  activation: 'sigmoid',
};

describe('POST /v1/gradients/output-layer', () => {
  it('every golden request gives the mpmath values within 1e-12 normwise', async () => {
    const failures: string[] = [];
    for (const c of golden) {
      const res = await post(app, url, c.request);
      if (res.statusCode !== 200) {
        failures.push(`${c.name}: ${res.statusCode} ${res.body}`);
        continue;
      }
      const body = res.json() as Quantities;
      for (const key of Object.keys(c.mpmath) as (keyof Quantities)[]) {
        const err = normwiseError(body[key], c.mpmath[key]);
        if (!(err <= 1e-12)) failures.push(`${c.name}: ${key} off by ${err}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('one sample in: z, a, delta shaped like targets, inputGradient like x, weightGradient M x K', async () => {
    const res = await post(app, url, example);
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(shape(body.z)).toEqual([2]);
    expect(shape(body.a)).toEqual([2]);
    expect(shape(body.delta)).toEqual([2]);
    expect(shape(body.inputGradient)).toEqual([2]);
    expect(shape(body.weightGradient)).toEqual([2, 2]);
    expect(shape(body.biasGradient)).toEqual([2]);
    // Squared error with sigmoid: delta = (a - t) a (1 - a); dE/dw[j][k] = x_j delta_k.
    const a0 = 1 / (1 + Math.exp(0.25));
    expect(body.z[0]).toBe(-0.25);
    expect(body.delta[0]).toBeCloseTo((a0 - 1) * a0 * (1 - a0), 15);
    expect(body.weightGradient[1][0]).toBeCloseTo(-1 * body.delta[0], 15);
    expect(body.biasGradient).toEqual(body.delta);
  });

  it('a batch in: everything per sample is [N][...]', async () => {
    const res = await post(app, url, {
      ...example,
      x: [
        [0.5, -1],
        [1, 2],
        [0, 0],
      ],
      targets: [
        [1, 0],
        [0, 1],
        [0.5, 0.5],
      ],
      reduction: 'mean',
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(shape(body.z)).toEqual([3, 2]);
    expect(shape(body.delta)).toEqual([3, 2]);
    expect(shape(body.inputGradient)).toEqual([3, 2]);
    expect(shape(body.weightGradient)).toEqual([2, 2]);
  });

  it('defaults: zero bias, squared_error, sum', async () => {
    const { bias: _bias, ...noBias } = example;
    const implicit = (await post(app, url, noBias)).json();
    const explicit = (
      await post(app, url, { ...noBias, bias: [0, 0], loss: 'squared_error', reduction: 'sum' })
    ).json();
    expect(implicit).toEqual(explicit);
  });

  describe('shape mismatches are a 400 naming both sizes', () => {
    const cases: [string, Record<string, unknown>, string, string[]][] = [
      ['x columns vs weights rows', { x: [0.5, -1, 2] }, '/x', ['3', '2']],
      ['bias vs K', { bias: [0, 0.1, 0.2] }, '/bias', ['3', '2']],
      ['targets vs K', { targets: [1, 0, 0] }, '/targets', ['3', '2']],
      [
        'N of x vs N of targets',
        {
          x: [
            [0.5, -1],
            [1, 1],
          ],
          targets: [
            [1, 0],
            [1, 0],
            [0, 1],
          ],
        },
        '/targets',
        ['2', '3'],
      ],
      ['x one sample, targets a batch', { targets: [[1, 0]] }, '/targets', ['[2]', '[1][2]']],
      ['ragged weights', { weights: [[0.1, -0.2], [0.3]] }, '/weights/1', ['1', '2']],
    ];
    for (const [label, patch, path, sizes] of cases) {
      it(label, async () => {
        const problem = expectProblem(await post(app, url, { ...example, ...patch }), 400);
        expect(errorPaths(problem)).toEqual([path]);
        for (const size of sizes) expect(problem.detail).toContain(size);
      });
    }
  });

  it('an unknown activation, loss or reduction is a 400 listing the allowed values', async () => {
    const activation = expectProblem(await post(app, url, { ...example, activation: 'sigmoidd' }), 400);
    expect(errorPaths(activation)).toEqual(['/activation']);
    expect(activation.detail).toContain('tanh');
    const loss = expectProblem(await post(app, url, { ...example, loss: 'hinge' }), 400);
    expect(loss.detail).toContain('binary_cross_entropy');
    const reduction = expectProblem(await post(app, url, { ...example, reduction: 'max' }), 400);
    expect(reduction.detail).toContain('mean');
  });

  it('params are checked against the activation', async () => {
    const problem = expectProblem(await post(app, url, { ...example, params: { alpha: 1 } }), 400);
    expect(errorPaths(problem)).toEqual(['/params/alpha']);
  });

  it('an overflowing z is a 422 naming the quantity, never a null', async () => {
    const problem = expectProblem(
      await post(app, url, {
        ...example,
        x: [1e300, 1e300],
        weights: [
          [1e300, 1],
          [1, 1],
        ],
      }),
      422,
      'non-finite-result',
    );
    expect(problem.detail).toMatch(/^z\b/);
  });

  it('a log of a <= 0 outside the logit forms is a 422 naming the loss', async () => {
    // identity gives a = z = -0.25 < 0, and cross_entropy takes log a under t = 1.
    const res = await post(app, url, { ...example, activation: 'identity', loss: 'cross_entropy' });
    const problem = expectProblem(res, 422, 'non-finite-result');
    expect(problem.detail).toMatch(/loss|delta/);
  });
});

/**
 * Properties of the R-operator's curvature products on random smooth networks (fast-check): H v is symmetric in
 * use and linear in v, G is positive semi-definite, G = H where the output is linear in the parameters (one
 * identity layer with squared error), and H v matches a central difference of the gradient (core's network())
 * to within the difference's own error.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultParams, findActivation } from '../../src/core/activations/index.js';
import type { Curvature, Loss } from '../../src/core/losses.js';
import {
  type CurvatureInput,
  curvatureProduct,
  type DenseLayer,
  type LayerDirection,
  network,
} from '../../src/core/network.js';

/** Activations smooth everywhere (g'' continuous), hidden softmax included. */
const smooth = ['tanh', 'sigmoid', 'softplus', 'gelu', 'gelu_tanh', 'silu', 'mish', 'identity', 'softmax'];

const entry = (name: string) => {
  const found = findActivation(name);
  if (!found) throw new Error(name);
  return found;
};

/** Reals in [-size, size] on a grid of 2^-20: no tiny or subnormal entries, whose products underflow. */
const values = (n: number, size: number) =>
  fc
    .array(fc.double({ noNaN: true, min: -size, max: size }), { minLength: n, maxLength: n })
    .map((a) => Float64Array.from(a, (x) => Math.round(x * 2 ** 20) / 2 ** 20));

/** Output activation and loss pairs whose H_out is PSD for targets in [0, 1] (the contract's four and softmax + SE). */
const heads: readonly [string, Loss][] = [
  ['identity', 'squared_error'],
  ['tanh', 'squared_error'],
  ['sigmoid', 'squared_error'],
  ['softmax', 'squared_error'],
  ['softmax', 'cross_entropy'],
  ['sigmoid', 'binary_cross_entropy'],
  ['sigmoid', 'cross_entropy'],
];

interface Problem {
  readonly input: Omit<CurvatureInput, 'vector' | 'curvature'>;
  readonly u: LayerDirection[];
  readonly v: LayerDirection[];
}

const directionFor = (layers: readonly DenseLayer[]) =>
  fc
    .tuple(...layers.map(({ M, K }) => fc.tuple(values(M * K, 1), values(K, 1))))
    .map((parts) => parts.map(([weights, bias]) => ({ weights, bias })));

/** 1-3 layers of 1-4 units, N of 1-3, weights in [-1.5, 1.5], x in [-2, 2], targets in [0, 1]. */
const problems: fc.Arbitrary<Problem> = fc
  .record({
    widths: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 4 }),
    N: fc.integer({ min: 1, max: 3 }),
    hidden: fc.array(fc.constantFrom(...smooth), { minLength: 3, maxLength: 3 }),
    head: fc.constantFrom(...heads),
    reduction: fc.constantFrom('sum' as const, 'mean' as const),
  })
  .chain(({ widths, N, hidden, head, reduction }) => {
    const count = widths.length - 1;
    const shapes = Array.from({ length: count }, (_, l) => ({ M: widths[l], K: widths[l + 1] }));
    return fc
      .record({
        x: values(N * widths[0], 2),
        targets: fc
          .array(fc.double({ noNaN: true, min: 0, max: 1 }), {
            minLength: N * widths[count],
            maxLength: N * widths[count],
          })
          .map((a) => Float64Array.from(a, (t) => Math.round(t * 2 ** 20) / 2 ** 20)),
        params: fc.tuple(...shapes.map(({ M, K }) => fc.tuple(values(M * K, 1.5), values(K, 0.5)))),
      })
      .chain(({ x, targets, params }) => {
        const layers: DenseLayer[] = shapes.map(({ M, K }, l) => {
          const activation = entry(l === count - 1 ? head[0] : hidden[l]);
          return {
            M,
            K,
            weights: params[l][0],
            bias: params[l][1],
            activation,
            params: defaultParams(activation),
          };
        });
        const input = { x, N, layers, targets, loss: head[1], reduction };
        return fc
          .record({ u: directionFor(layers), v: directionFor(layers) })
          .map(({ u, v }) => ({ input, u, v }));
      });
  });

const flatProducts = (input: Problem['input'], vector: LayerDirection[], curvature: Curvature) => {
  const result = curvatureProduct({ ...input, vector, curvature });
  return Float64Array.from(result.layers.flatMap((l) => [...l.weightProduct, ...l.biasProduct]));
};

const flatDirection = (vector: LayerDirection[]) =>
  Float64Array.from(vector.flatMap((l) => [...l.weights, ...(l.bias ?? new Float64Array(l.weights.length))]));

const maxAbs = (x: ArrayLike<number>) => Array.from(x).reduce((m, e) => Math.max(m, Math.abs(e)), 0);

/**
 * sum u_i w_i and its rounding scale ||u||_1 ||w||_inf: normwise, since an entry of w = C v may itself be a
 * cancellation of terms the size of ||C v|| (a sum of |u_i w_i| would understate it).
 */
function dot(u: Float64Array, w: Float64Array) {
  let sum = 0;
  let norm1 = 0;
  for (let i = 0; i < u.length; i++) {
    sum += u[i] * w[i];
    norm1 += Math.abs(u[i]);
  }
  return { sum, scale: norm1 * maxAbs(w) };
}

const EPS = Number.EPSILON;

describe.each(['hessian', 'gauss-newton'] as const)('%s', (curvature) => {
  it('is symmetric in use: u^T (C v) = v^T (C u) to rounding', () => {
    fc.assert(
      fc.property(problems, ({ input, u, v }) => {
        const uCv = dot(flatDirection(u), flatProducts(input, v, curvature));
        const vCu = dot(flatDirection(v), flatProducts(input, u, curvature));
        expect(Math.abs(uCv.sum - vCu.sum)).toBeLessThanOrEqual(1e3 * EPS * (uCv.scale + vCu.scale) + 1e-300);
      }),
      { numRuns: 150 },
    );
  });

  it('is linear in v: C (2u - 3v) = 2 C u - 3 C v to rounding', () => {
    fc.assert(
      fc.property(problems, ({ input, u, v }) => {
        const combined = u.map((l, i) => ({
          weights: l.weights.map((w, j) => 2 * w - 3 * v[i].weights[j]),
          bias: (l.bias as Float64Array).map((b, j) => 2 * b - 3 * (v[i].bias as Float64Array)[j]),
        }));
        const Cu = flatProducts(input, u, curvature);
        const Cv = flatProducts(input, v, curvature);
        const got = flatProducts(input, combined, curvature);
        const want = Cu.map((c, i) => 2 * c - 3 * Cv[i]);
        const scale = 2 * maxAbs(Cu) + 3 * maxAbs(Cv);
        for (let i = 0; i < got.length; i++)
          expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e3 * EPS * scale + 1e-300);
      }),
      { numRuns: 150 },
    );
  });
});

describe('Gauss-Newton', () => {
  it('is positive semi-definite: v^T G v >= 0 up to rounding', () => {
    fc.assert(
      fc.property(problems, ({ input, v }) => {
        const vGv = dot(flatDirection(v), flatProducts(input, v, 'gauss-newton'));
        expect(vGv.sum).toBeGreaterThanOrEqual(-1e3 * EPS * vGv.scale);
      }),
      { numRuns: 200 },
    );
  });

  it('equals H for one identity layer with squared error (the output is linear in the parameters)', () => {
    const linear = problems
      .map(({ input, v }) => ({
        input: {
          ...input,
          loss: 'squared_error' as const,
          layers: [{ ...input.layers[0], activation: entry('identity'), params: {} }],
          targets: input.targets.slice(0, input.N * input.layers[0].K),
        },
        v: [v[0]],
      }))
      .filter(({ input }) => input.targets.length === input.N * input.layers[0].K);
    fc.assert(
      fc.property(linear, ({ input, v }) => {
        expect(flatProducts(input, v, 'gauss-newton')).toEqual(flatProducts(input, v, 'hessian'));
      }),
      { numRuns: 100 },
    );
  });

  it('differs from H where a hidden layer curves (so the equality above is not vacuous)', () => {
    const layers: DenseLayer[] = [
      { M: 1, K: 1, weights: Float64Array.of(0.8), activation: entry('tanh'), params: {} },
      { M: 1, K: 1, weights: Float64Array.of(1.3), activation: entry('identity'), params: {} },
    ];
    const input = {
      x: Float64Array.of(0.7),
      N: 1,
      layers,
      targets: Float64Array.of(2),
      loss: 'squared_error' as const,
      reduction: 'sum' as const,
    };
    const v = [{ weights: Float64Array.of(1) }, { weights: Float64Array.of(0) }];
    expect(flatProducts(input, v, 'gauss-newton')[0]).not.toBeCloseTo(
      flatProducts(input, v, 'hessian')[0],
      3,
    );
  });
});

describe('H v against a central difference of the gradient', () => {
  /** The gradient, flat, at theta + e v. */
  function gradientAt(input: Problem['input'], v: LayerDirection[], e: number): Float64Array {
    const layers = input.layers.map((layer, l) => ({
      ...layer,
      weights: layer.weights.map((w, j) => w + e * v[l].weights[j]),
      bias: (layer.bias as Float64Array).map((b, j) => b + e * (v[l].bias as Float64Array)[j]),
    }));
    const result = network({ ...input, layers });
    return Float64Array.from(result.layers.flatMap((l) => [...l.weightGradient, ...l.biasGradient]));
  }

  const central = (input: Problem['input'], v: LayerDirection[], e: number) => {
    const plus = gradientAt(input, v, e);
    const minus = gradientAt(input, v, -e);
    return plus.map((p, i) => (p - minus[i]) / (2 * e));
  };

  it('matches within the difference’s own error (truncation from two steps, rounding from the gradient’s size)', () => {
    fc.assert(
      fc.property(problems, ({ input, v }) => {
        const Hv = flatProducts(input, v, 'hessian');
        const e = 1e-4;
        const d1 = central(input, v, e);
        const d2 = central(input, v, 2 * e);
        const dHalf = central(input, v, e / 2);
        // The difference's own error, estimated from its neighbours: D(e) - Hv ~ c e^2 and D(2e) - D(e) ~ 3 c e^2
        // bound the truncation, D(e/2) - D(e) carries the rounding noise (twice D(e)'s); plus the roundings of
        // the gradient and of theta +- e v (a few ulp of each) divided by 2e.
        const spread = maxAbs(d2.map((d, i) => Math.abs(d - d1[i]) + Math.abs(dHalf[i] - d1[i])));
        const rounding = (1e2 * EPS * (maxAbs(gradientAt(input, v, 0)) + maxAbs(Hv))) / e;
        for (let i = 0; i < Hv.length; i++)
          expect(Math.abs(Hv[i] - d1[i]), `entry ${i}`).toBeLessThanOrEqual(spread + rounding + 1e-300);
      }),
      { numRuns: 150 },
    );
  });
});

/**
 * The output layer against the golden vectors (output_layer.json): every field within 1e-12 of the mpmath
 * reference normwise, ||got - ref|| / max(||ref||, 2^-1022). Where a reference field is all zeros (large
 * logits with tanh: the true values are below the subnormal range) the floor makes the bound absolute,
 * ||got|| <= 1e-12 * 2^-1022, i.e. the field must come out zero too.
 */
import { describe, expect, it } from 'vitest';
import { findActivation, resolveParams } from '../../src/core/activations/index.js';
import { NonFiniteResultError } from '../../src/core/errors.js';
import { type Loss, losses, type Reduction, reductions } from '../../src/core/losses.js';
import { type OutputLayerResult, outputLayer } from '../../src/core/output-layer.js';
import { softmaxJacobian } from '../../src/core/softmax.js';
import { fromJson, type JsonTensor } from '../../src/core/tensor.js';
import { flat, normwiseDeviation } from '../support/compare.js';
import { loadGolden } from '../support/golden.js';

const fields = ['loss', 'z', 'a', 'delta', 'weightGradient', 'biasGradient', 'inputGradient'] as const;
type Field = (typeof fields)[number];
type Fields = Record<Field, number | JsonTensor>;

interface Request {
  x: JsonTensor;
  weights: number[][];
  bias?: number[];
  targets: JsonTensor;
  activation: string;
  params?: Record<string, number>;
  loss?: Loss;
  reduction?: Reduction;
}

interface OutputLayerCase {
  name: string;
  tags: string[];
  N: number;
  M: number;
  K: number;
  request: Request;
  expected: Fields;
  mpmath: Fields;
  torch_vs_mpmath_normwise_rel_dev: Record<Field, number>;
}

const TOLERANCE = 1e-12;
const cases = loadGolden<{ cases: OutputLayerCase[] }>('output_layer.json').cases;

/** What a request body becomes on its way to core (as the route does it). */
function run(request: Request): OutputLayerResult {
  const x = fromJson(request.x);
  const weights = fromJson(request.weights);
  const targets = fromJson(request.targets);
  const activation = findActivation(request.activation);
  if (!activation) throw new Error(`unknown activation ${request.activation}`);
  const resolved = resolveParams(activation, request.params);
  if ('errors' in resolved) throw new Error(JSON.stringify(resolved.errors));
  return outputLayer({
    x: x.data,
    N: x.rows,
    M: x.cols,
    weights: weights.data,
    K: weights.cols,
    bias: request.bias ? Float64Array.from(request.bias) : undefined,
    targets: targets.data,
    activation,
    params: resolved.params,
    loss: request.loss ?? 'squared_error',
    reduction: request.reduction ?? 'sum',
  });
}

const asArray = (value: number | Float64Array): ArrayLike<number> =>
  typeof value === 'number' ? [value] : value;

describe('the schema enums come from core', () => {
  it('losses and reductions list the contract names', () => {
    expect([...losses]).toEqual(['squared_error', 'cross_entropy', 'binary_cross_entropy']);
    expect([...reductions]).toEqual(['sum', 'mean']);
  });
});

describe.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  it(`every field is within ${TOLERANCE} of mpmath normwise`, () => {
    const got = run(c.request);
    const deviations = fields.map((f) => [f, normwiseDeviation(asArray(got[f]), flat(c.mpmath[f]))] as const);
    for (const [field, deviation] of deviations) {
      expect(
        deviation,
        `${field}: deviations ${JSON.stringify(Object.fromEntries(deviations))}`,
      ).toBeLessThanOrEqual(TOLERANCE);
    }
  });

  const torchFarOff = fields.filter((f) => c.torch_vs_mpmath_normwise_rel_dev[f] >= 1e-3);
  if (torchFarOff.length > 0) {
    it(`is much closer to mpmath than PyTorch on ${torchFarOff.join(', ')}`, () => {
      const got = run(c.request);
      for (const field of torchFarOff) {
        const ours = normwiseDeviation(asArray(got[field]), flat(c.mpmath[field]));
        const torch = c.torch_vs_mpmath_normwise_rel_dev[field];
        expect(ours, `${field}: ours ${ours}, PyTorch ${torch}`).toBeLessThanOrEqual(1e-9 * torch);
      }
    });
  }
});

describe('output layer behaviour', () => {
  const x = [
    [0.3, -1.2, 0.7],
    [1.1, 0.4, -0.5],
    [-0.8, 0.9, 0.2],
  ];
  const weights = [
    [0.5, -0.3],
    [0.2, 0.8],
    [-0.6, 0.1],
  ];
  const targets = [
    [0.2, 0.9],
    [0.7, 0.1],
    [0.4, 0.6],
  ];
  const base: Request = { x, weights, bias: [0.1, -0.2], targets, activation: 'identity' };

  it('mean is sum / N for the loss, delta and every gradient', () => {
    const sum = run({ ...base, reduction: 'sum' });
    const mean = run({ ...base, reduction: 'mean' });
    expect(mean.loss).toBe(sum.loss / 3);
    expect(Array.from(mean.delta)).toEqual(Array.from(sum.delta, (d) => d / 3));
    for (const field of ['weightGradient', 'biasGradient', 'inputGradient'] as const) {
      expect(
        normwiseDeviation(
          mean[field],
          Array.from(sum[field], (g) => g / 3),
        ),
        field,
      ).toBeLessThan(1e-15);
    }
    expect(mean.z).toEqual(sum.z);
  });

  it('1-D x and targets give the same numbers as a one-row batch', () => {
    const single = run({ ...base, x: x[1], targets: targets[1] });
    const batch = run({ ...base, x: [x[1]], targets: [targets[1]] });
    expect(single).toEqual(batch);
  });

  it('a zero target weight where a = 0 contributes 0 to the cross-entropy (0 log 0 = 0)', () => {
    // identity: z = [0, 0.5], so a_0 = 0 sits under t_0 = 0.
    const result = run({
      x: [1],
      weights: [[0, 0.5]],
      targets: [0, 1],
      activation: 'identity',
      loss: 'cross_entropy',
    });
    expect(result.loss).toBe(-Math.log(0.5));
    expect(Array.from(result.delta)).toEqual([0, -2]);
  });

  it('a zero weight on log(1 - a) where a = 1 contributes 0 to the binary cross-entropy', () => {
    const result = run({
      x: [1],
      weights: [[1, 0.25]],
      targets: [1, 0.5],
      activation: 'identity',
      loss: 'binary_cross_entropy',
    });
    expect(Number.isFinite(result.loss)).toBe(true);
    expect(result.loss).toBeCloseTo(-(0.5 * Math.log(0.25) + 0.5 * Math.log(0.75)), 15);
  });

  it('a log of a <= 0 under a non-zero target weight throws NonFiniteResultError naming the loss', () => {
    for (const [z, loss] of [
      [0, 'cross_entropy'],
      [-0.5, 'cross_entropy'],
      [0, 'binary_cross_entropy'],
      [1, 'binary_cross_entropy'],
      [1.5, 'binary_cross_entropy'],
    ] as const) {
      const call = () => run({ x: [1], weights: [[z]], targets: [0.5], activation: 'identity', loss });
      expect(call, `z=${z} ${loss}`).toThrow(NonFiniteResultError);
      expect(call, `z=${z} ${loss}`).toThrow(expect.objectContaining({ quantity: 'loss' }));
    }
  });

  it('overflow of z throws NonFiniteResultError naming z', () => {
    const call = () => run({ x: [1e308], weights: [[10]], targets: [0], activation: 'identity' });
    expect(call).toThrow(expect.objectContaining({ name: 'NonFiniteResultError', quantity: 'z' }));
  });

  it('log_softmax with cross_entropy is a log of a <= 0: NonFiniteResultError naming the loss', () => {
    const call = () => run({ ...base, activation: 'log_softmax', loss: 'cross_entropy' });
    expect(call).toThrow(expect.objectContaining({ quantity: 'loss' }));
  });

  it('softmax with squared error is J^T (a - t), the same as multiplying by the full Jacobian', () => {
    const result = run({ ...base, activation: 'softmax' });
    const { jacobian } = softmaxJacobian(result.z, 2, 'z');
    const t = flat(targets);
    const expected = new Float64Array(6);
    for (let n = 0; n < 3; n++)
      for (let i = 0; i < 2; i++)
        for (let j = 0; j < 2; j++)
          expected[n * 2 + i] += jacobian[n * 4 + j * 2 + i] * (result.a[n * 2 + j] - t[n * 2 + j]);
    expect(normwiseDeviation(result.delta, expected)).toBeLessThan(1e-15);
  });

  it('softmax with cross_entropy has delta = a sum(t) - t, finite at logits of 1000', () => {
    const result = run({
      x: [1],
      weights: [[1000, 0, -1000]],
      targets: [0, 0.25, 0.75],
      activation: 'softmax',
      loss: 'cross_entropy',
    });
    expect(result.loss).toBe(0.25 * 1000 + 0.75 * 2000);
    expect(Array.from(result.delta)).toEqual([1, -0.25, -0.75]);
  });

  it('rejects sizes that disagree', () => {
    const entry = findActivation('identity');
    if (!entry) throw new Error('identity is not in the table');
    const input = {
      x: new Float64Array(6),
      N: 2,
      M: 3,
      weights: new Float64Array(6),
      K: 2,
      targets: new Float64Array(4),
      activation: entry,
      params: {},
      loss: 'squared_error',
      reduction: 'sum',
    } as const;
    expect(() => outputLayer(input)).not.toThrow();
    expect(() => outputLayer({ ...input, weights: new Float64Array(5) })).toThrow(RangeError);
    expect(() => outputLayer({ ...input, targets: new Float64Array(6) })).toThrow(RangeError);
    expect(() => outputLayer({ ...input, bias: new Float64Array(3) })).toThrow(RangeError);
  });
});

/** Backpropagation behaviour beyond the golden vectors: hidden vector activations, saturation, errors, mean. */
import { describe, expect, it } from 'vitest';
import { defaultParams, findActivation } from '../../src/core/activations/index.js';
import { NonFiniteResultError } from '../../src/core/errors.js';
import type { Loss } from '../../src/core/losses.js';
import { type DenseLayer, type NetworkInput, network } from '../../src/core/network.js';
import { softmaxJacobian, softmaxRows } from '../../src/core/softmax.js';
import { maxNormDeviation } from '../support/compare.js';

function layer(activation: string, weights: number[][], bias?: number[]): DenseLayer {
  const entry = findActivation(activation);
  if (!entry) throw new Error(`unknown activation ${activation}`);
  return {
    weights: Float64Array.from(weights.flat()),
    M: weights.length,
    K: weights[0].length,
    bias: bias ? Float64Array.from(bias) : undefined,
    activation: entry,
    params: defaultParams(entry),
  };
}

const x = Float64Array.from([0.3, -1.2, 0.7, 1.1, 0.4, -0.5, -0.8, 0.9, 0.2, 0.6, -0.1, 1.3]); // 4 x 3
const W1 = [
  [0.5, -0.3, 0.8],
  [0.2, 0.8, -0.4],
  [-0.6, 0.1, 0.3],
];
const W2 = [
  [0.7, -0.2],
  [-0.5, 0.9],
  [0.4, 0.1],
];
const targets = Float64Array.from([0.2, 0.9, 0.7, 0.1, 0.4, 0.6, 0.5, 0.5]); // 4 x 2

function twoLayers(hidden: string, output = 'sigmoid', loss: Loss = 'squared_error'): NetworkInput {
  return {
    x,
    N: 4,
    layers: [layer(hidden, W1, [0.1, -0.2, 0.05]), layer(output, W2, [0.3, -0.1])],
    targets,
    loss,
    reduction: 'sum',
  };
}

/** dE/da of the hidden layer: delta_2 W_2^T, by plain loops. */
function hiddenUpstream(delta2: Float64Array): Float64Array {
  const out = new Float64Array(12);
  for (let n = 0; n < 4; n++)
    for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) out[n * 3 + j] += delta2[n * 2 + k] * W2[j][k];
  return out;
}

describe('hidden vector activations backpropagate through their Jacobian', () => {
  it('softmax: delta_1 = J^T (delta_2 W_2^T) with the full Jacobian a_i (delta_ij - a_j)', () => {
    const result = network(twoLayers('softmax'));
    const [hidden, out] = result.layers;
    const upstream = hiddenUpstream(out.delta);
    const { jacobian } = softmaxJacobian(hidden.z, 3, 'z');
    const expected = new Float64Array(12);
    for (let n = 0; n < 4; n++)
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 3; j++) expected[n * 3 + i] += jacobian[n * 9 + j * 3 + i] * upstream[n * 3 + j];
    expect(maxNormDeviation(hidden.delta, expected)).toBeLessThan(1e-15);
  });

  it('log_softmax: delta_1 = v - softmax(z) sum(v) per row, v = delta_2 W_2^T', () => {
    const result = network(twoLayers('log_softmax'));
    const [hidden, out] = result.layers;
    const upstream = hiddenUpstream(out.delta);
    const p = softmaxRows(hidden.z, 3);
    const expected = new Float64Array(12);
    for (let n = 0; n < 4; n++) {
      const sum = upstream[n * 3] + upstream[n * 3 + 1] + upstream[n * 3 + 2];
      for (let i = 0; i < 3; i++) expected[n * 3 + i] = upstream[n * 3 + i] - p[n * 3 + i] * sum;
    }
    expect(maxNormDeviation(hidden.delta, expected)).toBeLessThan(1e-15);
  });
});

describe("every layer's g' comes from z", () => {
  it('a hidden sigmoid saturated at z = 40 keeps its slope 4.25e-18 where a(1 - a) = 0', () => {
    // x = 1, one hidden unit with z = 40 (a rounds to 1), identity output with squared error.
    const result = network({
      x: Float64Array.of(1),
      N: 1,
      layers: [layer('sigmoid', [[40]]), layer('identity', [[2]])],
      targets: Float64Array.of(0),
      loss: 'squared_error',
      reduction: 'sum',
    });
    const [hidden, out] = result.layers;
    expect(hidden.a[0]).toBe(1);
    const slope = Math.exp(-40) / (1 + Math.exp(-40)) ** 2;
    expect(hidden.delta[0]).not.toBe(0);
    expect(Math.abs(hidden.delta[0] - out.delta[0] * 2 * slope) / (out.delta[0] * 2 * slope)).toBeLessThan(
      1e-15,
    );
    expect(result.inputGradient[0]).toBe(hidden.delta[0] * 40);
  });

  it('tanh at z = 20 gives 1 - tanh^2 = 4 e^-40 (1 - a^2 would be 0)', () => {
    const result = network({
      x: Float64Array.of(1),
      N: 1,
      layers: [layer('tanh', [[20]]), layer('identity', [[1]])],
      targets: Float64Array.of(0),
      loss: 'squared_error',
      reduction: 'sum',
    });
    const [hidden] = result.layers;
    expect(1 - hidden.a[0] ** 2).toBe(0);
    const exact = 4 * Math.exp(-40) * (1 - 2 * Math.exp(-40)); // sech^2(20), first two terms
    expect(Math.abs(hidden.delta[0] - exact) / exact).toBeLessThan(1e-14);
  });
});

describe('network errors', () => {
  it('an overflowing hidden z is a NonFiniteResultError naming the layer', () => {
    const call = () =>
      network({
        x: Float64Array.of(1e300),
        N: 1,
        layers: [layer('identity', [[1e10]]), layer('identity', [[1]])],
        targets: Float64Array.of(0),
        loss: 'squared_error',
        reduction: 'sum',
      });
    expect(call).toThrow(NonFiniteResultError);
    expect(call).toThrow(expect.objectContaining({ quantity: 'layers.0.z' }));
  });

  it('an overflow in a later layer names that layer', () => {
    const call = () =>
      network({
        x: Float64Array.of(1e200),
        N: 1,
        layers: [layer('identity', [[1e100]]), layer('relu', [[1e10]])],
        targets: Float64Array.of(0),
        loss: 'squared_error',
        reduction: 'sum',
      });
    expect(call).toThrow(expect.objectContaining({ quantity: 'layers.1.z' }));
  });

  it('a log of a <= 0 under a non-zero target names the loss', () => {
    const call = () => network({ ...twoLayers('tanh', 'identity', 'cross_entropy') });
    expect(call).toThrow(expect.objectContaining({ quantity: 'loss' }));
  });

  it('sizes that disagree between layers are a RangeError naming both layers', () => {
    const input = twoLayers('tanh');
    const [first, second] = input.layers;
    const narrow = { ...second, weights: new Float64Array(4), M: 2 };
    expect(() => network({ ...input, layers: [first, narrow] })).toThrow(
      'layer 1 has 2 inputs but layer 0 has 3 outputs',
    );
    expect(() => network({ ...input, layers: [] })).toThrow(RangeError);
    expect(() => network({ ...input, targets: new Float64Array(6) })).toThrow(RangeError);
  });
});

describe('reduction', () => {
  it('mean is sum / N in every layer (N = 4 divides exactly)', () => {
    const sum = network(twoLayers('gelu', 'softmax', 'cross_entropy'));
    const mean = network({ ...twoLayers('gelu', 'softmax', 'cross_entropy'), reduction: 'mean' });
    expect(mean.loss).toBe(sum.loss / 4);
    for (const [l, layerSum] of sum.layers.entries()) {
      for (const q of ['delta', 'weightGradient', 'biasGradient'] as const)
        expect(Array.from(mean.layers[l][q]), `layer ${l} ${q}`).toEqual(
          Array.from(layerSum[q], (v) => v / 4),
        );
      expect(mean.layers[l].z).toEqual(layerSum.z);
    }
    expect(Array.from(mean.inputGradient)).toEqual(Array.from(sum.inputGradient, (v) => v / 4));
  });
});

describe('gradients agree with central differences of the loss', () => {
  it.each([
    ['tanh', 'sigmoid', 'binary_cross_entropy'],
    ['softplus', 'softmax', 'cross_entropy'],
    ['softmax', 'identity', 'squared_error'],
    ['gelu', 'tanh', 'squared_error'],
  ] as const)('%s -> %s, %s', (hidden, output, loss) => {
    const input = twoLayers(hidden, output, loss);
    const result = network(input);
    const h = 1e-6;
    for (const [l, L] of input.layers.entries()) {
      for (let i = 0; i < L.weights.length; i++) {
        const shifted = (by: number) => {
          const weights = Float64Array.from(L.weights);
          weights[i] += by;
          const layers = input.layers.map((other, o) => (o === l ? { ...other, weights } : other));
          return network({ ...input, layers }).loss;
        };
        const numeric = (shifted(h) - shifted(-h)) / (2 * h);
        const analytic = result.layers[l].weightGradient[i];
        expect(Math.abs(numeric - analytic), `layer ${l} weight ${i}`).toBeLessThan(
          1e-7 * (1 + Math.abs(analytic)),
        );
      }
    }
  });
});

/**
 * Whole-network backpropagation against the golden vectors (network.json): every returned tensor and the
 * loss within 1e-12 of the mpmath reference normwise, max |got - ref| / max |ref| (the generator's measure);
 * where PyTorch float64 returns exactly 0 for a normal true value, ours within 1e-6 relative of it; and the
 * gradient checker tells PyTorch's deep_saturated gradients from the exact ones at rtol 1e-9.
 */
import { describe, expect, it } from 'vitest';
import { findActivation, resolveParams } from '../../src/core/activations/index.js';
import { checkNetworkGradients, type GivenGradients } from '../../src/core/gradient-check.js';
import type { Loss, Reduction } from '../../src/core/losses.js';
import { layerQuantities, type NetworkResult, network } from '../../src/core/network.js';
import { outputLayer } from '../../src/core/output-layer.js';
import { fromJson, type JsonTensor } from '../../src/core/tensor.js';
import { DBL_MIN, flat, maxNormDeviation } from '../support/compare.js';
import { loadGolden } from '../support/golden.js';

interface LayerRequest {
  weights: number[][];
  bias?: number[];
  activation: string;
  params?: Record<string, number>;
}

interface Request {
  x: JsonTensor;
  layers: LayerRequest[];
  targets: JsonTensor;
  loss?: Loss;
  reduction?: Reduction;
}

type LayerFields = Record<(typeof layerQuantities)[number], JsonTensor>;

interface Fields {
  loss: number;
  layers: LayerFields[];
  inputGradient: JsonTensor;
}

interface NetworkCase {
  name: string;
  tags: string[];
  widths: number[];
  N: number;
  request: Request;
  expected: Fields;
  mpmath: Fields;
  torch_vs_mpmath_normwise_rel_dev: Record<string, number>;
}

const TOLERANCE = 1e-12;
const cases = loadGolden<{ cases: NetworkCase[] }>('network.json').cases;

function layerInput(layer: LayerRequest) {
  const weights = fromJson(layer.weights);
  const activation = findActivation(layer.activation);
  if (!activation) throw new Error(`unknown activation ${layer.activation}`);
  const resolved = resolveParams(activation, layer.params);
  if ('errors' in resolved) throw new Error(JSON.stringify(resolved.errors));
  return {
    weights: weights.data,
    M: weights.rows,
    K: weights.cols,
    bias: layer.bias ? Float64Array.from(layer.bias) : undefined,
    activation,
    params: resolved.params,
  };
}

/** What a request body becomes on its way to core. */
function run(request: Request): NetworkResult {
  const x = fromJson(request.x);
  return network({
    x: x.data,
    N: x.rows,
    layers: request.layers.map(layerInput),
    targets: fromJson(request.targets).data,
    loss: request.loss ?? 'squared_error',
    reduction: request.reduction ?? 'sum',
  });
}

/** Every returned quantity as [path, ours, reference] (flattened). */
function pairs(got: NetworkResult, want: Fields): [string, ArrayLike<number>, Float64Array][] {
  const out: [string, ArrayLike<number>, Float64Array][] = [['/loss', [got.loss], flat(want.loss)]];
  got.layers.forEach((layer, l) => {
    for (const q of layerQuantities) out.push([`/layers/${l}/${q}`, layer[q], flat(want.layers[l][q])]);
  });
  out.push(['/inputGradient', got.inputGradient, flat(want.inputGradient)]);
  return out;
}

/** A reference's gradients in the checker's input form. */
function gradientsOf(fields: Fields): GivenGradients {
  return {
    loss: fields.loss,
    layers: fields.layers.map((l) => ({
      weightGradient: flat(l.weightGradient),
      biasGradient: flat(l.biasGradient),
    })),
    inputGradient: flat(fields.inputGradient),
  };
}

function check(c: NetworkCase, given: GivenGradients, rtol: number) {
  const sizes = c.request.layers.map((l) => ({ M: l.weights.length, K: l.weights[0].length }));
  const inputDims = Array.isArray(c.request.x[0]) ? [c.N, c.widths[0]] : [c.widths[0]];
  return checkNetworkGradients(run(c.request), sizes, inputDims, given, { rtol, atol: 0 });
}

describe.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
  it(`every returned tensor and the loss are within ${TOLERANCE} of mpmath normwise`, () => {
    const deviations = pairs(run(c.request), c.mpmath).map(
      ([path, got, want]) => [path, maxNormDeviation(got, want)] as const,
    );
    expect(deviations.length).toBe(2 + 5 * c.request.layers.length);
    for (const [path, deviation] of deviations) expect(deviation, path).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('saturated units (deep_saturated)', () => {
  const deep = cases.filter((c) => c.tags.includes('deep_saturated'));

  it('where PyTorch float64 gives exactly 0 for a normal true value, ours is within 1e-6 relative of it', () => {
    const found: string[] = [];
    for (const c of deep) {
      const got = pairs(run(c.request), c.mpmath);
      const torch = pairs(run(c.request), c.expected).map(([, , t]) => t);
      got.forEach(([path, ours, exact], q) => {
        for (let i = 0; i < exact.length; i++) {
          if (torch[q][i] !== 0 || Math.abs(exact[i]) < DBL_MIN) continue;
          found.push(`${path}/${i}`);
          const relative = Math.abs(ours[i] - exact[i]) / Math.abs(exact[i]);
          expect(relative, `${c.name} ${path}[${i}]: ours ${ours[i]}, exact ${exact[i]}`).toBeLessThanOrEqual(
            1e-6,
          );
        }
      });
    }
    // The golden README's count: 9 entries of the two cases (so this test is not vacuous).
    expect(found).toHaveLength(9);
  });

  it.each(deep.map((c) => [c.name, c] as const))('the checker flags PyTorch at rtol 1e-9 on %s', (_n, c) => {
    const checks = check(c, gradientsOf(c.expected), 1e-9);
    expect(checks.some((k) => !k.passed)).toBe(true);
  });

  it.each(deep.map((c) => [c.name, c] as const))('the checker passes the mpmath gradients of %s', (_n, c) => {
    const checks = check(c, gradientsOf(c.mpmath), 1e-9);
    expect(checks).toHaveLength(2 + 2 * c.request.layers.length);
    for (const k of checks) expect(k.passed, `${k.path}: ${JSON.stringify(k)}`).toBe(true);
  });
});

describe('one layer is the output layer', () => {
  const outputCases = loadGolden<{
    cases: { name: string; request: Request & Omit<LayerRequest, 'bias'> & { bias?: number[] } }[];
  }>('output_layer.json').cases;

  it.each(outputCases.map((c) => [c.name, c.request] as const))('bit for bit: %s', (_n, request) => {
    const { x, targets, loss, reduction, weights, bias, activation, params } = request;
    const viaNetwork = run({ x, targets, loss, reduction, layers: [{ weights, bias, activation, params }] });
    const layer = layerInput({ weights, bias, activation, params });
    const xs = fromJson(x);
    const direct = outputLayer({
      ...layer,
      x: xs.data,
      N: xs.rows,
      targets: fromJson(targets).data,
      loss: loss ?? 'squared_error',
      reduction: reduction ?? 'sum',
    });
    expect({
      loss: viaNetwork.loss,
      ...viaNetwork.layers[0],
      inputGradient: viaNetwork.inputGradient,
    }).toEqual(direct);
  });
});

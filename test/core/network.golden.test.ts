/**
 * Whole-network backpropagation against the golden vectors (network.json): every returned tensor and the
 * loss within 1e-12 of the mpmath reference normwise, max |got - ref| / max |ref| (the generator's measure);
 * where PyTorch float64 returns exactly 0 for a normal true value, ours within 1e-6 relative of it; and the
 * gradient checker tells PyTorch's deep_saturated gradients from the exact ones at rtol 1e-9.
 */
import { describe, expect, it } from 'vitest';
import { checkNetworkGradients, type GivenGradients } from '../../src/core/gradient-check.js';
import { outputLayer } from '../../src/core/output-layer.js';
import { fromJson } from '../../src/core/tensor.js';
import { DBL_MIN, flat, maxNormDeviation } from '../support/compare.js';
import { loadGolden } from '../support/golden.js';
import {
  denseLayer,
  goldenNetworks,
  type LayerRequest,
  type NetworkCase,
  type NetworkFields,
  type NetworkRequest,
  quantities,
  runNetwork as run,
} from '../support/network.js';

const TOLERANCE = 1e-12;
const cases = goldenNetworks();

/** A reference's gradients in the checker's input form. */
function gradientsOf(fields: NetworkFields): GivenGradients {
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
    const reference = quantities(c.mpmath);
    const deviations = [...quantities(run(c.request))].map(
      ([path, got]) => [path, maxNormDeviation(got, reference.get(path) ?? [])] as const,
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
      const exactAll = quantities(c.mpmath);
      const torchAll = quantities(c.expected);
      for (const [path, ours] of quantities(run(c.request))) {
        const exact = exactAll.get(path) ?? [];
        const torch = torchAll.get(path) ?? [];
        for (let i = 0; i < exact.length; i++) {
          if (torch[i] !== 0 || Math.abs(exact[i]) < DBL_MIN) continue;
          found.push(`${path}/${i}`);
          const relative = Math.abs(ours[i] - exact[i]) / Math.abs(exact[i]);
          expect(relative, `${c.name} ${path}[${i}]: ours ${ours[i]}, exact ${exact[i]}`).toBeLessThanOrEqual(
            1e-6,
          );
        }
      }
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
    cases: { name: string; request: Omit<NetworkRequest, 'layers'> & LayerRequest }[];
  }>('output_layer.json').cases;

  it.each(outputCases.map((c) => [c.name, c.request] as const))('bit for bit: %s', (_n, request) => {
    const { x, targets, loss, reduction, weights, bias, activation, params } = request;
    const viaNetwork = run({ x, targets, loss, reduction, layers: [{ weights, bias, activation, params }] });
    const layer = denseLayer({ weights, bias, activation, params });
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

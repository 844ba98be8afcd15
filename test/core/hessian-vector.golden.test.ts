/**
 * Curvature-vector products of whole networks against second.json's hessian_vector cases: every product tensor
 * within 1e-12 of the exact one normwise (max |got - ref| / max |ref|, the generator's measure), every entry
 * whose exact value is a normal float64 within 1e-6 relative, for both curvatures; the gradients, the loss and
 * the directional derivative too. The worst normwise error per case is printed (the notes quote the worst).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { curvatures } from '../../src/core/losses.js';
import type { ProductResult } from '../../src/core/network.js';
import { DBL_MIN, flat, maxNormDeviation } from '../support/compare.js';
import { loadGolden } from '../support/golden.js';
import { type NetworkRequest, runCurvature, type VectorRequest } from '../support/network.js';

const NORMWISE = 1e-12;
const ENTRY = 1e-6;

interface ProductFields {
  loss: number;
  directionalDerivative: number;
  layers: {
    weightGradient: number[][];
    biasGradient: number[];
    weightProduct: number[][];
    biasProduct: number[];
  }[];
}

interface HessianVectorCase {
  name: string;
  tags: string[];
  atBreakpoint: boolean;
  request: NetworkRequest & { vector: VectorRequest };
  expected: Record<(typeof curvatures)[number], ProductFields>;
}

const cases = loadGolden<{ hessian_vector: HessianVectorCase[] }>('second.json').hessian_vector;

/** Every tensor of a result by path: /layers/<l>/<quantity>. */
function tensors(result: ProductResult | ProductFields): Map<string, ArrayLike<number>> {
  const out = new Map<string, ArrayLike<number>>();
  result.layers.forEach((layer, l) => {
    for (const [q, value] of Object.entries(layer))
      out.set(`/layers/${l}/${q}`, value instanceof Float64Array ? value : flat(value as number[]));
  });
  return out;
}

const worst: { name: string; curvature: string; normwise: number; path: string; entry: number }[] = [];

it('the golden file has its 26 cases, none at a breakpoint (so every one is checked below)', () => {
  expect(cases).toHaveLength(26);
  expect(cases.filter((c) => c.atBreakpoint)).toEqual([]);
});

afterAll(() => {
  const lines = worst.map(
    (w) => `${w.normwise.toExponential(2)}  ${w.curvature.padEnd(12)} ${w.path.padEnd(22)} ${w.name}`,
  );
  const overall = worst.reduce((m, w) => (w.normwise > m.normwise ? w : m), worst[0]);
  const entry = worst.reduce((m, w) => (w.entry > m.entry ? w : m), worst[0]);
  console.log(
    `worst normwise product error per case:\n${lines.join('\n')}\noverall ${overall.normwise.toExponential(3)} (${overall.curvature}, ${overall.name}); ` +
      `worst relative error of a product entry whose exact value is normal: ${entry.entry.toExponential(3)} (${entry.curvature}, ${entry.name})`,
  );
});

describe.each(cases.filter((c) => !c.atBreakpoint).map((c) => [c.name, c] as const))('%s', (_name, c) => {
  it.each(curvatures.map((k) => [k] as const))(
    '%s: products, gradients and scalars match the exact values',
    (curvature) => {
      const got = runCurvature(c.request, curvature);
      const want = c.expected[curvature];
      const ours = tensors(got);
      const reference = tensors(want);
      expect(ours.size).toBe(4 * c.request.layers.length);
      let caseWorst = { normwise: 0, path: '', entry: 0 };
      for (const [path, value] of ours) {
        const exact = reference.get(path) ?? [];
        const normwise = maxNormDeviation(value, exact);
        expect(normwise, `${path} normwise`).toBeLessThanOrEqual(NORMWISE);
        if (path.endsWith('Product') && normwise >= caseWorst.normwise)
          caseWorst = { ...caseWorst, normwise, path };
        for (let i = 0; i < exact.length; i++) {
          if (Math.abs(exact[i]) < DBL_MIN) continue;
          const relative = Math.abs(value[i] - exact[i]) / Math.abs(exact[i]);
          if (path.endsWith('Product')) caseWorst.entry = Math.max(caseWorst.entry, relative);
          expect(relative, `${path}[${i}]: ours ${value[i]}, exact ${exact[i]}`).toBeLessThanOrEqual(ENTRY);
        }
      }
      for (const scalar of ['loss', 'directionalDerivative'] as const)
        expect(Math.abs(got[scalar] - want[scalar]), scalar).toBeLessThanOrEqual(
          NORMWISE * Math.abs(want[scalar]),
        );
      worst.push({ name: c.name, curvature, ...caseWorst });
    },
  );
});

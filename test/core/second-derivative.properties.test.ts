/**
 * Properties of every elementwise entry's g'', whatever its formula: finite for every finite z; a central
 * difference of g' (the derivative route's kernel) wherever g' and g'' are smooth, to within the difference's
 * own error; and, where the entry has it, g'' from the output a = g(z) equal to g'' from z to within what a's
 * rounding moves it. Kinks are found from the kernels alone, so no activation is named here.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultParams, type ElementwiseActivation, type Params } from '../../src/core/activations/index.js';
import {
  anyFinite,
  elementwise,
  kinkNear,
  moderate,
  nearDefaultParams,
} from '../support/activation-arbitraries.js';
import { ulp } from '../support/golden.js';

const RUNS = 1000;
const U = 2 ** -52;

/**
 * (g'(z + h) - g'(z - h)) / (2h), over the exact step between the rounded z +- h. Its truncation error,
 * h^2 g''''/6, is bounded by |D(h) - D(2h)| (which is about 3 h^2 |g''''| / 6); its rounding error by the
 * kernel's few ulp of g' over the step.
 */
function difference(entry: ElementwiseActivation, z: number, params: Params, h: number) {
  const above = z + h;
  const below = z - h;
  const gAbove = entry.derivative(above, params);
  const gBelow = entry.derivative(below, params);
  return {
    value: (gAbove - gBelow) / (above - below),
    // Each g' is within 8 ulp relative, or, where it is subnormal, within a few of the smallest subnormal
    // (2^-1074: there a rounding is absolute, not relative; gelu_tanh'' near z = -21.5 is about 1e-319).
    rounding: (8 * U * Math.max(Math.abs(gAbove), Math.abs(gBelow)) + 4 * 2 ** -1074) / h,
  };
}

describe.each(elementwise.map((e) => [e.name, e] as const))('%s', (_name, entry) => {
  const defaults = defaultParams(entry);

  it("g'' is finite for every finite z (default params and params near them)", () => {
    fc.assert(
      fc.property(anyFinite, nearDefaultParams(entry), (z, near) => {
        for (const params of [defaults, near ?? defaults])
          expect(Number.isFinite(entry.secondDerivative(z, params)), `z=${z} ${JSON.stringify(params)}`).toBe(
            true,
          );
      }),
      { numRuns: RUNS },
    );
  });

  it("g'' agrees with a central difference of g' wherever g' and g'' are smooth, within the difference's error", () => {
    fc.assert(
      fc.property(moderate, nearDefaultParams(entry), (z, near) => {
        const params = near ?? defaults;
        fc.pre(!kinkNear((x) => entry.forward(x, params), z));
        fc.pre(!kinkNear((x) => entry.derivative(x, params), z));
        const h = 2 ** -17 * Math.max(1, Math.abs(z));
        const one = difference(entry, z, params, h);
        const two = difference(entry, z, params, 2 * h);
        const second = entry.secondDerivative(z, params);
        const tolerance = Math.abs(one.value - two.value) + one.rounding + 8 * U * Math.abs(second);
        expect(
          Math.abs(second - one.value),
          `z=${z}, params=${JSON.stringify(params)}: g''=${second}, difference ${one.value}`,
        ).toBeLessThanOrEqual(tolerance);
      }),
      { numRuns: RUNS },
    );
  });

  const fromOutput = entry.secondDerivativeFromOutput;
  if (fromOutput) {
    it("g'' from the output a = g(z) agrees with g'' from z, to within a's rounding", () => {
      fc.assert(
        fc.property(fc.oneof(anyFinite, moderate), nearDefaultParams(entry), (z, near) => {
          const params = near ?? defaults;
          const a = entry.forward(z, params);
          fc.pre(entry.outputCheck?.(a, params) === undefined);
          const fromZ = entry.secondDerivative(z, params);
          const fromA = fromOutput(a, params);
          // a is within a couple of ulp of g(z): allow 4 ulp of a times the local slope of g'' in a (from its
          // neighbours), beside 8 ulp of g'' itself.
          const step = ulp(a);
          const slope = Math.max(
            Math.abs(fromOutput(a + step, params) - fromA),
            Math.abs(fromOutput(a - step, params) - fromA),
          );
          const tolerance = 8 * U * Math.abs(fromZ) + 4 * slope + 4 * 2 ** -1074;
          expect(
            Math.abs(fromA - fromZ),
            `z=${z}, a=${a}, params=${JSON.stringify(params)}: from a ${fromA}, from z ${fromZ}`,
          ).toBeLessThanOrEqual(tolerance);
        }),
        { numRuns: RUNS },
      );
    });
  }
});

import { describe, expect, it } from 'vitest';
import { activations, findActivation } from '../../src/core/activations/index.js';
import { goldenActivations, ulpError } from '../support/golden.js';

const MAX_ULP = 4;
const golden = goldenActivations();

describe('every elementwise activation of the table has golden vectors', () => {
  const covered = new Set(golden.map((g) => g.name));
  for (const entry of activations.filter((e) => e.kind === 'elementwise')) {
    it(`${entry.name} is covered`, () => expect(covered.has(entry.name)).toBe(true));
  }
});

describe.each(golden.map((g) => [`${g.name} ${JSON.stringify(g.params)}`, g] as const))('%s', (_label, g) => {
  const entry = findActivation(g.name);

  it('is in the table as an elementwise activation', () => {
    expect(entry?.kind).toBe('elementwise');
  });
  if (entry?.kind !== 'elementwise') return;

  it(`value is within ${MAX_ULP} ulp of the reference at every golden point`, () => {
    const worst = g.cases
      .map((c) => ({ z: c.z, got: entry.forward(c.z, g.params), want: c.value }))
      .map((r) => ({ ...r, ulp: ulpError(r.got, r.want) }))
      .reduce((a, b) => (b.ulp > a.ulp ? b : a));
    expect(worst.ulp, `worst at z=${worst.z}: got ${worst.got}, want ${worst.want}`).toBeLessThanOrEqual(
      MAX_ULP,
    );
  });

  it(`derivative is within ${MAX_ULP} ulp away from kinks`, () => {
    const worst = g.cases
      .filter((c) => !c.kink)
      .map((c) => ({ z: c.z, got: entry.derivative(c.z, g.params), want: c.derivative }))
      .map((r) => ({ ...r, ulp: ulpError(r.got, r.want) }))
      .reduce((a, b) => (b.ulp > a.ulp ? b : a));
    expect(worst.ulp, `worst at z=${worst.z}: got ${worst.got}, want ${worst.want}`).toBeLessThanOrEqual(
      MAX_ULP,
    );
  });

  it("derivative at kinks is exactly PyTorch's convention", () => {
    for (const c of g.cases.filter((k) => k.kink)) {
      expect(entry.derivative(c.z, g.params) + 0, `z=${c.z}`).toBe(c.derivative + 0);
    }
  });

  const fromOutput = entry.derivativeFromOutput;
  const outputCheck = entry.outputCheck;
  if (outputCheck) {
    it('accepts every golden output as a possible a', () => {
      for (const c of g.cases)
        expect(outputCheck(c.value, g.params), `a=${c.value} (z=${c.z})`).toBeUndefined();
    });
  }
  if (fromOutput) {
    it("derivative from the output a is within 4 * 2^-52 * max(1, |g'|) of the reference", () => {
      for (const c of g.cases) {
        const got = fromOutput(c.value, g.params);
        const tolerance = 4 * 2 ** -52 * Math.max(1, Math.abs(c.derivative));
        expect(
          Math.abs(got - c.derivative),
          `a=${c.value} (z=${c.z}): got ${got}, want ${c.derivative}`,
        ).toBeLessThanOrEqual(tolerance);
      }
    });
  }
});

/**
 * g''(z) of every elementwise activation against test/fixtures/golden/second.json (mpmath, rounded to nearest,
 * subnormals included): within 4 ulp at every point, every parameter set of the file; 0 where g' jumps and on
 * linear pieces; the closed forms in a against their exact values; and PyTorch's double backward, kept in the
 * file beside the reference, shown worse at the points the issue names. The worst ulp per entry is printed
 * (run with --reporter=verbose, or read the console output) and asserted.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { activations, findActivation } from '../../src/core/activations/index.js';
import { ulpError } from '../support/golden.js';
import { goldenFromOutput, goldenSecondActivations, torchNumber } from '../support/second-golden.js';

const MAX_ULP = 4;
const golden = goldenSecondActivations();

/** The worst ulp per entry, printed after the run (the closing note quotes it). */
const worst = new Map<string, { ulp: number; z: number }>();
afterAll(() => {
  const rows = [...worst].map(([label, w]) => `${label.padEnd(36)} ${w.ulp.toFixed(2)} ulp at z = ${w.z}`);
  console.info(`g'' worst error against second.json, per entry:\n${rows.join('\n')}`);
});

describe('every elementwise activation of the table has second-derivative golden vectors', () => {
  const covered = new Set(golden.map((g) => g.name));
  for (const entry of activations.filter((e) => e.kind === 'elementwise'))
    it(`${entry.name} is covered`, () => expect(covered.has(entry.name)).toBe(true));
});

describe.each(golden.map((g) => [`${g.name} ${JSON.stringify(g.params)}`, g] as const))('%s', (label, g) => {
  const entry = findActivation(g.name);
  if (entry?.kind !== 'elementwise') throw new Error(`${g.name}: not an elementwise entry of the table`);

  it(`g'' is within ${MAX_ULP} ulp of the reference at every golden point`, () => {
    const rows = g.cases.map((c) => {
      const got = entry.secondDerivative(c.z, g.params);
      return { z: c.z, got, want: c.second, ulp: ulpError(got, c.second) };
    });
    const w = rows.reduce((a, b) => (b.ulp > a.ulp ? b : a));
    worst.set(label, { ulp: w.ulp, z: w.z });
    expect(w.ulp, `worst at z=${w.z}: got ${w.got}, want ${w.want}`).toBeLessThanOrEqual(MAX_ULP);
  });

  it("g'' is 0 exactly where g' jumps and on linear pieces", () => {
    for (const c of g.cases.filter((k) => k.kink || k.linear))
      expect(entry.secondDerivative(c.z, g.params), `z=${c.z}`).toBe(0);
  });

  const secondKinks = g.cases.filter((c) => c.secondKink);
  if (secondKinks.length) {
    it("where only g'' jumps it returns the file's value (0, PyTorch's), and the catalog note says so", () => {
      for (const c of secondKinks)
        expect(entry.secondDerivative(c.z, g.params) + 0, `z=${c.z}`).toBe(c.second);
      expect(entry.secondDerivativeNote).toMatch(/g''\(0\) is 0/);
    });
  }

  it(`g' and g, which the route returns beside g'', are within ${MAX_ULP} ulp away from kinks`, () => {
    for (const c of g.cases.filter((k) => !k.kink)) {
      expect(ulpError(entry.derivative(c.z, g.params), c.derivative), `g' at z=${c.z}`).toBeLessThanOrEqual(
        MAX_ULP,
      );
      expect(ulpError(entry.forward(c.z, g.params), c.value), `g at z=${c.z}`).toBeLessThanOrEqual(MAX_ULP);
    }
  });
});

describe.each(goldenFromOutput().map((f) => [f.name, f] as const))('%s from a', (name, f) => {
  const entry = findActivation(name);
  if (entry?.kind !== 'elementwise') throw new Error(`${name}: not an elementwise entry of the table`);
  const second = entry.secondDerivativeFromOutput;
  const first = entry.derivativeFromOutput;

  it(`g''(a) and g'(a) are within ${MAX_ULP} ulp of ${f.secondFormula} and ${f.derivativeFormula} of that a`, () => {
    if (!second || !first) throw new Error(`${name} has no closed form in a`);
    let w = { ulp: 0, a: 0 };
    for (const c of f.cases) {
      expect(entry.outputCheck?.(c.a, {}), `a=${c.a} is a possible output`).toBeUndefined();
      const ulp = ulpError(second(c.a, {}), c.second);
      if (ulp > w.ulp) w = { ulp, a: c.a };
      expect(ulpError(first(c.a, {}), c.derivative), `g' at a=${c.a}`).toBeLessThanOrEqual(MAX_ULP);
    }
    worst.set(`${name} from a`, { ulp: w.ulp, z: w.a });
    expect(w.ulp, `worst at a=${w.a}`).toBeLessThanOrEqual(MAX_ULP);
  });
});

describe("PyTorch's double backward, as the golden file keeps it, against this service", () => {
  const entryOf = (name: string, params: Record<string, number> = {}) => {
    const g = golden.find((e) => e.name === name && JSON.stringify(e.params) === JSON.stringify(params));
    const entry = findActivation(name);
    if (!g || entry?.kind !== 'elementwise') throw new Error(`no golden entry ${name}`);
    return { g, entry };
  };

  /** At z: PyTorch's stored g'' and ours, each in ulps of the reference. */
  function compare(name: string, z: number, params: Record<string, number> = {}) {
    const { g, entry } = entryOf(name, params);
    const c = g.cases.find((k) => k.z === z);
    if (!c) throw new Error(`${name} has no golden point ${z}`);
    const torch = torchNumber(c.torch_second);
    return {
      exact: c.second,
      torch,
      torchUlp: ulpError(torch, c.second),
      ours: entry.secondDerivative(z, params),
      oursUlp: ulpError(entry.secondDerivative(z, params), c.second),
    };
  }

  it("sigmoid''(+-1e-300): PyTorch returns 0 (a rounds to 1/2), the service -z/8", () => {
    for (const z of [1e-300, -1e-300]) {
      const r = compare('sigmoid', z);
      expect(r.torch + 0).toBe(0);
      expect(r.exact).toBe(-z / 8);
      expect(r.oursUlp).toBeLessThanOrEqual(MAX_ULP);
    }
  });

  it("sigmoid'' and tanh'' out where a rounds to +-1 (|z| = 40, 100): PyTorch 0, the service within an ulp", () => {
    for (const [name, z] of [
      ['sigmoid', 40],
      ['sigmoid', 100],
      ['tanh', -40],
      ['tanh', 100],
    ] as const) {
      const r = compare(name, z);
      expect(r.torch + 0, `${name} ${z}`).toBe(0);
      expect(Math.abs(r.exact)).toBeGreaterThan(2 ** -1022);
      expect(r.oursUlp, `${name} ${z}`).toBeLessThanOrEqual(1);
    }
  });

  it("mish'' at z >= 710: PyTorch NaN, the service the (underflowed) reference", () => {
    for (const z of [710, 745, 1000]) {
      const r = compare('mish', z);
      expect(r.torch).toBeNaN();
      expect(r.ours + 0).toBe(r.exact + 0);
    }
  });

  it('over the whole file PyTorch is off by more than 4 ulp at many points where the service is not', () => {
    let torchOff = 0;
    for (const g of golden) {
      const entry = findActivation(g.name);
      if (entry?.kind !== 'elementwise') continue;
      for (const c of g.cases) {
        if (c.torch_second === undefined || c.kink || c.secondKink) continue;
        if (ulpError(torchNumber(c.torch_second), c.second) > MAX_ULP) {
          torchOff++;
          expect(ulpError(entry.secondDerivative(c.z, g.params), c.second)).toBeLessThanOrEqual(MAX_ULP);
        }
      }
    }
    expect(torchOff).toBeGreaterThan(50);
  });
});

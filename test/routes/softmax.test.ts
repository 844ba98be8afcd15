import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { buildTestApp, errorPaths, expectProblem, post } from '../support/app.js';
import { loadGolden } from '../support/golden.js';

interface SoftmaxCase {
  name: string;
  K: number;
  logits: number[];
  probabilities: number[];
  jacobian: number[][];
  v: number[];
  vjp: number[];
}
interface SoftmaxBatchCase {
  name: string;
  logits: number[][];
  probabilities: number[][];
  jacobian: number[][][];
  v: number[][];
  vjp: number[][];
}
const golden = loadGolden<{ cases: SoftmaxCase[]; batch_cases: SoftmaxBatchCase[] }>('softmax.json');

/** max |got - want| over all entries, relative to max(1, max |want|). */
function maxError(got: unknown, want: unknown): number {
  const g = [got].flat(3) as number[];
  const w = [want].flat(3) as number[];
  expect(g).toHaveLength(w.length);
  const scale = Math.max(1, ...w.map(Math.abs));
  return Math.max(0, ...g.map((x, i) => Math.abs(x - w[i]) / scale));
}

let app: App;
beforeAll(async () => {
  app = await buildTestApp();
});
afterAll(() => app.close());

describe('POST /v1/softmax/jacobian', () => {
  it('gives a and a K x K Jacobian for the Swagger example [1, 2, 3]', async () => {
    const res = await post(app, '/v1/softmax/jacobian', { z: [1, 2, 3] });
    expect(res.statusCode).toBe(200);
    const { a, jacobian } = res.json();
    expect(a).toHaveLength(3);
    expect(jacobian).toHaveLength(3);
    for (const row of jacobian) expect(row).toHaveLength(3);
    // J is symmetric and each row sums to 0 (sum_j a_i (delta_ij - a_j) = a_i (1 - 1)).
    expect(jacobian[0][1]).toBe(jacobian[1][0]);
    for (const row of jacobian) expect(Math.abs(row[0] + row[1] + row[2])).toBeLessThan(1e-16);
    expect(jacobian[2][2]).toBeCloseTo(a[2] * (1 - a[2]), 15);
  });

  it('matches the golden vectors for every single-sample case, from z and from a', async () => {
    for (const c of golden.cases) {
      const fromZ = (await post(app, '/v1/softmax/jacobian', { z: c.logits })).json();
      expect(maxError(fromZ.a, c.probabilities), c.name).toBeLessThan(1e-15);
      expect(maxError(fromZ.jacobian, c.jacobian), c.name).toBeLessThan(1e-15);
      const fromA = (await post(app, '/v1/softmax/jacobian', { a: c.probabilities })).json();
      expect(maxError(fromA.jacobian, c.jacobian), c.name).toBeLessThan(1e-15);
    }
  });

  it('gives N x K x K for a batch', async () => {
    for (const c of golden.batch_cases) {
      const res = await post(app, '/v1/softmax/jacobian', { z: c.logits });
      expect(res.statusCode, c.name).toBe(200);
      const { a, jacobian } = res.json();
      expect(a).toHaveLength(c.logits.length);
      expect(jacobian).toHaveLength(c.logits.length);
      expect(jacobian[0]).toHaveLength(c.logits[0].length);
      expect(jacobian[0][0]).toHaveLength(c.logits[0].length);
      expect(maxError(jacobian, c.jacobian), c.name).toBeLessThan(1e-15);
    }
  });

  it('rejects a that are not probabilities, pointing at the entry or the row', async () => {
    const outOfRange = expectProblem(
      await post(app, '/v1/softmax/jacobian', {
        a: [
          [0.5, 0.5],
          [1.5, -0.5],
        ],
      }),
      400,
    );
    expect(errorPaths(outOfRange)).toEqual(['/a/1/0']);
    const badSum = expectProblem(await post(app, '/v1/softmax/jacobian', { a: [0.5, 0.6] }), 400);
    expect(errorPaths(badSum)).toEqual(['/a']);
    expect(badSum.detail).toMatch(/sum/);
  });

  it('both or neither of z and a is a 400 naming both', async () => {
    const both = expectProblem(await post(app, '/v1/softmax/jacobian', { z: [1], a: [1] }), 400);
    expect(errorPaths(both).sort()).toEqual(['/a', '/z']);
    const neither = expectProblem(await post(app, '/v1/softmax/jacobian', {}), 400);
    expect(errorPaths(neither).sort()).toEqual(['/a', '/z']);
  });

  it('checks N*K*K against MAX_ELEMENTS before computing: 413', async () => {
    const small = await buildTestApp({ maxElements: 100 });
    try {
      const z = Array.from({ length: 11 }, (_, i) => i); // 11 inputs, 121 Jacobian entries
      const problem = expectProblem(
        await post(small, '/v1/softmax/jacobian', { z }),
        413,
        'too-many-elements',
      );
      expect(problem.detail).toContain('121');
      expect(problem.detail).toContain('100');
      expect((await post(small, '/v1/softmax/jacobian', { z: z.slice(0, 10) })).statusCode).toBe(200);
    } finally {
      await small.close();
    }
  });
});

describe('POST /v1/softmax/vjp', () => {
  it('matches the golden v^T J for single samples and batches', async () => {
    for (const c of golden.cases) {
      const res = await post(app, '/v1/softmax/vjp', { z: c.logits, v: c.v });
      expect(res.statusCode, c.name).toBe(200);
      const { a, gradient } = res.json();
      expect(gradient).toHaveLength(c.K);
      expect(maxError(gradient, c.vjp), c.name).toBeLessThan(1e-14);
      expect(maxError(a, c.probabilities), c.name).toBeLessThan(1e-15);
    }
    for (const c of golden.batch_cases) {
      const res = await post(app, '/v1/softmax/vjp', { a: c.probabilities, v: c.v });
      expect(res.statusCode, c.name).toBe(200);
      const { gradient } = res.json();
      expect(gradient).toHaveLength(c.v.length);
      expect(gradient[0]).toHaveLength(c.v[0].length);
      expect(maxError(gradient, c.vjp), c.name).toBeLessThan(1e-14);
    }
  });

  it('equals v^T J from the Jacobian route', async () => {
    const z = [0.3, -1.2, 2.5, 0];
    const v = [1, -2, 0.5, 3];
    const { jacobian } = (await post(app, '/v1/softmax/jacobian', { z })).json();
    const { gradient } = (await post(app, '/v1/softmax/vjp', { z, v })).json();
    const expected = v.map((_, j) => v.reduce((s, vi, i) => s + vi * jacobian[i][j], 0));
    expect(maxError(gradient, expected)).toBeLessThan(1e-15);
  });

  it('v of another shape is a 400 naming both shapes', async () => {
    const problem = expectProblem(await post(app, '/v1/softmax/vjp', { z: [[1, 2, 3]], v: [[1, 0]] }), 400);
    expect(problem.detail).toContain('[1][2]');
    expect(problem.detail).toContain('[1][3]');
    expect(errorPaths(problem)).toEqual(['/v']);
    const flat = expectProblem(await post(app, '/v1/softmax/vjp', { z: [[1, 2, 3]], v: [1, 0, 0] }), 400);
    expect(flat.detail).toContain('[3]');
  });

  it('v is required', async () => {
    const problem = expectProblem(await post(app, '/v1/softmax/vjp', { z: [1, 2] }), 400);
    expect(errorPaths(problem)).toEqual(['/v']);
  });
});

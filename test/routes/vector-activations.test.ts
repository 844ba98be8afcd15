/**
 * POST /v1/activations/{name}/jacobian and /vjp for every vector activation of the table (API.md v1.1):
 * log_softmax's own Jacobian (delta_ij - softmax(z)_j) and VJP against the golden vectors, softmax's the same
 * numbers as /v1/softmax/*, and the refusals that point elsewhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { activations } from '../../src/core/activations/index.js';
import { buildTestApp, expectProblem, post } from '../support/app.js';
import { DBL_MIN, worstRatio } from '../support/compare.js';
import { goldenSoftmax } from '../support/golden.js';

const golden = goldenSoftmax();
const allCases = [...golden.cases, ...golden.batch_cases.map((c) => ({ ...c, name: `batch: ${c.name}` }))];

const flat = (t: unknown): number[] => (Array.isArray(t) ? t.flatMap(flat) : [t as number]);
const rowsOf = (t: number[] | number[][]): number[][] =>
  Array.isArray(t[0]) ? (t as number[][]) : [t as number[]];

/** log_softmax's Jacobian delta_ij - p_j from the golden probabilities; 1 - p_i as the sum of the others. */
function logSoftmaxJacobian(p: number[][]): number[] {
  return p.flatMap((row) =>
    row.flatMap((_, i) =>
      row.map((pj, j) => (i === j ? row.reduce((s, q, k) => (k === i ? s : s + q), 0) : -pj)),
    ),
  );
}

let app: App;
beforeAll(async () => {
  app = await buildTestApp();
});
afterAll(() => app.close());

const vectorNames = activations.filter((e) => e.kind === 'vector').map((e) => e.name);
const elementwiseNames = activations.filter((e) => e.kind === 'elementwise').map((e) => e.name);

describe('POST /v1/activations/log_softmax/jacobian', () => {
  it('is delta_ij - softmax(z)_j within 1e-13 relative entrywise, for every golden case', async () => {
    for (const c of allCases) {
      const res = await post(app, '/v1/activations/log_softmax/jacobian', { z: c.logits });
      expect(res.statusCode, res.body).toBe(200);
      const { a, jacobian } = res.json();
      expect(a).toEqual(
        JSON.parse(
          JSON.stringify((await post(app, '/v1/activations/log_softmax/forward', { z: c.logits })).json().a),
        ),
      );
      const want = logSoftmaxJacobian(rowsOf(c.probabilities));
      const worst = worstRatio(flat(jacobian), want, (i) => 1e-13 * Math.max(Math.abs(want[i]), DBL_MIN));
      expect(
        worst.ratio,
        `${c.name}: [${worst.index}] got ${worst.got}, want ${worst.want}`,
      ).toBeLessThanOrEqual(1);
      // Shape: K x K for one sample, N x K x K for a batch, as for softmax.
      expect(Array.isArray(c.logits[0]) ? jacobian[0][0] : jacobian[0]).toHaveLength(c.K);
    }
  });

  it('is not the softmax Jacobian (the old 400 sent users there)', async () => {
    const z = [1, 2, 3];
    const own = (await post(app, '/v1/activations/log_softmax/jacobian', { z })).json().jacobian;
    const softmax = (await post(app, '/v1/softmax/jacobian', { z })).json().jacobian;
    expect(own).not.toEqual(softmax);
    // Off the diagonal, delta_ij - p_j depends on the column only: -p_j with p = softmax(z).
    const p = (await post(app, '/v1/activations/softmax/forward', { z })).json().a;
    expect([own[0][1], own[2][1]]).toEqual([-p[1], -p[1]]);
    expect(own[1][1]).toBeCloseTo(1 - p[1], 15);
  });

  it('from the log-probabilities a gives the Jacobian from z within 1e-13', async () => {
    for (const c of allCases.filter((c) => flat(c.log_softmax).every((x) => x > -30))) {
      const fromZ = flat(
        (await post(app, '/v1/activations/log_softmax/jacobian', { z: c.logits })).json().jacobian,
      );
      const res = await post(app, '/v1/activations/log_softmax/jacobian', { a: c.log_softmax });
      expect(res.statusCode, `${c.name}: ${res.body}`).toBe(200);
      const worst = worstRatio(
        flat(res.json().jacobian),
        fromZ,
        (i) => 1e-13 * Math.max(Math.abs(fromZ[i]), 1e-300),
      );
      expect(worst.ratio, c.name).toBeLessThanOrEqual(1);
    }
  });

  it('refuses an a that is no log_softmax output, pointing at it', async () => {
    const positive = expectProblem(
      await post(app, '/v1/activations/log_softmax/jacobian', {
        a: [
          [Math.log(0.5), Math.log(0.5)],
          [0.5, -1],
        ],
      }),
      400,
    );
    expect(positive.errors?.[0].path).toBe('/a/1/0');
    const notNormalised = expectProblem(
      await post(app, '/v1/activations/log_softmax/jacobian', { a: [-1, -1] }),
      400,
    );
    expect(notNormalised.errors?.[0].path).toBe('/a');
  });
});

describe('POST /v1/activations/log_softmax/vjp', () => {
  it('is the golden log_softmax_vjp within 1e-13 (|v_i| + p_i sum_j |v_j|), for every case', async () => {
    for (const c of allCases) {
      const res = await post(app, '/v1/activations/log_softmax/vjp', { z: c.logits, v: c.v });
      expect(res.statusCode, res.body).toBe(200);
      const got = flat(res.json().gradient);
      const want = flat(c.log_softmax_vjp);
      const p = rowsOf(c.probabilities);
      const v = rowsOf(c.v);
      const bound = (i: number) => {
        const r = Math.floor(i / c.K);
        const total = v[r].reduce((s, x) => s + Math.abs(x), 0);
        return 1e-13 * Math.max(Math.abs(v[r][i % c.K]) + p[r][i % c.K] * total, DBL_MIN);
      };
      const worst = worstRatio(got, want, bound);
      expect(
        worst.ratio,
        `${c.name}: [${worst.index}] got ${worst.got}, want ${worst.want}`,
      ).toBeLessThanOrEqual(1);
    }
  });
});

describe('softmax through /v1/activations/softmax/*', () => {
  it('gives the same bytes as /v1/softmax/jacobian and /v1/softmax/vjp', async () => {
    const z = [
      [1, 2, 3],
      [1000, 0, -1000],
    ];
    const v = [
      [1, 0, -1],
      [0.5, 0.25, 2],
    ];
    for (const [own, legacy, body] of [
      ['/v1/activations/softmax/jacobian', '/v1/softmax/jacobian', { z }],
      ['/v1/activations/softmax/vjp', '/v1/softmax/vjp', { z, v }],
      ['/v1/activations/softmax/jacobian', '/v1/softmax/jacobian', { a: [0.25, 0.75] }],
    ] as const) {
      const [a, b] = await Promise.all([post(app, own, body), post(app, legacy, body)]);
      expect(a.statusCode, a.body).toBe(200);
      expect(a.body).toBe(b.body);
    }
  });
});

describe('refusals that point to the right route', () => {
  it('an elementwise activation gets 400 pointing to its /derivative, on /jacobian and on /vjp', async () => {
    for (const name of elementwiseNames) {
      const jacobian = expectProblem(
        await post(app, `/v1/activations/${name}/jacobian`, { z: [1, 2] }),
        400,
        'elementwise-activation',
      );
      expect(jacobian.detail).toContain(`/v1/activations/${name}/derivative`);
      const vjp = expectProblem(
        await post(app, `/v1/activations/${name}/vjp`, { z: [1, 2], v: [1, 1] }),
        400,
        'elementwise-activation',
      );
      expect(vjp.detail).toContain(`/v1/activations/${name}/derivative`);
    }
  });

  it("log_softmax's derivative refusal points to log_softmax's own Jacobian, which answers", async () => {
    const problem = expectProblem(
      await post(app, '/v1/activations/log_softmax/derivative', { z: [1, 2] }),
      400,
      'vector-activation',
    );
    expect(problem.detail).toContain('/v1/activations/log_softmax/jacobian');
    expect(problem.detail).not.toContain('/v1/softmax/');
    expect((await post(app, '/v1/activations/log_softmax/jacobian', { z: [1, 2] })).statusCode).toBe(200);
  });

  it('every vector activation has both routes', async () => {
    for (const name of vectorNames) {
      expect((await post(app, `/v1/activations/${name}/jacobian`, { z: [1, 2] })).statusCode).toBe(200);
      expect((await post(app, `/v1/activations/${name}/vjp`, { z: [1, 2], v: [1, 0] })).statusCode).toBe(200);
    }
  });

  it('a Jacobian beyond MAX_ELEMENTS is a 413 before any work', async () => {
    const small = await buildTestApp({ maxElements: 8 });
    try {
      expectProblem(
        await post(small, '/v1/activations/log_softmax/jacobian', { z: [1, 2, 3] }),
        413,
        'too-many-elements',
      );
    } finally {
      await small.close();
    }
  });
});

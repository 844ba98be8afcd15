/**
 * POST /v1/activations/{name}/second-derivative and the catalog's second-order fields: the route renders the
 * operation table's second-derivative entry (src/operations/activation-ops.ts) over the activation table's
 * g'' kernels; their accuracy is test/core/second-derivative.golden.test.ts's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';
import {
  activations,
  activationsWithDerivativeFromOutput,
  type ElementwiseActivation,
  findActivation,
} from '../../src/core/activations/index.js';
import { buildTestApp, errorPaths, expectProblem, post } from '../support/app.js';
import { decode, encode, sendBinary } from '../support/binary.js';

let app: App;
beforeAll(async () => {
  app = await buildTestApp();
});
afterAll(() => app.close());

const url = (name: string) => `/v1/activations/${name}/second-derivative`;
const elementwise = (name: string) => findActivation(name) as ElementwiseActivation;

describe('POST /v1/activations/{name}/second-derivative', () => {
  it("from z gives g'', g' and a, each the table's kernel, in the shape of z", async () => {
    const z = [
      [-3, -0.5, 0],
      [1e-300, 2, 40],
    ];
    for (const name of ['sigmoid', 'tanh', 'gelu', 'mish']) {
      const res = await post(app, url(name), { z });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(Object.keys(body)).toEqual(['secondDerivative', 'derivative', 'a']);
      const entry = elementwise(name);
      expect(body.secondDerivative).toEqual(
        z.map((row) => row.map((x) => entry.secondDerivative(x, {}) + 0)),
      );
      expect(body.derivative).toEqual(z.map((row) => row.map((x) => entry.derivative(x, {}) + 0)));
      expect(body.a).toEqual(z.map((row) => row.map((x) => entry.forward(x, {}) + 0)));
    }
  });

  it("keeps the digits PyTorch's double backward loses: sigmoid''(1e-300) and tanh''(30)", async () => {
    const res = await post(app, url('sigmoid'), { z: [1e-300] });
    // -z/8 to the last bit (a rounds to 1/2, so a(1-a)(1-2a) is 0 in float64).
    expect(res.json().secondDerivative).toEqual([-1.25e-301]);
    const tanh = (await post(app, url('tanh'), { z: [30] })).json();
    expect(tanh.secondDerivative[0]).toBeLessThan(0);
    expect(tanh.secondDerivative[0] / -8 / Math.exp(-60)).toBeCloseTo(1, 12);
  });

  it('uses the params: elu with alpha 0.5 is 0.5 e^z below 0, 0 above', async () => {
    const res = await post(app, url('elu'), { z: [-1, 2], params: { alpha: 0.5 } });
    expect(res.json().secondDerivative).toEqual([0.5 * Math.exp(-1), 0]);
  });

  it('an out-of-range or unknown param is a 400 naming it', async () => {
    const bad = expectProblem(await post(app, url('celu'), { z: [1], params: { alpha: 0 } }), 400);
    expect(errorPaths(bad)).toEqual(['/params/alpha']);
    const unknown = expectProblem(await post(app, url('relu'), { z: [1], params: { beta: 1 } }), 400);
    expect(errorPaths(unknown)).toEqual(['/params/beta']);
  });

  it('from a matches from z within a few ulp, and omits a', async () => {
    const z = [-30, -3, -0.5, 1e-9, 0.25, 2, 7, 19];
    for (const name of ['sigmoid', 'tanh']) {
      const fromZ = (await post(app, url(name), { z })).json();
      const res = await post(app, url(name), { a: fromZ.a });
      expect(res.statusCode, res.body).toBe(200);
      const fromA = res.json();
      expect(Object.keys(fromA)).toEqual(['secondDerivative', 'derivative']);
      fromA.secondDerivative.forEach((s: number, i: number) => {
        // a's own rounding (up to 2^-53 |a|) moves g''(a) by |dg''/da| 2^-53 |a|, and |dg''/da| <= 4 (tanh) or
        // 1 (sigmoid): near z = 0 that is most of sigmoid'', where 1 - 2a is a's rounding.
        const tolerance =
          8 * 2 ** -52 * Math.abs(fromZ.secondDerivative[i]) + 2 * 2 ** -52 * Math.abs(fromZ.a[i]);
        expect(Math.abs(s - fromZ.secondDerivative[i]), `${name} z=${z[i]}`).toBeLessThanOrEqual(tolerance);
      });
    }
  });

  it('from a is a 400 naming the activations that allow it', async () => {
    const res = await post(app, url('gelu'), { a: [0.5] });
    const problem = expectProblem(res, 400, 'derivative-from-output-unsupported');
    expect(problem.detail).toMatch(/gelu's second derivative cannot be computed from a/);
    const allowed = activationsWithDerivativeFromOutput(2).map((e) => e.name);
    expect(allowed).toEqual(expect.arrayContaining(['sigmoid', 'tanh']));
    for (const name of allowed) expect(problem.detail).toContain(name);
    expect(errorPaths(problem)).toEqual(['/a']);
  });

  it('an a the activation cannot output is a 400 pointing at the element', async () => {
    const res = await post(app, url('tanh'), {
      a: [
        [0.5, -0.25],
        [1.5, 0],
      ],
    });
    expect(errorPaths(expectProblem(res, 400, 'invalid-request'))).toEqual(['/a/1/0']);
  });

  it('both z and a, or neither, is a 400 naming both fields', async () => {
    const both = expectProblem(await post(app, url('tanh'), { z: [1], a: [0.5] }), 400);
    expect(errorPaths(both).sort()).toEqual(['/a', '/z']);
    const neither = expectProblem(await post(app, url('tanh'), {}), 400);
    expect(errorPaths(neither).sort()).toEqual(['/a', '/z']);
  });

  it('softmax and log_softmax are a 400 pointing to the network hessian-vector route', async () => {
    const vector = activations.filter((e) => e.kind === 'vector');
    expect(vector.map((e) => e.name)).toEqual(['softmax', 'log_softmax']);
    for (const entry of vector) {
      const problem = expectProblem(
        await post(app, url(entry.name), { z: [1, 2] }),
        400,
        'vector-activation',
      );
      expect(problem.detail).toContain('/v1/gradients/network/hessian-vector');
    }
  });

  it('an unknown activation is a 404 before the body is read', async () => {
    expectProblem(await post(app, url('sigmoidd'), { z: [1] }), 404, 'unknown-activation');
  });

  it('a result over MAX_ELEMENTS is refused: 413 naming the field', async () => {
    const small = await buildTestApp({ maxElements: 4 });
    try {
      const problem = expectProblem(
        await post(small, url('tanh'), { z: [1, 2, 3, 4, 5] }),
        413,
        'too-many-elements',
      );
      expect(problem.detail).toMatch(/^z has more than 4 numbers/);
    } finally {
      await small.close();
    }
  });

  it('binary tensors in and out, inline and in the worker pool, the same bits as JSON', async () => {
    const z = Float64Array.from({ length: 64 }, (_, i) => (i - 32) * 0.7);
    const json = (await post(app, url('silu'), { z: [...z] })).json();
    const pooled = await buildApp(
      { ...defaultConfig, logLevel: 'silent', maxEventLoopDelayMs: 0 },
      { logger: false, offload: { threshold: 1, threads: 1 } },
    );
    try {
      await pooled.ready();
      for (const server of [app, pooled]) {
        const res = await sendBinary(
          server,
          url('silu'),
          encode({}, [{ name: 'z', data: z, shape: [8, 8] }]),
          'application/octet-stream',
        );
        expect(res.statusCode, res.body).toBe(200);
        const { outputs } = decode(res.rawPayload, Number(res.headers['inference-header-content-length']));
        expect(Object.keys(outputs)).toEqual(['secondDerivative', 'derivative', 'a']);
        expect(outputs.secondDerivative).toEqual({ shape: [8, 8], data: json.secondDerivative });
        expect(outputs.derivative.data).toEqual(json.derivative);
        expect(outputs.a.data).toEqual(json.a);
      }
    } finally {
      await pooled.close();
    }
  });
});

describe('the catalog: second-order fields', () => {
  it("gives every entry a secondDerivativeFormula and marks secondDerivativeFromOutput as the table's", async () => {
    const { activations: list } = (await app.inject({ method: 'GET', url: '/v1/activations' })).json();
    for (const info of list) {
      expect(info.secondDerivativeFormula, info.name).toMatch(/\S/);
      expect(info.secondDerivativeFormula).toBe(findActivation(info.name)?.secondDerivativeFormula);
    }
    const marked = list
      .filter((a: { secondDerivativeFromOutput: boolean }) => a.secondDerivativeFromOutput)
      .map((a: { name: string }) => a.name);
    expect(marked).toEqual(activationsWithDerivativeFromOutput(2).map((e) => e.name));
    expect(marked).toEqual(expect.arrayContaining(['sigmoid', 'tanh']));
  });

  it("notes the value returned where only g'' jumps (elu, celu, softsign at 0), and only there", async () => {
    const { activations: list } = (await app.inject({ method: 'GET', url: '/v1/activations' })).json();
    const noted = list.filter((a: { secondDerivativeNote?: string }) => a.secondDerivativeNote);
    expect(noted.map((a: { name: string }) => a.name).sort()).toEqual(['celu', 'elu', 'softsign']);
    for (const info of noted) expect(info.secondDerivativeNote).toMatch(/g''\(0\) is 0/);
  });

  it("every entry with g'' from a also has g' from a (the reply from a carries both)", () => {
    for (const entry of activationsWithDerivativeFromOutput(2))
      expect(entry.derivativeFromOutput).toBeDefined();
  });
});

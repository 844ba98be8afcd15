/**
 * The /v2 models `{name}.second_derivative`: derived from the operation table's second-derivative entry for
 * every elementwise activation, with the table's kernels (test/contract/surfaces.test.ts checks that /v1 and
 * /v2 give the same bits and the same refusals).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { activations, type ElementwiseActivation, findActivation } from '../../src/core/activations/index.js';
import { buildTestApp } from '../support/app.js';

let app: App;
beforeAll(async () => {
  app = await buildTestApp();
});
afterAll(() => app.close());

const elementwise = activations.filter((e): e is ElementwiseActivation => e.kind === 'elementwise');
const z = [-3, -0.5, 0.25, 1, 4, 40];
const kernel = (f: (x: number, p: Record<string, number>) => number, xs: number[], p = {}) =>
  xs.map((x) => f(x, p) + 0);

function infer(model: string, body: unknown) {
  return app.inject({
    method: 'POST',
    url: `/v2/models/${model}/infer`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
}

describe('/v2 {name}.second_derivative', () => {
  it('is a model of every elementwise activation, and of no vector one', async () => {
    for (const entry of activations) {
      const res = await app.inject({ method: 'GET', url: `/v2/models/${entry.name}.second_derivative` });
      expect(res.statusCode, entry.name).toBe(entry.kind === 'elementwise' ? 200 : 404);
    }
  });

  it('lists a as an input exactly where the activation has secondDerivativeFromOutput, and its three outputs', async () => {
    for (const entry of elementwise) {
      const meta = (
        await app.inject({ method: 'GET', url: `/v2/models/${entry.name}.second_derivative` })
      ).json();
      expect(meta.inputs.map((i: { name: string }) => i.name)).toEqual(
        entry.secondDerivativeFromOutput ? ['z', 'a'] : ['z'],
      );
      expect(meta.outputs.map((o: { name: string }) => o.name)).toEqual([
        'secondDerivative',
        'derivative',
        'a',
      ]);
    }
  });

  it("computes g'', g' and a from z, with the activation's params from the request parameters", async () => {
    const elu = findActivation('elu') as ElementwiseActivation;
    const res = await infer('elu.second_derivative', {
      inputs: [{ name: 'z', shape: [2, 3], datatype: 'FP64', data: z }],
      parameters: { alpha: 0.5 },
    });
    expect(res.statusCode, res.body).toBe(200);
    const params = { alpha: 0.5 };
    expect(res.json().outputs).toEqual([
      {
        name: 'secondDerivative',
        shape: [2, 3],
        datatype: 'FP64',
        data: kernel(elu.secondDerivative, z, params),
      },
      { name: 'derivative', shape: [2, 3], datatype: 'FP64', data: kernel(elu.derivative, z, params) },
      { name: 'a', shape: [2, 3], datatype: 'FP64', data: kernel(elu.forward, z, params) },
    ]);
  });

  it("computes g'' and g' from a where the closed form exists, and refuses a elsewhere", async () => {
    const tanh = findActivation('tanh') as ElementwiseActivation;
    const a = z.map((x) => tanh.forward(x, {}));
    const res = await infer('tanh.second_derivative', {
      inputs: [{ name: 'a', shape: [6], datatype: 'FP64', data: a }],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().outputs).toEqual([
      {
        name: 'secondDerivative',
        shape: [6],
        datatype: 'FP64',
        data: kernel(tanh.secondDerivativeFromOutput as (x: number) => number, a),
      },
      {
        name: 'derivative',
        shape: [6],
        datatype: 'FP64',
        data: kernel(tanh.derivativeFromOutput as (x: number) => number, a),
      },
    ]);
    const gelu = await infer('gelu.second_derivative', {
      inputs: [{ name: 'a', shape: [1], datatype: 'FP64', data: [0.5] }],
    });
    expect(gelu.statusCode).toBe(400);
    expect(gelu.json()).toEqual({ error: expect.stringMatching(/"a" is not an input/) });
    const impossible = await infer('sigmoid.second_derivative', {
      inputs: [{ name: 'a', shape: [2], datatype: 'FP64', data: [0.5, 1.5] }],
    });
    expect(impossible.statusCode).toBe(400);
    expect(impossible.json()).toEqual({ error: expect.stringMatching(/\[0, 1\]/) });
  });

  it('softmax has no second_derivative model: a 404 pointing at the index, which lists tanh.second_derivative', async () => {
    const res = await infer('softmax.second_derivative', {
      inputs: [{ name: 'z', shape: [2], datatype: 'FP64', data: [1, 2] }],
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toMatch(/POST \/v2\/repository\/index lists the models/);
    const index = (await app.inject({ method: 'POST', url: '/v2/repository/index' })).json() as {
      name: string;
    }[];
    const names = index.map((m) => m.name);
    expect(names).toContain('tanh.second_derivative');
    expect(names).not.toContain('softmax.second_derivative');
  });
});

/**
 * POST /v1/gradients/network/hessian-vector and the check's second-order fields over HTTP: golden products,
 * the vector's shape errors by path, limits, non-finite results, binary tensors and the worker pool.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';
import { curvatures } from '../../src/core/losses.js';
import { tensorMediaType } from '../../src/serialize/reply.js';
import { buildTestApp, errorPaths, expectProblem, post } from '../support/app.js';
import { decode, encode, type Input, sendBinary as send } from '../support/binary.js';
import { flat, maxNormDeviation } from '../support/compare.js';
import { loadGolden } from '../support/golden.js';
import type { NetworkRequest, VectorRequest } from '../support/network.js';

const route = '/v1/gradients/network/hessian-vector';

let app: App;
let pooled: App;
beforeAll(async () => {
  app = await buildTestApp();
  pooled = await buildApp(
    { ...defaultConfig, logLevel: 'silent', maxEventLoopDelayMs: 0 },
    { logger: false, offload: { threshold: 1, threads: 1 } },
  );
  await pooled.ready();
});
afterAll(async () => {
  await Promise.all([app.close(), pooled.close()]);
});

type Products = {
  loss: number;
  directionalDerivative: number;
  layers: {
    weightGradient: number[][];
    biasGradient: number[];
    weightProduct: number[][];
    biasProduct: number[];
  }[];
};

interface GoldenCase {
  name: string;
  atBreakpoint: boolean;
  request: NetworkRequest & { vector: VectorRequest };
  expected: Record<(typeof curvatures)[number], Products>;
}

const golden = loadGolden<{ hessian_vector: GoldenCase[] }>('second.json').hessian_vector.filter(
  (c) => !c.atBreakpoint,
);

const batch = {
  x: [
    [0.3, -1.2, 0.7],
    [1.1, 0.4, -0.5],
  ],
  layers: [
    {
      weights: [
        [0.5, -0.3],
        [0.2, 0.8],
        [-0.6, 0.1],
      ],
      activation: 'tanh',
    },
    { weights: [[0.7], [-0.5]], bias: [0.2], activation: 'sigmoid' },
  ],
  targets: [[0.2], [0.7]],
  vector: {
    layers: [
      {
        weights: [
          [0.1, 0.2],
          [-0.3, 0.4],
          [0.5, -0.6],
        ],
        bias: [0.05, -0.02],
      },
      { weights: [[1], [-1]] },
    ],
  },
};

describe(`POST ${route}`, () => {
  it.each(golden.flatMap((c) => curvatures.map((k) => [c.name, k, c] as const)))(
    'answers %s (%s) within 1e-12 of the exact products',
    async (_n, curvature, c) => {
      const res = await post(app, route, { ...c.request, curvature });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as Products;
      const want = c.expected[curvature];
      expect(Object.keys(body)).toEqual(['loss', 'directionalDerivative', 'layers']);
      expect(Math.abs(body.directionalDerivative - want.directionalDerivative)).toBeLessThanOrEqual(
        1e-12 * Math.abs(want.directionalDerivative),
      );
      for (const [l, layer] of body.layers.entries())
        for (const q of ['weightGradient', 'biasGradient', 'weightProduct', 'biasProduct'] as const)
          expect(maxNormDeviation(flat(layer[q]), flat(want.layers[l][q])), `${l} ${q}`).toBeLessThanOrEqual(
            1e-12,
          );
    },
  );

  it('defaults to the Hessian; gauss-newton differs where the network is not linear', async () => {
    const plain = (await post(app, route, batch)).json() as Products;
    const hessian = (await post(app, route, { ...batch, curvature: 'hessian' })).json() as Products;
    const gn = (await post(app, route, { ...batch, curvature: 'gauss-newton' })).json() as Products;
    expect(plain).toEqual(hessian);
    expect(gn.layers[0].weightProduct).not.toEqual(hessian.layers[0].weightProduct);
    // Same gradients either way, and the same as the gradient route's.
    const gradients = (await post(app, '/v1/gradients/network', { ...batch, vector: undefined })).json();
    expect(gn.loss).toBe(gradients.loss);
    expect(gn.layers.map((l) => l.weightGradient)).toEqual(
      gradients.layers.map((l: Products['layers'][0]) => l.weightGradient),
    );
  });

  it('gives the same numbers from the worker pool', async () => {
    for (const curvature of curvatures) {
      const body = { ...batch, curvature };
      expect((await post(pooled, route, body)).json()).toEqual((await post(app, route, body)).json());
    }
  });
});

describe('the vector’s shape errors name the path', () => {
  const withVector = (layers: unknown[]) => ({ ...batch, vector: { layers } });
  const [v0, v1] = batch.vector.layers;

  it('a weights entry of the wrong shape', async () => {
    const p = expectProblem(
      await post(
        app,
        route,
        withVector([
          v0,
          {
            weights: [
              [1, 2],
              [3, 4],
            ],
          },
        ]),
      ),
      400,
    );
    expect(errorPaths(p)).toEqual(['/vector/layers/1/weights']);
    expect(p.detail).toMatch(
      /^\/vector\/layers\/1\/weights has shape \[2\]\[2\] but layer 1's weights have shape \[2\]\[1\]/,
    );
  });

  it('a bias entry of the wrong length', async () => {
    const p = expectProblem(await post(app, route, withVector([{ ...v0, bias: [1, 2, 3] }, v1])), 400);
    expect(errorPaths(p)).toEqual(['/vector/layers/0/bias']);
    expect(p.detail).toMatch(/has shape \[3\] but layer 0 has 2 outputs/);
  });

  it('too few and too many entries; no vector; a bad curvature', async () => {
    let p = expectProblem(await post(app, route, withVector([v0])), 400);
    expect(errorPaths(p)).toEqual(['/vector/layers/1/weights']);
    p = expectProblem(await post(app, route, withVector([v0, v1, v1])), 400);
    expect(errorPaths(p)).toEqual(['/vector/layers/2/weights']);
    p = expectProblem(await post(app, route, { ...batch, vector: undefined }), 400);
    expect(errorPaths(p)).toEqual(['/vector']);
    p = expectProblem(await post(app, route, { ...batch, curvature: 'fisher' }), 400);
    expect(errorPaths(p)[0]).toMatch(/^\/curvature/);
  });
});

describe('limits and non-finite results', () => {
  it('MAX_ELEMENTS counts each entry of the vector', async () => {
    const small = await buildTestApp({ maxElements: 5 });
    try {
      const body = {
        x: [[1]],
        layers: [{ weights: [[1]], activation: 'identity' }],
        targets: [[0]],
        vector: {
          layers: [
            {
              weights: [
                [1, 2, 3],
                [4, 5, 6],
              ],
            },
          ],
        },
      };
      const p = expectProblem(await post(small, route, body), 413);
      expect(p.detail).toMatch(/^\/vector\/layers\/0\/weights has 6 numbers/);
    } finally {
      await small.close();
    }
  });

  it('an overflow of a directional derivative is a 422 naming it, on the event loop and in the pool', async () => {
    const body = {
      x: [1],
      layers: [
        { weights: [[1]], activation: 'identity' },
        { weights: [[1e10]], activation: 'identity' },
      ],
      targets: [0],
      // The loss (5e19) is finite; R{z} of layer 1 is 1e300 * 1e10.
      vector: { layers: [{ weights: [[1e300]] }, { weights: [[0]] }] },
    };
    for (const target of [app, pooled]) {
      const p = expectProblem(await post(target, route, body), 422);
      expect(p.detail).toMatch(/layers\.1\.Rz/);
    }
  });
});

describe('binary tensors on the hessian-vector route', () => {
  const f64 = (rows: number[][] | number[]) => Float64Array.from((rows as number[][]).flat());
  const inputs: Input[] = [
    { name: 'x', data: f64(batch.x), shape: [2, 3] },
    { name: 'targets', data: f64(batch.targets), shape: [2, 1] },
    { name: 'layers.0.weights', data: f64(batch.layers[0].weights), shape: [3, 2] },
    { name: 'layers.1.weights', data: f64(batch.layers[1].weights), shape: [2, 1] },
    { name: 'layers.1.bias', data: Float64Array.of(0.2), shape: [1] },
    { name: 'vector.layers.0.weights', data: f64(batch.vector.layers[0].weights), shape: [3, 2] },
    { name: 'vector.layers.0.bias', data: f64(batch.vector.layers[0].bias ?? []), shape: [2] },
    { name: 'vector.layers.1.weights', data: f64(batch.vector.layers[1].weights), shape: [2, 1] },
  ];
  const header = { layers: batch.layers.map(({ activation }) => ({ activation })) };

  it('takes the vector as named tensors and replies with per-layer named products', async () => {
    const json = (await post(app, route, batch)).json() as Products;
    const res = await send(app, route, encode(header, inputs));
    expect(res.statusCode, res.body).toBe(200);
    const { header: replyHeader, outputs } = decode(
      res.rawPayload,
      Number(res.headers['inference-header-content-length']),
    );
    expect(replyHeader.loss).toBe(json.loss);
    expect(replyHeader.directionalDerivative).toBe(json.directionalDerivative);
    expect(Object.keys(outputs)).toEqual(
      [0, 1].flatMap((l) =>
        ['weightGradient', 'biasGradient', 'weightProduct', 'biasProduct'].map((q) => `layers.${l}.${q}`),
      ),
    );
    expect(outputs['layers.0.weightProduct']).toEqual({
      shape: [3, 2],
      data: Array.from(flat(json.layers[0].weightProduct)),
    });
    expect(outputs['layers.1.biasProduct']).toEqual({ shape: [1], data: json.layers[1].biasProduct });
  });

  it('a vector entry inline and as an input is a 400; a stray vector input is a 400', async () => {
    const twice = { ...header, vector: { layers: [{ weights: batch.vector.layers[0].weights }, {}] } };
    let p = expectProblem(await send(app, route, encode(twice, inputs)), 400);
    expect(errorPaths(p)).toEqual(['/vector/layers/0/weights']);
    p = expectProblem(
      await send(
        app,
        route,
        encode(header, [...inputs, { name: 'vector.layers.2.bias', data: Float64Array.of(1), shape: [1] }]),
      ),
      400,
    );
    expect(errorPaths(p)).toEqual(['/vector/layers/2/bias']);
  });
});

describe('POST /v1/gradients/check with a vector', () => {
  const check = (body: unknown, target = app) => post(target, '/v1/gradients/check', body);

  it('passes the service’s own products and flags a wrong one by path', async () => {
    for (const curvature of curvatures) {
      const ours = (await post(app, route, { ...batch, curvature })).json() as Products;
      const given = ours.layers.map((l) => ({ weightProduct: l.weightProduct, biasProduct: l.biasProduct }));
      let body = (await check({ ...batch, curvature, gradients: { layers: given }, rtol: 0 })).json();
      expect(body.passed, JSON.stringify(body)).toBe(true);
      expect(body.checks.map((c: { path: string }) => c.path)).toEqual([
        '/layers/0/weightProduct',
        '/layers/0/biasProduct',
        '/layers/1/weightProduct',
        '/layers/1/biasProduct',
      ]);
      const wrong = given.map((l) => ({ ...l, weightProduct: l.weightProduct.map((r) => [...r]) }));
      wrong[0].weightProduct[1][0] *= 1.001;
      body = (await check({ ...batch, curvature, gradients: { layers: wrong }, rtol: 1e-6 })).json();
      expect(body.passed).toBe(false);
      expect(body.checks.find((c: { passed: boolean }) => !c.passed)).toMatchObject({
        path: '/layers/0/weightProduct',
        mismatches: 1,
        worst: { index: [1, 0] },
      });
    }
  });

  it('checks against the curvature asked for: Gauss-Newton products fail a Hessian check', async () => {
    const gn = (await post(app, route, { ...batch, curvature: 'gauss-newton' })).json() as Products;
    const given = { layers: [{ weightProduct: gn.layers[0].weightProduct }] };
    const body = (await check({ ...batch, gradients: given, rtol: 1e-6 })).json();
    expect(body.passed).toBe(false);
  });

  it('checks products and gradients together, with the input gradient; the same in the pool', async () => {
    const ours = (await post(app, route, batch)).json() as Products;
    const network = (await post(app, '/v1/gradients/network', { ...batch, vector: undefined })).json();
    const body = {
      ...batch,
      gradients: {
        loss: ours.loss,
        layers: ours.layers,
        inputGradient: network.inputGradient,
      },
      rtol: 0,
    };
    const res = (await check(body)).json();
    expect(res.passed, JSON.stringify(res)).toBe(true);
    expect(res.checks).toHaveLength(1 + 4 * 2 + 1);
    expect((await check(body, pooled)).json()).toEqual(res);
  });

  it('takes the vector and the given products as binary tensors', async () => {
    const ours = (await post(app, route, batch)).json() as Products;
    const f64 = (rows: number[][] | number[]) => Float64Array.from((rows as number[][]).flat());
    const inputs: Input[] = [
      { name: 'x', data: f64(batch.x), shape: [2, 3] },
      { name: 'targets', data: f64(batch.targets), shape: [2, 1] },
      { name: 'vector.layers.0.weights', data: f64(batch.vector.layers[0].weights), shape: [3, 2] },
      { name: 'vector.layers.0.bias', data: f64(batch.vector.layers[0].bias ?? []), shape: [2] },
      { name: 'vector.layers.1.weights', data: f64(batch.vector.layers[1].weights), shape: [2, 1] },
      { name: 'gradients.layers.1.weightProduct', data: f64(ours.layers[1].weightProduct), shape: [2, 1] },
    ];
    const request = encode({ layers: batch.layers, gradients: { loss: ours.loss } }, inputs);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/gradients/check',
      headers: {
        'content-type': tensorMediaType,
        'inference-header-content-length': String(request.headerLength),
        accept: 'application/json',
      },
      payload: request.body,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().passed).toBe(true);
    expect(res.json().checks.map((c: { path: string }) => c.path)).toEqual([
      '/loss',
      '/layers/1/weightProduct',
    ]);
  });

  it('a product without vector, a mis-shaped product, a short vector: 400 naming the path', async () => {
    const { vector: _v, ...plain } = batch;
    let p = expectProblem(await check({ ...plain, gradients: { layers: [{ biasProduct: [1, 2] }] } }), 400);
    expect(errorPaths(p)).toEqual(['/gradients/layers/0/biasProduct']);
    p = expectProblem(
      await check({ ...batch, gradients: { layers: [null, { weightProduct: [[1, 2]] }] } }),
      400,
    );
    expect(p.detail).toBe("/gradients/layers/1/weightProduct has shape [1][2] but the network's is [2][1]");
    p = expectProblem(
      await check({ ...batch, vector: { layers: [batch.vector.layers[0]] }, gradients: { loss: 1 } }),
      400,
    );
    expect(errorPaths(p)).toEqual(['/vector/layers/1/weights']);
  });
});

describe('/v2 does not render the operation', () => {
  it('has no network-hessian-vector model (per-layer tensors do not fit a model)', async () => {
    const res = await app.inject({ method: 'GET', url: '/v2/models/network-hessian-vector' });
    expect(res.statusCode).toBe(404);
  });
});

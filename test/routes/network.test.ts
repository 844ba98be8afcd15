/** POST /v1/gradients/network and POST /v1/gradients/check over HTTP: golden numbers, shapes, limits, binary, pool. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';
// The seed's case one layer deeper: the routes' documented request example.
import { seedTwoLayerExample as seedTwoLayer } from '../../src/schemas/network.js';
import { tensorMediaType } from '../../src/serialize/reply.js';
import { buildTestApp, errorPaths, expectProblem, post } from '../support/app.js';
import { decode, encode, type Input, sendBinary as send } from '../support/binary.js';
import { flat, maxNormDeviation } from '../support/compare.js';
import { loadGolden } from '../support/golden.js';
import { goldenNetworks, quantities, runNetwork } from '../support/network.js';

let app: App;
let pooled: App;
beforeAll(async () => {
  app = await buildTestApp();
  // Every request in the worker pool (threshold 1): the same numbers and errors as on the event loop.
  pooled = await buildApp(
    { ...defaultConfig, logLevel: 'silent', maxEventLoopDelayMs: 0 },
    { logger: false, offload: { threshold: 1, threads: 1 } },
  );
  await pooled.ready();
});
afterAll(async () => {
  await Promise.all([app.close(), pooled.close()]);
});

const cases = goldenNetworks();

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
    { weights: [[0.7], [-0.5]], bias: [0.2], activation: 'identity' },
  ],
  targets: [[0.2], [0.7]],
};

describe('POST /v1/gradients/network', () => {
  it.each(cases.map((c) => [c.name, c] as const))(
    'answers the golden case %s within 1e-12 of mpmath',
    async (_n, c) => {
      const res = await post(app, '/v1/gradients/network', c.request);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      const exact = quantities(c.mpmath);
      const got = quantities(body);
      expect([...got.keys()]).toEqual([...exact.keys()]);
      for (const [path, values] of got)
        expect(maxNormDeviation(values, exact.get(path) ?? []), path).toBeLessThanOrEqual(1e-12);
      // The route gives core's numbers exactly (JSON writes -0 as 0).
      const core = quantities(runNetwork(c.request));
      for (const [path, values] of got)
        expect(Array.from(values), path).toEqual(Array.from(core.get(path) ?? [], (v) => v + 0));
    },
  );

  it('gives the same numbers from the worker pool', async () => {
    for (const c of cases.filter((k) => k.tags.includes('mlp') || k.tags.includes('deep_saturated'))) {
      const inline = await post(app, '/v1/gradients/network', c.request);
      const offloaded = await post(pooled, '/v1/gradients/network', c.request);
      expect(offloaded.statusCode).toBe(200);
      expect(offloaded.json()).toEqual(inline.json());
    }
  });

  it('a one-layer network gives exactly the output-layer route numbers', async () => {
    const outputCases = loadGolden<{ cases: { request: Record<string, unknown> }[] }>(
      'output_layer.json',
    ).cases;
    for (const { request } of outputCases) {
      const { x, targets, loss, reduction, weights, bias, activation, params } = request;
      const layer = { weights, activation, ...(bias ? { bias } : {}), ...(params ? { params } : {}) };
      const viaNetwork = await post(app, '/v1/gradients/network', {
        x,
        targets,
        loss,
        reduction,
        layers: [layer],
      });
      const direct = await post(app, '/v1/gradients/output-layer', request);
      expect(viaNetwork.statusCode, viaNetwork.body).toBe(direct.statusCode);
      if (direct.statusCode !== 200) continue;
      const { loss: E, layers, inputGradient } = viaNetwork.json();
      expect({ loss: E, ...layers[0], inputGradient }).toEqual(direct.json());
    }
  });

  it('intermediates: false leaves out z, a and delta', async () => {
    const full = (await post(app, '/v1/gradients/network', batch)).json();
    const res = await post(app, '/v1/gradients/network', { ...batch, intermediates: false });
    expect(res.statusCode).toBe(200);
    const lean = res.json();
    expect(lean.loss).toBe(full.loss);
    expect(lean.inputGradient).toEqual(full.inputGradient);
    for (const [l, layer] of lean.layers.entries()) {
      expect(Object.keys(layer)).toEqual(['weightGradient', 'biasGradient']);
      expect(layer.weightGradient).toEqual(full.layers[l].weightGradient);
    }
    expect(Object.keys(full.layers[0])).toEqual(['z', 'a', 'delta', 'weightGradient', 'biasGradient']);
  });

  it('a batch of one row stays a batch; one sample stays 1-D', async () => {
    const single = (await post(app, '/v1/gradients/network', seedTwoLayer)).json();
    const row = (
      await post(app, '/v1/gradients/network', { ...seedTwoLayer, x: [seedTwoLayer.x], targets: [[1, 0]] })
    ).json();
    expect(single.layers[0].z).toHaveLength(3);
    expect(row.layers[0].z).toEqual([single.layers[0].z]);
    expect(row.inputGradient).toEqual([single.inputGradient]);
  });
});

describe('network shape errors name the layer and both sizes', () => {
  const problem = async (body: unknown) => expectProblem(await post(app, '/v1/gradients/network', body), 400);

  it('weights rows against the previous layer', async () => {
    const p = await problem({
      ...batch,
      layers: [batch.layers[0], { weights: [[1], [2], [3]], activation: 'identity' }],
    });
    expect(p.detail).toBe(
      "/layers/1/weights has 3 rows but layer 0 has 2 outputs: each layer's weights are M x K with M the previous layer's K",
    );
    expect(errorPaths(p)).toEqual(['/layers/1/weights']);
  });

  it('the first layer against the columns of x', async () => {
    const p = await problem({
      ...batch,
      x: [
        [1, 2],
        [3, 4],
      ],
    });
    expect(p.detail).toMatch(/^\/layers\/0\/weights has 3 rows but x has 2 inputs per sample/);
  });

  it('bias, targets and N', async () => {
    let p = await problem({ ...batch, layers: [{ ...batch.layers[0], bias: [1, 2, 3] }, batch.layers[1]] });
    expect(errorPaths(p)).toEqual(['/layers/0/bias']);
    expect(p.detail).toMatch(/has shape \[3\] but layer 0 has 2 outputs/);
    p = await problem({
      ...batch,
      targets: [
        [1, 2],
        [3, 4],
      ],
    });
    expect(p.detail).toBe('targets has 2 outputs per sample but the last layer (layer 1) has 1 outputs');
    p = await problem({ ...batch, targets: [[1]] });
    expect(p.detail).toBe('x has 2 samples (N) but targets has 1 (N)');
    p = await problem({ ...batch, targets: [1, 2] });
    expect(errorPaths(p)).toEqual(['/targets']);
  });

  it('ragged weights, an unknown activation, bad params, no layers', async () => {
    let p = await problem({
      ...batch,
      layers: [{ ...batch.layers[0], weights: [[1, 2], [3]] }, batch.layers[1]],
    });
    expect(errorPaths(p)[0]).toMatch(/^\/layers\/0\/weights/);
    p = await problem({ ...batch, layers: [batch.layers[0], { ...batch.layers[1], activation: 'sigmoyd' }] });
    expect(errorPaths(p)[0]).toMatch(/^\/layers\/1\/activation/);
    p = await problem({
      ...batch,
      layers: [{ ...batch.layers[0], activation: 'elu', params: { alpha: -1, beta: 2 } }, batch.layers[1]],
    });
    expect(errorPaths(p)[0]).toMatch(/^\/layers\/0\/params\//);
    p = await problem({ ...batch, layers: [] });
    expect(errorPaths(p)).toEqual(['/layers']);
  });
});

describe('network limits and non-finite results', () => {
  it('MAX_ELEMENTS counts each layer’s weights and each computed tensor', async () => {
    const small = await buildTestApp({ maxElements: 5 });
    try {
      // Weights 3 x 2 = 6 > 5, nested in layers (the top-level count does not see them).
      let p = expectProblem(
        await post(small, '/v1/gradients/network', { ...batch, x: [[1, 2, 3]], targets: [[1]] }),
        413,
      );
      expect(p.detail).toMatch(/^\/layers\/0\/weights has 6 numbers/);
      // Request tensors within the limit, but z of the first layer is N x K = 6 x 1.
      const tall = {
        x: [[1], [2], [3], [4], [5]],
        layers: [{ weights: [[1]], activation: 'identity' }],
        targets: [[0], [0], [0], [0], [0]],
      };
      expect((await post(small, '/v1/gradients/network', tall)).statusCode).toBe(200);
      p = expectProblem(
        await post(small, '/v1/gradients/network', {
          ...tall,
          x: [[1], [2], [3], [4], [5]],
          layers: [
            { weights: [[1, 1]], activation: 'identity' },
            { weights: [[1], [1]], activation: 'identity' },
          ],
        }),
        413,
      );
      expect(p.detail).toMatch(/^\/layers\/0\/z has 10 numbers/);
    } finally {
      await small.close();
    }
  });

  it('an overflow names the layer (422), on the event loop and in the pool alike', async () => {
    const body = {
      x: [1e300],
      layers: [
        { weights: [[1e10]], activation: 'identity' },
        { weights: [[1]], activation: 'identity' },
      ],
      targets: [0],
    };
    for (const target of [app, pooled]) {
      const p = expectProblem(await post(target, '/v1/gradients/network', body), 422);
      expect(p.detail).toMatch(/layers\.0\.z/);
    }
  });
});

describe('binary tensors on the network route', () => {
  const f64 = (rows: number[][] | number[]) => Float64Array.from((rows as number[][]).flat());
  const inputs: Input[] = [
    { name: 'x', data: f64(batch.x), shape: [2, 3] },
    { name: 'targets', data: f64(batch.targets), shape: [2, 1] },
    { name: 'layers.0.weights', data: f64(batch.layers[0].weights), shape: [3, 2] },
    { name: 'layers.1.weights', data: f64(batch.layers[1].weights), shape: [2, 1] },
    { name: 'layers.1.bias', data: Float64Array.of(0.2), shape: [1] },
  ];
  const header = { layers: batch.layers.map(({ activation }) => ({ activation })) };
  it('takes each weight matrix as a named tensor and replies with per-layer named outputs', async () => {
    const json = (await post(app, '/v1/gradients/network', batch)).json();
    const res = await send(app, '/v1/gradients/network', encode(header, inputs));
    expect(res.statusCode, res.body).toBe(200);
    const { header: replyHeader, outputs } = decode(
      res.rawPayload,
      Number(res.headers['inference-header-content-length']),
    );
    expect(replyHeader.loss).toBe(json.loss);
    expect(Object.keys(outputs)).toEqual([
      'layers.0.z',
      'layers.0.a',
      'layers.0.delta',
      'layers.0.weightGradient',
      'layers.0.biasGradient',
      'layers.1.z',
      'layers.1.a',
      'layers.1.delta',
      'layers.1.weightGradient',
      'layers.1.biasGradient',
      'inputGradient',
    ]);
    expect(outputs['layers.0.weightGradient']).toEqual({
      shape: [3, 2],
      data: Array.from(flat(json.layers[0].weightGradient)),
    });
    expect(outputs.inputGradient.data).toEqual(Array.from(flat(json.inputGradient)));
    // JSON reply to a binary request when asked.
    const asJson = await send(app, '/v1/gradients/network', encode(header, inputs), 'application/json');
    expect(asJson.json()).toEqual(json);
  });

  it('a weight matrix inline and as an input is a 400; a stray layer input is a 400', async () => {
    const twice = { layers: [{ ...header.layers[0], weights: batch.layers[0].weights }, header.layers[1]] };
    let p = expectProblem(await send(app, '/v1/gradients/network', encode(twice, inputs)), 400);
    expect(errorPaths(p)).toEqual(['/layers/0/weights']);
    p = expectProblem(
      await send(
        app,
        '/v1/gradients/network',
        encode(header, [...inputs, { name: 'layers.2.bias', data: Float64Array.of(1), shape: [1] }]),
      ),
      400,
    );
    expect(errorPaths(p)).toEqual(['/layers/2/bias']);
  });
});

describe('POST /v1/gradients/check', () => {
  const check = (body: unknown, target = app) => post(target, '/v1/gradients/check', body);

  it('passes the service’s own gradients and reports each check', async () => {
    const ours = (await post(app, '/v1/gradients/network', batch)).json();
    const res = await check({
      ...batch,
      gradients: {
        loss: ours.loss,
        layers: ours.layers.map((l: { weightGradient: number[][]; biasGradient: number[] }) => ({
          weightGradient: l.weightGradient,
          biasGradient: l.biasGradient,
        })),
        inputGradient: ours.inputGradient,
      },
      rtol: 0,
    });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ passed: true, rtol: 0, atol: 0 });
    expect(body.checks.map((c: { path: string }) => c.path)).toEqual([
      '/loss',
      '/layers/0/weightGradient',
      '/layers/0/biasGradient',
      '/layers/1/weightGradient',
      '/layers/1/biasGradient',
      '/inputGradient',
    ]);
    for (const c of body.checks) expect(c).toMatchObject({ passed: true, mismatches: 0, maxAbsError: 0 });
  });

  it('flags a wrong gradient with 200, naming the worst entry by index', async () => {
    const ours = (await post(app, '/v1/gradients/network', batch)).json();
    const wrong = ours.layers[0].weightGradient.map((row: number[]) => [...row]);
    wrong[2][1] *= 1.001;
    const res = await check({ ...batch, gradients: { layers: [{ weightGradient: wrong }] }, rtol: 1e-6 });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.passed).toBe(false);
    expect(body.checks).toHaveLength(1);
    expect(body.checks[0]).toMatchObject({
      path: '/layers/0/weightGradient',
      passed: false,
      mismatches: 1,
      worst: { index: [2, 1], expected: ours.layers[0].weightGradient[2][1], got: wrong[2][1] },
    });
    expect(body.checks[0].maxRelError).toBeCloseTo(1e-3, 9);
  });

  it('flags PyTorch’s deep_saturated gradients at rtol 1e-9 (and passes the mpmath ones)', async () => {
    for (const c of cases.filter((k) => k.tags.includes('deep_saturated'))) {
      const gradientsOf = (f: typeof c.expected) => ({
        loss: f.loss,
        layers: f.layers.map((l) => ({ weightGradient: l.weightGradient, biasGradient: l.biasGradient })),
        inputGradient: f.inputGradient,
      });
      const torch = (await check({ ...c.request, gradients: gradientsOf(c.expected), rtol: 1e-9 })).json();
      expect(torch.passed, c.name).toBe(false);
      const exact = (await check({ ...c.request, gradients: gradientsOf(c.mpmath), rtol: 1e-9 })).json();
      expect(exact.passed, JSON.stringify(exact.checks.filter((k: { passed: boolean }) => !k.passed))).toBe(
        true,
      );
    }
  });

  it('a mis-shaped gradient is a 400 naming its path; nothing to check is a 400', async () => {
    let p = expectProblem(
      await check({ ...batch, gradients: { layers: [null, { weightGradient: [[1, 2]] }] } }),
      400,
    );
    expect(p.detail).toBe("/gradients/layers/1/weightGradient has shape [1][2] but the network's is [2][1]");
    p = expectProblem(await check({ ...batch, gradients: { inputGradient: [1, 2, 3] } }), 400);
    expect(errorPaths(p)).toEqual(['/gradients/inputGradient']);
    p = expectProblem(await check({ ...batch, gradients: { layers: [{ biasGradient: [1] }] } }), 400);
    expect(errorPaths(p)).toEqual(['/gradients/layers/0/biasGradient']);
    p = expectProblem(await check({ ...batch, gradients: { layers: [null, null, null] } }), 400);
    expect(errorPaths(p)).toEqual(['/gradients/layers']);
    for (const gradients of [{}, { layers: [] }, { layers: [null, {}] }]) {
      p = expectProblem(await check({ ...batch, gradients }), 400);
      expect(errorPaths(p)).toEqual(['/gradients']);
    }
    p = expectProblem(await check({ ...batch, gradients: { loss: 1 }, rtol: -1 }), 400);
    expect(errorPaths(p)[0]).toMatch(/^\/rtol/);
    expectProblem(await check({ ...batch, rtol: 1 }), 400);
  });

  it('runs in the worker pool with the same verdict', async () => {
    const body = { ...batch, gradients: { layers: [null, { biasGradient: [0.5] }] } };
    expect((await check(body, pooled)).json()).toEqual((await check(body)).json());
  });

  it('takes the given gradients as binary tensors', async () => {
    const ours = (await post(app, '/v1/gradients/network', batch)).json();
    const inputs: Input[] = [
      { name: 'x', data: Float64Array.from(batch.x.flat()), shape: [2, 3] },
      { name: 'targets', data: Float64Array.from(batch.targets.flat()), shape: [2, 1] },
      {
        name: 'gradients.layers.0.weightGradient',
        data: Float64Array.from(ours.layers[0].weightGradient.flat()),
        shape: [3, 2],
      },
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
      '/layers/0/weightGradient',
    ]);
  });
});

describe('/v2 renders neither operation', () => {
  it('has no network or check model', async () => {
    for (const name of ['network', 'check']) {
      const res = await app.inject({ method: 'GET', url: `/v2/models/${name}` });
      expect(res.statusCode).toBe(404);
    }
  });
});

/**
 * The contract between the two surfaces: one table of cases, each run through /v1 (JSON body, problem+json
 * errors) and /v2 (Open Inference Protocol inputs and parameters, { error } errors), on an app that computes
 * on the event loop and on one that sends every job to the worker pool. Both surfaces render the same
 * operation (src/operations), so a 200 must carry the same numbers bit for bit and the same shapes, and a
 * refusal the same status. The table covers every operation of the table.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';
import { type OperationName, operations } from '../../src/operations/index.js';

type Nested = number | Nested[];

interface Case {
  readonly title: string;
  readonly operation: OperationName;
  /** The activation in the route or model name (operations that take one from there). */
  readonly activation?: string;
  /** Tensors as /v1 nests them ([K] or [N][K]); /v2 gets them flat with the same shape. */
  readonly tensors: Readonly<Record<string, Nested[]>>;
  readonly params?: Readonly<Record<string, number>>;
  /** The operation's options: top-level fields on /v1, parameters on /v2. */
  readonly options?: Readonly<Record<string, string>>;
  /** 200, or the status both surfaces refuse with. */
  readonly status: number;
}

const wave = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.37) * 3);
const batch = (rows: number, cols: number, seed: number) =>
  Array.from({ length: rows }, (_, r) => wave(cols, seed + r));
const softmaxOf = (z: number[]) => {
  const m = Math.max(...z);
  const e = z.map((x) => Math.exp(x - m));
  const s = e.reduce((p, q) => p + q, 0);
  return e.map((x) => x / s);
};

const cases: readonly Case[] = [
  {
    title: 'sigmoid forward, one sample',
    operation: 'forward',
    activation: 'sigmoid',
    tensors: { z: wave(9, 1) },
    status: 200,
  },
  {
    title: 'gelu forward, a batch',
    operation: 'forward',
    activation: 'gelu',
    tensors: { z: batch(3, 5, 2) },
    status: 200,
  },
  {
    title: 'softmax forward per row',
    operation: 'forward',
    activation: 'softmax',
    tensors: { z: batch(2, 4, 3) },
    status: 200,
  },
  {
    title: 'log_softmax forward',
    operation: 'forward',
    activation: 'log_softmax',
    tensors: { z: [1000, 0, -1000] },
    status: 200,
  },
  {
    title: 'elu forward with a param',
    operation: 'forward',
    activation: 'elu',
    tensors: { z: wave(6, 4) },
    params: { alpha: 0.5 },
    status: 200,
  },
  {
    title: 'an out-of-range param',
    operation: 'forward',
    activation: 'celu',
    tensors: { z: [1] },
    params: { alpha: 0 },
    status: 400,
  },
  {
    title: 'an unknown param',
    operation: 'forward',
    activation: 'relu',
    tensors: { z: [1] },
    params: { alpha: 1 },
    status: 400,
  },
  {
    title: 'a forward that overflows',
    operation: 'forward',
    activation: 'leaky_relu',
    tensors: { z: [-1e300, 1] },
    params: { alpha: 1e300 },
    status: 422,
  },
  {
    title: 'tanh derivative from z',
    operation: 'derivative',
    activation: 'tanh',
    tensors: { z: batch(2, 3, 5) },
    status: 200,
  },
  {
    title: 'sigmoid derivative from a',
    operation: 'derivative',
    activation: 'sigmoid',
    tensors: { a: [0.1, 0.5, 0.9] },
    status: 200,
  },
  {
    title: 'sigmoid derivative from an impossible a',
    operation: 'derivative',
    activation: 'sigmoid',
    tensors: { a: [2, -0.5] },
    status: 400,
  },
  {
    title: 'tanh derivative from an impossible a',
    operation: 'derivative',
    activation: 'tanh',
    tensors: { a: [3] },
    status: 400,
  },
  {
    title: 'leaky_relu derivative from a with a negative alpha',
    operation: 'derivative',
    activation: 'leaky_relu',
    tensors: { a: [1, -1] },
    params: { alpha: -0.5 },
    status: 400,
  },
  {
    title: 'hardshrink derivative from an impossible a',
    operation: 'derivative',
    activation: 'hardshrink',
    tensors: { a: [0.2] },
    status: 400,
  },
  {
    title: 'hardshrink derivative from possible outputs',
    operation: 'derivative',
    activation: 'hardshrink',
    tensors: { a: [0, 0.7, -2] },
    status: 200,
  },
  {
    title: 'gelu derivative from a (no closed form)',
    operation: 'derivative',
    activation: 'gelu',
    tensors: { a: [0.5] },
    status: 400,
  },
  {
    title: 'both z and a',
    operation: 'derivative',
    activation: 'sigmoid',
    tensors: { z: [1], a: [0.5] },
    status: 400,
  },
  {
    title: 'gelu second derivative from z, a batch',
    operation: 'second-derivative',
    activation: 'gelu',
    tensors: { z: batch(2, 4, 24) },
    status: 200,
  },
  {
    title: 'celu second derivative with a param',
    operation: 'second-derivative',
    activation: 'celu',
    tensors: { z: wave(5, 25) },
    params: { alpha: 2 },
    status: 200,
  },
  {
    title: 'tanh second derivative from a',
    operation: 'second-derivative',
    activation: 'tanh',
    tensors: { a: [-0.999999, 0, 0.5] },
    status: 200,
  },
  {
    title: 'sigmoid second derivative from an impossible a',
    operation: 'second-derivative',
    activation: 'sigmoid',
    tensors: { a: [0.5, 1.5] },
    status: 400,
  },
  {
    title: 'mish second derivative from a (no closed form)',
    operation: 'second-derivative',
    activation: 'mish',
    tensors: { a: [0.5] },
    status: 400,
  },
  {
    title: 'softmax Jacobian from z',
    operation: 'jacobian',
    activation: 'softmax',
    tensors: { z: batch(2, 3, 6) },
    status: 200,
  },
  {
    title: 'softmax Jacobian from a',
    operation: 'jacobian',
    activation: 'softmax',
    tensors: { a: softmaxOf(wave(4, 7)) },
    status: 200,
  },
  {
    title: 'softmax Jacobian from rows that are no probabilities',
    operation: 'jacobian',
    activation: 'softmax',
    tensors: {
      a: [
        [0.5, 0.5],
        [0.7, 0.7],
      ],
    },
    status: 400,
  },
  {
    title: 'log_softmax Jacobian from z',
    operation: 'jacobian',
    activation: 'log_softmax',
    tensors: { z: batch(2, 4, 8) },
    status: 200,
  },
  {
    title: 'log_softmax Jacobian from a',
    operation: 'jacobian',
    activation: 'log_softmax',
    tensors: { a: softmaxOf(wave(3, 9)).map(Math.log) },
    status: 200,
  },
  {
    title: 'log_softmax Jacobian from a positive a',
    operation: 'jacobian',
    activation: 'log_softmax',
    tensors: { a: [0.5, -1] },
    status: 400,
  },
  {
    title: 'softmax VJP from z',
    operation: 'vjp',
    activation: 'softmax',
    tensors: { z: batch(2, 5, 10), v: batch(2, 5, 11) },
    status: 200,
  },
  {
    title: 'log_softmax VJP from z',
    operation: 'vjp',
    activation: 'log_softmax',
    tensors: { z: wave(5, 12), v: wave(5, 13) },
    status: 200,
  },
  {
    title: 'log_softmax VJP from a',
    operation: 'vjp',
    activation: 'log_softmax',
    tensors: { a: softmaxOf(wave(4, 14)).map(Math.log), v: wave(4, 15) },
    status: 200,
  },
  {
    title: 'a VJP whose v has another shape',
    operation: 'vjp',
    activation: 'softmax',
    tensors: { z: [1, 2, 3], v: [1, 2] },
    status: 400,
  },
  {
    title: 'output layer, sigmoid and binary cross-entropy, mean',
    operation: 'output-layer',
    tensors: {
      x: batch(3, 4, 16),
      weights: batch(4, 2, 17),
      bias: [0.1, -0.2],
      targets: [
        [1, 0],
        [0, 1],
        [1, 1],
      ],
    },
    options: { activation: 'sigmoid', loss: 'binary_cross_entropy', reduction: 'mean' },
    status: 200,
  },
  {
    title: 'output layer, softmax and cross-entropy, one sample',
    operation: 'output-layer',
    tensors: { x: wave(3, 18), weights: batch(3, 4, 19), targets: [0, 0, 1, 0] },
    options: { activation: 'softmax', loss: 'cross_entropy' },
    status: 200,
  },
  {
    title: 'output layer with an activation param',
    operation: 'output-layer',
    tensors: { x: wave(2, 20), weights: batch(2, 2, 21), targets: [0.5, -0.5] },
    options: { activation: 'leaky_relu' },
    params: { alpha: 0.2 },
    status: 200,
  },
  {
    title: 'output layer whose x does not fit the weights',
    operation: 'output-layer',
    tensors: { x: wave(3, 22), weights: batch(2, 2, 23), targets: [1, 0] },
    options: { activation: 'sigmoid' },
    status: 400,
  },
  {
    title: 'output layer whose loss takes the log of a value <= 0',
    operation: 'output-layer',
    tensors: { x: [1], weights: [[-1]], targets: [1] },
    options: { activation: 'relu', loss: 'cross_entropy' },
    status: 422,
  },
];

const shapeOf = (t: Nested[]): number[] =>
  Array.isArray(t[0]) ? [t.length, (t[0] as Nested[]).length] : [t.length];
const flat = (t: Nested): number[] => (Array.isArray(t) ? t.flatMap(flat) : [t]);

function v1Request(c: Case) {
  const url =
    c.operation === 'output-layer'
      ? '/v1/gradients/output-layer'
      : `/v1/activations/${c.activation}/${c.operation}`;
  return { url, body: { ...c.tensors, ...(c.params ? { params: c.params } : {}), ...c.options } };
}

function v2Request(c: Case) {
  const model =
    c.operation === 'output-layer'
      ? 'output_layer'
      : c.operation === 'forward'
        ? c.activation
        : `${c.activation}.${c.operation.replaceAll('-', '_')}`;
  return {
    url: `/v2/models/${model}/infer`,
    body: {
      inputs: Object.entries(c.tensors).map(([name, t]) => ({
        name,
        shape: shapeOf(t),
        datatype: 'FP64',
        data: flat(t),
      })),
      parameters: { ...c.params, ...c.options },
    },
  };
}

const post = (app: App, url: string, body: unknown) =>
  app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });

/** /v1's reply as name -> { shape, data } (a number such as the loss is a [1] tensor, as /v2 has it). */
function v1Results(res: LightMyRequestResponse) {
  return Object.fromEntries(
    Object.entries(res.json() as Record<string, Nested>).map(([name, value]) => [
      name,
      typeof value === 'number' ? { shape: [1], data: [value] } : { shape: dims(value), data: flat(value) },
    ]),
  );
}
const dims = (t: Nested): number[] => (Array.isArray(t) ? [t.length, ...dims(t[0])] : []);

function v2Results(res: LightMyRequestResponse) {
  const outputs = (res.json() as { outputs: { name: string; shape: number[]; data: number[] }[] }).outputs;
  return Object.fromEntries(outputs.map((o) => [o.name, { shape: o.shape, data: o.data }]));
}

let inline: App;
let pooled: App;
beforeAll(async () => {
  // Overload shedding off: the first worker thread's start (loading tsx) can stall a busy machine's loop.
  const config = { ...defaultConfig, logLevel: 'silent' as const, maxEventLoopDelayMs: 0 };
  inline = await buildApp(config, { logger: false, offload: { threshold: 0, threads: 1 } });
  pooled = await buildApp(config, { logger: false, offload: { threshold: 1, threads: 1 } });
  await Promise.all([inline.ready(), pooled.ready()]);
});
afterAll(async () => {
  await Promise.all([inline.close(), pooled.close()]);
});

describe('one table of cases through /v1 and /v2', () => {
  it('OperationName is derived from the table: the names of its entries and nothing else', () => {
    // Checked by the type checker (npm run typecheck): typing the table as Operation[] would widen it to string.
    expectTypeOf<'output-layer'>().toExtend<OperationName>();
    expectTypeOf<'no-such-operation'>().not.toExtend<OperationName>();
    expectTypeOf<OperationName>().toEqualTypeOf<(typeof operations)[number]['name']>();
    expect(new Set<string>(operations.map((op) => op.name)).size).toBe(operations.length);
  });

  it('covers every operation rendered on both surfaces, with results and refusals', () => {
    const covered = new Set(cases.map((c) => c.operation));
    // network and check are /v1 only (v1Only: per-layer activations have no /v2 model form); their /v1
    // rendering is covered by test/routes/network.test.ts.
    expect([...covered].sort()).toEqual(
      operations
        .filter((op) => !op.v1Only)
        .map((op) => op.name)
        .sort(),
    );
    for (const op of covered) {
      expect(
        cases.some((c) => c.operation === op && c.status === 200),
        `${op}: a 200 case`,
      ).toBe(true);
      expect(
        cases.some((c) => c.operation === op && c.status !== 200),
        `${op}: a refusal`,
      ).toBe(true);
    }
  });

  for (const c of cases)
    it(`${c.title}: ${c.status} on both surfaces, inline and in the worker pool, the same numbers`, async () => {
      const one = v1Request(c);
      const two = v2Request(c);
      const [v1, v2, v1Pooled, v2Pooled] = await Promise.all([
        post(inline, one.url, one.body),
        post(inline, two.url, two.body),
        post(pooled, one.url, one.body),
        post(pooled, two.url, two.body),
      ]);
      for (const res of [v1, v1Pooled]) {
        expect(res.statusCode, res.body).toBe(c.status);
        if (c.status !== 200) expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      }
      for (const res of [v2, v2Pooled]) {
        expect(res.statusCode, res.body).toBe(c.status);
        if (c.status !== 200) expect(Object.keys(res.json())).toEqual(['error']);
      }
      if (c.status !== 200) return;
      const expected = v1Results(v1);
      expect(v2Results(v2)).toEqual(expected);
      expect(v1Results(v1Pooled)).toEqual(expected);
      expect(v2Results(v2Pooled)).toEqual(expected);
    });

  it('/v2 runs large jobs in the worker pool, as /v1 does', async () => {
    const runInference = vi.spyOn(pooled.offload, 'runInference');
    const run = vi.spyOn(pooled.offload, 'run');
    try {
      const c = cases[1];
      const [v1, v2] = [v1Request(c), v2Request(c)];
      expect((await post(pooled, v2.url, v2.body)).statusCode).toBe(200);
      expect(runInference).toHaveBeenCalledTimes(1);
      expect((await post(pooled, v1.url, v1.body)).statusCode).toBe(200);
      expect(run).toHaveBeenCalledTimes(1);
      expect((await post(inline, v2.url, v2.body)).statusCode).toBe(200);
      expect(runInference).toHaveBeenCalledTimes(1);
    } finally {
      runInference.mockRestore();
      run.mockRestore();
    }
  });
});

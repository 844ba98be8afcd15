/**
 * /v2 metadata a client can build a request from (shapes and datatypes as they are taken), FP32 in giving FP32
 * out, Triton's statistics and repository index extensions, and error messages that name their input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { buildTestApp } from '../support/app.js';

let app: App;
beforeAll(async () => {
  app = await buildTestApp();
});
afterAll(() => app.close());

interface MetadataTensor {
  name: string;
  datatype: string;
  shape: number[];
  parameters: { datatypes: string };
}
interface Metadata {
  name: string;
  inputs: MetadataTensor[];
  outputs: MetadataTensor[];
  parameters: { optional_inputs: string };
}
interface Output {
  name: string;
  shape: number[];
  datatype: string;
  data: number[];
}

const get = (url: string) => app.inject({ method: 'GET', url });
const infer = (model: string, body: unknown) =>
  app.inject({
    method: 'POST',
    url: `/v2/models/${model}/infer`,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });

/** The models, as a client finds them: the repository index. */
async function modelNames(): Promise<string[]> {
  const res = await app.inject({ method: 'POST', url: '/v2/repository/index' });
  expect(res.statusCode).toBe(200);
  return (res.json() as { name: string }[]).map((m) => m.name);
}

/**
 * The request a client builds from the metadata alone: every required input (of an all-optional set, the first:
 * the z-or-a choice), each -1 taken as 3, data in (0, 1) to stay in every domain.
 */
function requestFrom(meta: Metadata, datatype: string) {
  const optional = new Set(meta.parameters.optional_inputs.split(', ').filter(Boolean));
  const required = meta.inputs.filter((i) => !optional.has(i.name));
  const chosen =
    required.length > 0 && required.some((i) => i.name !== 'v') ? required : [meta.inputs[0], ...required];
  return {
    inputs: chosen.map((input) => {
      const shape = input.shape.map((d) => (d === -1 ? 3 : d));
      const count = shape.reduce((n, d) => n * d, 1);
      return {
        name: input.name,
        shape,
        datatype,
        data: Array.from({ length: count }, (_, i) => 0.1 + i / (2 * count)),
      };
    }),
    ...(meta.name === 'output_layer' ? { parameters: { activation: 'sigmoid' } } : {}),
  };
}

describe('model metadata', () => {
  it('declares shapes and datatypes a request can be built from, with outputs of the declared rank', async () => {
    const names = await modelNames();
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) {
      const meta = (await get(`/v2/models/${name}`)).json() as Metadata;
      for (const t of [...meta.inputs, ...meta.outputs]) {
        expect(t.datatype, `${name} ${t.name}`).toBe('FP64');
        expect(t.parameters.datatypes.split(','), `${name} ${t.name}`).toEqual(['FP64', 'FP32']);
      }
      for (const datatype of ['FP64', 'FP32']) {
        const res = await infer(name, requestFrom(meta, datatype));
        expect(res.statusCode, `${name} ${datatype}: ${res.body}`).toBe(200);
        const outputs = (res.json() as { outputs: Output[] }).outputs;
        expect(outputs.length).toBeGreaterThan(0);
        for (const output of outputs) {
          const declared = meta.outputs.find((o) => o.name === output.name);
          expect(declared, `${name} ${output.name}`).toBeDefined();
          expect(output.shape.length, `${name} ${output.name} rank`).toBe(declared?.shape.length);
          expect(output.datatype, `${name} ${output.name}`).toBe(datatype);
        }
      }
    }
  });

  it('declares the Jacobian one rank above its 1-D input', async () => {
    const meta = (await get('/v2/models/softmax.jacobian')).json() as Metadata;
    expect(meta.inputs.map((i) => i.shape)).toEqual([[-1], [-1]]);
    expect(meta.outputs.find((o) => o.name === 'jacobian')?.shape).toEqual([-1, -1]);
  });
});

describe('FP32 in, FP32 out', () => {
  const z = [-2.5, 0.1, 3];

  it('answers FP32 inputs in FP32, the FP64 result rounded to float32, unless an output asks for FP64', async () => {
    const fp64 = (
      await infer('tanh', { inputs: [{ name: 'z', shape: [3], datatype: 'FP64', data: z }] })
    ).json();
    const fp32 = (
      await infer('tanh', { inputs: [{ name: 'z', shape: [3], datatype: 'FP32', data: z }] })
    ).json();
    const a64 = fp64.outputs[0] as Output;
    const a32 = fp32.outputs[0] as Output;
    expect(a64.datatype).toBe('FP64');
    expect(a32.datatype).toBe('FP32');
    const expected32 = z.map((v) => Math.fround(Math.tanh(Math.fround(v))));
    a32.data.forEach((v, i) => {
      expect(v).toBe(expected32[i]);
    });

    const asked = await infer('tanh', {
      inputs: [{ name: 'z', shape: [3], datatype: 'FP32', data: z }],
      outputs: [{ name: 'a', parameters: { datatype: 'FP64' } }],
    });
    expect(asked.json().outputs[0].datatype).toBe('FP64');
  });

  it('answers mixed FP32 and FP64 inputs in FP64', async () => {
    const res = await infer('softmax.vjp', {
      inputs: [
        { name: 'z', shape: [3], datatype: 'FP32', data: z },
        { name: 'v', shape: [3], datatype: 'FP64', data: [1, 0, 0] },
      ],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect((res.json().outputs as Output[]).map((o) => o.datatype)).toEqual(['FP64', 'FP64']);
  });
});

describe('statistics extension', () => {
  it('counts successful and failed inferences per model, with their time', async () => {
    const counted = await buildTestApp();
    try {
      const run = (model: string, data: unknown[]) =>
        counted.inject({
          method: 'POST',
          url: `/v2/models/${model}/infer`,
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify({ inputs: [{ name: 'z', shape: [data.length], datatype: 'FP64', data }] }),
        });
      expect((await run('sigmoid', [1, 2])).statusCode).toBe(200);
      expect((await run('sigmoid', [3])).statusCode).toBe(200);
      expect((await run('sigmoid', ['x'])).statusCode).toBe(400);
      expect((await run('nope', [1])).statusCode).toBe(404);

      const one = await counted.inject({ method: 'GET', url: '/v2/models/sigmoid/stats' });
      expect(one.statusCode).toBe(200);
      const [stat] = one.json().model_stats;
      expect(stat).toMatchObject({
        name: 'sigmoid',
        version: '1',
        inference_count: 2,
        execution_count: 2,
        inference_stats: { success: { count: 2 }, fail: { count: 1 } },
        batch_stats: [],
      });
      expect(stat.inference_stats.success.ns).toBeGreaterThan(0);
      expect(stat.inference_stats.fail.ns).toBeGreaterThan(0);
      expect(stat.last_inference).toBeGreaterThan(Date.now() - 60_000);

      const versioned = await counted.inject({ method: 'GET', url: '/v2/models/sigmoid/versions/1/stats' });
      expect(versioned.json().model_stats[0].inference_count).toBe(2);
      const all = (await counted.inject({ method: 'GET', url: '/v2/models/stats' })).json().model_stats as {
        name: string;
        inference_count: number;
      }[];
      expect(all.map((m) => m.name)).toEqual(await modelNames());
      expect(all.filter((m) => m.inference_count > 0).map((m) => m.name)).toEqual(['sigmoid']);

      expect((await counted.inject({ method: 'GET', url: '/v2/models/nope/stats' })).statusCode).toBe(404);
      expect(
        (await counted.inject({ method: 'GET', url: '/v2/models/sigmoid/versions/2/stats' })).statusCode,
      ).toBe(404);
    } finally {
      await counted.close();
    }
  });
});

describe('repository index and server metadata', () => {
  it('lists every model READY, with or without the ready filter', async () => {
    const plain = await app.inject({ method: 'POST', url: '/v2/repository/index' });
    const filtered = await app.inject({
      method: 'POST',
      url: '/v2/repository/index',
      headers: { 'content-type': 'application/json' },
      payload: '{"ready": true}',
    });
    expect(filtered.json()).toEqual(plain.json());
    for (const entry of plain.json())
      expect(entry).toMatchObject({ version: '1', state: 'READY', reason: '' });
    const bad = await app.inject({
      method: 'POST',
      url: '/v2/repository/index',
      headers: { 'content-type': 'application/json' },
      payload: '{"ready": "yes"}',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/ready/);
  });

  it('lists the statistics and model_repository extensions', async () => {
    expect((await get('/v2')).json().extensions).toEqual([
      'binary_tensor_data',
      'statistics',
      'model_repository',
    ]);
  });
});

describe('errors name their input, and an unknown model stays short', () => {
  it('names the input of an unsupported binary datatype', async () => {
    const json = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'z', shape: [2], datatype: 'INT32', parameters: { binary_data_size: 8 } }],
      }),
    );
    const res = await app.inject({
      method: 'POST',
      url: '/v2/models/sigmoid/infer',
      headers: {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(json.length),
      },
      payload: Buffer.concat([json, Buffer.alloc(8)]),
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(/^input "z": unsupported datatype "INT32"/);
  });

  it('answers an unknown model in one short line pointing at the index', async () => {
    const res = await get('/v2/models/sigmoidd');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      error: 'unknown model "sigmoidd"; POST /v2/repository/index lists the models',
    });
  });
});

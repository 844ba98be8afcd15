/**
 * Open Inference Protocol (KServe v2 / Triton) conformance of /v2: requests built as the protocol's spec
 * shows them (JSON, and the binary tensor data extension with Inference-Header-Content-Length), good and bad,
 * with values checked against core.
 */
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import {
  type Activation,
  activations,
  defaultParams,
  forwardTensor,
  mapElements,
} from '../../src/core/activations/index.js';
import { outputLayer } from '../../src/core/output-layer.js';
import { softmaxJacobian, softmaxVjp } from '../../src/core/softmax.js';
import { buildTestApp } from '../support/app.js';

let app: App;
beforeAll(async () => {
  app = await buildTestApp();
});
afterAll(() => app.close());

const elementwise = activations.filter((e) => e.kind === 'elementwise') as (Activation & {
  kind: 'elementwise';
})[];
const vectorEntry = activations.find((e) => e.kind === 'vector') as Activation;
const withParams = activations.find((e) => e.params.length > 0) as Activation;
const fromOutput = elementwise.find((e) => e.derivativeFromOutput) as Activation & { kind: 'elementwise' };
const notFromOutput = elementwise.find((e) => !e.derivativeFromOutput) as Activation;

const z = [-3, -0.5, 0, 0.25, 1, 4];

function infer(model: string, body: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: `/v2/models/${model}/infer`,
    headers: { 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
}

/** Asserts the protocol's error object with this status and returns its message. */
function expectError(res: LightMyRequestResponse, status: number, pattern?: RegExp): string {
  expect(res.statusCode, res.body).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { error: string };
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error.length).toBeGreaterThan(0);
  if (pattern) expect(body.error).toMatch(pattern);
  return body.error;
}

function fp64(values: readonly number[]): Buffer {
  const out = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => {
    out.writeDoubleLE(v, i * 8);
  });
  return out;
}

/** A binary request body as the extension's example shows: the JSON, then the raw bytes of each input. */
function binaryRequest(header: unknown, ...chunks: Buffer[]) {
  const json = Buffer.from(JSON.stringify(header));
  return {
    payload: Buffer.concat([json, ...chunks]),
    headers: {
      'content-type': 'application/octet-stream',
      'inference-header-content-length': String(json.length),
    },
  };
}

interface Output {
  name: string;
  shape: number[];
  datatype: string;
  data?: number[];
  parameters?: { binary_data_size?: number };
}

/** Reads a binary response independently of the codec: header JSON, then each binary output in order. */
function readBinaryResponse(res: LightMyRequestResponse) {
  expect(res.headers['content-type']).toMatch(/^application\/octet-stream/);
  const length = Number(res.headers['inference-header-content-length']);
  const raw = res.rawPayload;
  const header = JSON.parse(raw.subarray(0, length).toString('utf8')) as { outputs: Output[] };
  let offset = length;
  const values = new Map<string, number[]>();
  for (const output of header.outputs) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) continue;
    const width = output.datatype === 'FP32' ? 4 : 8;
    const list: number[] = [];
    for (let i = 0; i < size / width; i++)
      list.push(width === 8 ? raw.readDoubleLE(offset + i * 8) : raw.readFloatLE(offset + i * 4));
    values.set(output.name, list);
    offset += size;
  }
  expect(offset).toBe(raw.length);
  return { header, values };
}

describe('server metadata and health', () => {
  it('GET /v2 names the server and lists the binary_tensor_data extension', async () => {
    const res = await app.inject({ method: 'GET', url: '/v2' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ name: 'gradient-service', version: expect.any(String) });
    expect(body.extensions).toContain('binary_tensor_data');
  });

  it('live and ready answer 200 with an empty body', async () => {
    for (const url of ['/v2/health/live', '/v2/health/ready', '/v2/models/sigmoid/ready']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.body).toBe('');
    }
  });

  it('ready follows app.readiness: a 4xx with the reason while not ready, live stays 200', async () => {
    app.readiness.ready = false;
    app.readiness.reason = 'shutting down';
    try {
      expectError(await app.inject({ method: 'GET', url: '/v2/health/ready' }), 400, /shutting down/);
      expectError(await app.inject({ method: 'GET', url: '/v2/models/tanh/ready' }), 400, /shutting down/);
      expect((await app.inject({ method: 'GET', url: '/v2/health/live' })).statusCode).toBe(200);
    } finally {
      app.readiness.ready = true;
      app.readiness.reason = undefined;
    }
  });
});

describe('model metadata', () => {
  it('has a model per activation, a .derivative per elementwise activation, and the softmax and layer models', async () => {
    for (const entry of activations) {
      const res = await app.inject({ method: 'GET', url: `/v2/models/${entry.name}` });
      expect(res.statusCode, entry.name).toBe(200);
      expect(res.json()).toMatchObject({
        name: entry.name,
        versions: ['1'],
        platform: expect.any(String),
        inputs: [{ name: 'z', datatype: 'FP64', shape: [-1], parameters: { datatypes: 'FP64,FP32' } }],
        outputs: [{ name: 'a', datatype: 'FP64', shape: [-1], parameters: { datatypes: 'FP64,FP32' } }],
      });
      const derivative = await app.inject({ method: 'GET', url: `/v2/models/${entry.name}.derivative` });
      expect(derivative.statusCode, `${entry.name}.derivative`).toBe(
        entry.kind === 'elementwise' ? 200 : 404,
      );
    }
    for (const name of ['softmax.jacobian', 'softmax.vjp', 'output_layer'])
      expect((await app.inject({ method: 'GET', url: `/v2/models/${name}` })).statusCode, name).toBe(200);
  });

  it('lists a as an input of .derivative exactly where the activation has derivativeFromOutput', async () => {
    for (const entry of elementwise) {
      const { inputs } = (
        await app.inject({ method: 'GET', url: `/v2/models/${entry.name}.derivative` })
      ).json();
      expect(inputs.map((i: { name: string }) => i.name)).toEqual(
        entry.derivativeFromOutput ? ['z', 'a'] : ['z'],
      );
    }
  });

  it('answers the versioned routes for version 1 and 404 for any other version', async () => {
    expect((await app.inject({ method: 'GET', url: '/v2/models/tanh/versions/1' })).json().name).toBe('tanh');
    expectError(
      await app.inject({ method: 'GET', url: '/v2/models/tanh/versions/2' }),
      404,
      /no version "2"/,
    );
  });

  it('is a 404 with the error object for an unknown model, on every model route', async () => {
    expectError(
      await app.inject({ method: 'GET', url: '/v2/models/sigmoidd' }),
      404,
      /unknown model "sigmoidd"/,
    );
    expectError(await app.inject({ method: 'GET', url: '/v2/models/sigmoidd/ready' }), 404);
    expectError(
      await infer('sigmoidd', { inputs: [{ name: 'z', shape: [1], datatype: 'FP64', data: [0] }] }),
      404,
    );
    // Aliases are not model names.
    const alias = activations.find((e) => e.aliases.length)?.aliases[0] as string;
    expectError(await app.inject({ method: 'GET', url: `/v2/models/${alias}` }), 404);
  });

  it('is a 404 error object for an unknown path under /v2, and /v1 keeps problem+json', async () => {
    expectError(await app.inject({ method: 'GET', url: '/v2/nothing/here' }), 404);
    const v1 = await app.inject({ method: 'GET', url: '/v1/nothing' });
    expect(v1.statusCode).toBe(404);
    expect(v1.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});

describe('inference, JSON', () => {
  it('computes every forward model as core does, echoing id, with flat data', async () => {
    for (const entry of activations) {
      const res = await infer(entry.name, {
        id: '42',
        inputs: [{ name: 'z', shape: [2, 3], datatype: 'FP64', data: z }],
      });
      expect(res.statusCode, `${entry.name}: ${res.body}`).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const expected = forwardTensor(entry, Float64Array.from(z), 3, defaultParams(entry));
      expect(res.json()).toEqual({
        model_name: entry.name,
        model_version: '1',
        id: '42',
        outputs: [{ name: 'a', shape: [2, 3], datatype: 'FP64', data: Array.from(expected) }],
      });
    }
  });

  it('reads nested data as the flat row-major data', async () => {
    const nested = await infer(vectorEntry.name, {
      inputs: [{ name: 'z', shape: [2, 3], datatype: 'FP64', data: [z.slice(0, 3), z.slice(3)] }],
    });
    const flat = await infer(vectorEntry.name, {
      inputs: [{ name: 'z', shape: [2, 3], datatype: 'FP64', data: z }],
    });
    expect(nested.statusCode).toBe(200);
    expect(nested.json().outputs).toEqual(flat.json().outputs);
  });

  it('applies the last axis rule to any rank: [2, 1, 3] is two rows of 3', async () => {
    const res = await infer(vectorEntry.name, {
      inputs: [{ name: 'z', shape: [2, 1, 3], datatype: 'FP64', data: z }],
    });
    const expected = forwardTensor(vectorEntry, Float64Array.from(z), 3, {});
    expect(res.json().outputs[0]).toEqual({
      name: 'a',
      shape: [2, 1, 3],
      datatype: 'FP64',
      data: Array.from(expected),
    });
  });

  it('reads FP32 inputs as their float32 values and writes FP32 outputs when asked', async () => {
    const entry = elementwise[0];
    const res = await infer(entry.name, {
      inputs: [{ name: 'z', shape: [6], datatype: 'FP32', data: z.map((v) => v + 0.1) }],
      outputs: [{ name: 'a', parameters: { datatype: 'FP32' } }],
    });
    expect(res.statusCode, res.body).toBe(200);
    const rounded = Float64Array.from(z.map((v) => Math.fround(v + 0.1)));
    const expected = Array.from(Float32Array.from(forwardTensor(entry, rounded, 6, defaultParams(entry))));
    expect(res.json().outputs[0]).toEqual({ name: 'a', shape: [6], datatype: 'FP32', data: expected });
  });

  it('takes the activation params from the request parameters', async () => {
    const p = withParams.params[0];
    const value = (p.exclusiveMinimum ?? p.minimum ?? 0) + 0.375;
    const res = await infer(withParams.name, {
      parameters: { [p.name]: value },
      inputs: [{ name: 'z', shape: [6], datatype: 'FP64', data: z }],
    });
    expect(res.statusCode, res.body).toBe(200);
    const params = { ...defaultParams(withParams), [p.name]: value };
    expect(res.json().outputs[0].data).toEqual(
      Array.from(forwardTensor(withParams, Float64Array.from(z), 6, params)),
    );
    expectError(
      await infer(withParams.name, {
        parameters: { nonsense: 1 },
        inputs: [{ name: 'z', shape: [1], datatype: 'FP64', data: [0] }],
      }),
      400,
      /nonsense: unknown parameter/,
    );
  });

  it('computes derivatives from z (with a) and from a where allowed, as core does', async () => {
    const fromZ = await infer(`${fromOutput.name}.derivative`, {
      inputs: [{ name: 'z', shape: [6], datatype: 'FP64', data: z }],
    });
    const params = defaultParams(fromOutput);
    const a = mapElements(fromOutput.forward, Float64Array.from(z), params);
    expect(fromZ.json().outputs).toEqual([
      {
        name: 'derivative',
        shape: [6],
        datatype: 'FP64',
        data: Array.from(mapElements(fromOutput.derivative, Float64Array.from(z), params)),
      },
      { name: 'a', shape: [6], datatype: 'FP64', data: Array.from(a) },
    ]);
    const fromA = await infer(`${fromOutput.name}.derivative`, {
      inputs: [{ name: 'a', shape: [6], datatype: 'FP64', data: Array.from(a) }],
    });
    expect(fromA.json().outputs).toEqual([
      {
        name: 'derivative',
        shape: [6],
        datatype: 'FP64',
        data: Array.from(mapElements(fromOutput.derivativeFromOutput as (a: number) => number, a, params)),
      },
    ]);
    expectError(
      await infer(`${notFromOutput.name}.derivative`, {
        inputs: [{ name: 'a', shape: [1], datatype: 'FP64', data: [0.5] }],
      }),
      400,
      /"a" is not an input/,
    );
  });

  it('computes the softmax Jacobian and VJP as core does', async () => {
    const jac = await infer('softmax.jacobian', {
      inputs: [{ name: 'z', shape: [2, 3], datatype: 'FP64', data: z }],
    });
    const expected = softmaxJacobian(Float64Array.from(z), 3, 'z');
    expect(jac.json().outputs).toEqual([
      { name: 'a', shape: [2, 3], datatype: 'FP64', data: Array.from(expected.a) },
      { name: 'jacobian', shape: [2, 3, 3], datatype: 'FP64', data: Array.from(expected.jacobian) },
    ]);
    const v = [1, 0, -1, 0.5, 0.5, 2];
    const vjp = await infer('softmax.vjp', {
      inputs: [
        { name: 'z', shape: [2, 3], datatype: 'FP64', data: z },
        { name: 'v', shape: [2, 3], datatype: 'FP64', data: v },
      ],
      outputs: [{ name: 'gradient' }],
    });
    const product = softmaxVjp(Float64Array.from(z), Float64Array.from(v), 3, 'z');
    expect(vjp.json().outputs).toEqual([
      { name: 'gradient', shape: [2, 3], datatype: 'FP64', data: Array.from(product.gradient) },
    ]);
  });

  it('computes the output layer as core does, with activation, loss and reduction in parameters', async () => {
    const x = [0.5, -1, 2, 0.25];
    const weights = [0.1, -0.2, 0.3, 0.3, 0.4, -0.5];
    const targets = [1, 0, 0, 0, 1, 0];
    const res = await infer('output_layer', {
      parameters: { activation: vectorEntry.name, loss: 'cross_entropy', reduction: 'mean' },
      inputs: [
        { name: 'x', shape: [2, 2], datatype: 'FP64', data: x },
        { name: 'weights', shape: [2, 3], datatype: 'FP64', data: weights },
        { name: 'bias', shape: [3], datatype: 'FP64', data: [0, 0.1, -0.1] },
        { name: 'targets', shape: [2, 3], datatype: 'FP64', data: targets },
      ],
    });
    expect(res.statusCode, res.body).toBe(200);
    const expected = outputLayer({
      x: Float64Array.from(x),
      N: 2,
      M: 2,
      weights: Float64Array.from(weights),
      K: 3,
      bias: Float64Array.from([0, 0.1, -0.1]),
      targets: Float64Array.from(targets),
      activation: vectorEntry,
      params: {},
      loss: 'cross_entropy',
      reduction: 'mean',
    });
    const outputs = Object.fromEntries(res.json().outputs.map((o: Output) => [o.name, o]));
    expect(outputs.loss).toEqual({ name: 'loss', shape: [1], datatype: 'FP64', data: [expected.loss] });
    expect(outputs.weightGradient.shape).toEqual([2, 3]);
    expect(outputs.weightGradient.data).toEqual(Array.from(expected.weightGradient));
    expect(outputs.inputGradient).toMatchObject({ shape: [2, 2], data: Array.from(expected.inputGradient) });
    expect(outputs.delta.data).toEqual(Array.from(expected.delta));
    expectError(
      await infer('output_layer', {
        parameters: { activation: vectorEntry.name },
        inputs: [
          { name: 'x', shape: [3], datatype: 'FP64', data: [1, 2, 3] },
          { name: 'weights', shape: [2, 3], datatype: 'FP64', data: weights },
          { name: 'targets', shape: [3], datatype: 'FP64', data: [1, 0, 0] },
        ],
      }),
      400,
      /x has 3 inputs per sample \(M\) but weights has 2 rows/,
    );
  });

  it('returns the requested outputs in the requested order, and refuses unknown ones', async () => {
    const res = await infer(`${fromOutput.name}.derivative`, {
      inputs: [{ name: 'z', shape: [2], datatype: 'FP64', data: [0, 1] }],
      outputs: [{ name: 'a' }, { name: 'derivative' }],
    });
    expect(res.json().outputs.map((o: Output) => o.name)).toEqual(['a', 'derivative']);
    expectError(
      await infer('tanh', {
        inputs: [{ name: 'z', shape: [1], datatype: 'FP64', data: [0] }],
        outputs: [{ name: 'b' }],
      }),
      400,
      /output "b" is not an output of tanh/,
    );
  });
});

describe('inference, binary tensor data extension', () => {
  it('reads binary inputs after the JSON header and returns binary and JSON outputs as asked', async () => {
    const { payload, headers } = binaryRequest(
      {
        inputs: [{ name: 'z', shape: [2, 3], datatype: 'FP64', parameters: { binary_data_size: 48 } }],
        outputs: [{ name: 'derivative', parameters: { binary_data: true } }, { name: 'a' }],
      },
      fp64(z),
    );
    const res = await infer(`${fromOutput.name}.derivative`, payload, headers);
    expect(res.statusCode, res.body).toBe(200);
    const { header, values } = readBinaryResponse(res);
    const params = defaultParams(fromOutput);
    expect(header.outputs[0]).toEqual({
      name: 'derivative',
      shape: [2, 3],
      datatype: 'FP64',
      parameters: { binary_data_size: 48 },
    });
    expect(values.get('derivative')).toEqual(
      Array.from(mapElements(fromOutput.derivative, Float64Array.from(z), params)),
    );
    expect(header.outputs[1].data).toEqual(
      Array.from(mapElements(fromOutput.forward, Float64Array.from(z), params)),
    );
  });

  it('returns every output as binary with binary_data_output, FP32 when asked, and mixes JSON and binary inputs', async () => {
    const v = [1, 0, -1, 0.5, 0.5, 2];
    const { payload, headers } = binaryRequest(
      {
        parameters: { binary_data_output: true },
        inputs: [
          { name: 'z', shape: [2, 3], datatype: 'FP64', data: z },
          { name: 'v', shape: [2, 3], datatype: 'FP32', parameters: { binary_data_size: 24 } },
        ],
        outputs: [{ name: 'a' }, { name: 'gradient', parameters: { datatype: 'FP32' } }],
      },
      Buffer.from(Float32Array.from(v).buffer),
    );
    const res = await infer('softmax.vjp', payload, { ...headers, 'content-type': 'application/json' });
    expect(res.statusCode, res.body).toBe(200);
    const { header, values } = readBinaryResponse(res);
    const expected = softmaxVjp(Float64Array.from(z), Float64Array.from(v.map(Math.fround)), 3, 'z');
    expect(header.outputs.map((o) => [o.name, o.datatype, o.parameters?.binary_data_size])).toEqual([
      ['a', 'FP64', 48],
      ['gradient', 'FP32', 24],
    ]);
    expect(values.get('a')).toEqual(Array.from(expected.a));
    expect(values.get('gradient')).toEqual(Array.from(Float32Array.from(expected.gradient)));
  });

  it('reads a binary body without the header length as all JSON (the protocol rule)', async () => {
    const res = await infer(
      'tanh',
      JSON.stringify({ inputs: [{ name: 'z', shape: [1], datatype: 'FP64', data: [0] }] }),
      {
        'content-type': 'application/octet-stream',
      },
    );
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json().outputs[0].data).toEqual([0]);
  });
});

describe('bad requests get the error object with the right status', () => {
  const one = (input: Record<string, unknown>) => ({ inputs: [{ name: 'z', ...input }] });

  it('shape vs data length, flat or nested', async () => {
    expectError(
      await infer('sigmoid', one({ shape: [2, 3], datatype: 'FP64', data: [1, 2, 3] })),
      400,
      /data has 3 elements but shape \[2, 3\] needs 6/,
    );
    expectError(
      await infer('sigmoid', one({ shape: [2, 2], datatype: 'FP64', data: [[1, 2], [3]] })),
      400,
      /data\[1\] must be an array of 2/,
    );
    expectError(
      await infer('sigmoid', one({ shape: [0], datatype: 'FP64', data: [] })),
      400,
      /positive integers/,
    );
  });

  it('non-numbers in data, and FP32 data beyond the float32 range', async () => {
    expectError(
      await infer('sigmoid', one({ shape: [2], datatype: 'FP64', data: [1, 'x'] })),
      400,
      /data\[1\] must be a finite number/,
    );
    expectError(
      await infer('sigmoid', one({ shape: [1], datatype: 'FP32', data: [1e300] })),
      400,
      /FP32 range/,
    );
  });

  it('unknown datatype, missing data, unknown input, missing input', async () => {
    expectError(
      await infer('sigmoid', one({ shape: [1], datatype: 'INT64', data: [1] })),
      400,
      /unsupported datatype "INT64"/,
    );
    expectError(await infer('sigmoid', one({ shape: [1], datatype: 'FP64' })), 400, /neither data nor/);
    expectError(
      await infer('sigmoid', { inputs: [{ name: 'x', shape: [1], datatype: 'FP64', data: [1] }] }),
      400,
      /"x" is not an input of sigmoid/,
    );
    expectError(
      await infer('softmax.vjp', { inputs: [{ name: 'z', shape: [1], datatype: 'FP64', data: [1] }] }),
      400,
      /input v is required/,
    );
  });

  it('fields the protocol does not have, and a body that is not an inference request', async () => {
    expectError(await infer('sigmoid', { inputs: [], extra: 1 }), 400);
    expectError(await infer('sigmoid', { inputs: [] }), 400);
    expectError(await infer('sigmoid', [1, 2]), 400, /JSON object/);
  });

  it('wrong binary sizes, a header length past the body, and trailing bytes', async () => {
    const declared = (size: number) => ({
      inputs: [{ name: 'z', shape: [2], datatype: 'FP64', parameters: { binary_data_size: size } }],
    });
    let r = binaryRequest(declared(8), fp64([1]));
    expectError(
      await infer('sigmoid', r.payload, r.headers),
      400,
      /binary_data_size is 8 bytes but shape \[2\] of FP64 needs 16/,
    );
    r = binaryRequest(declared(16), fp64([1]));
    expectError(await infer('sigmoid', r.payload, r.headers), 400, /runs past the 8 bytes/);
    r = binaryRequest(declared(16), fp64([1, 2, 3]));
    expectError(await infer('sigmoid', r.payload, r.headers), 400, /24 bytes follow the JSON header/);
    r = binaryRequest(declared(16), fp64([1, 2]));
    expectError(
      await infer('sigmoid', r.payload, {
        ...r.headers,
        'inference-header-content-length': String(r.payload.length + 1),
      }),
      400,
      /Inference-Header-Content-Length is \d+ but the body has only \d+ bytes/,
    );
    expectError(
      await infer('sigmoid', r.payload, { ...r.headers, 'inference-header-content-length': 'x' }),
      400,
      /non-negative integer/,
    );
    r = binaryRequest(declared(16), fp64([1, Number.NaN]));
    expectError(await infer('sigmoid', r.payload, r.headers), 400, /binary element 1 is not finite/);
  });

  it('bad JSON, an empty body, and a content type the protocol does not use', async () => {
    expectError(await infer('sigmoid', '{"inputs": ['), 400, /not valid JSON/);
    expectError(await infer('sigmoid', ''), 400);
    expectError(await infer('sigmoid', 'z=1', { 'content-type': 'text/plain' }), 415);
  });

  it('MAX_ELEMENTS on inputs and on the Jacobian, BODY_LIMIT on the body: 413', async () => {
    const small = await buildTestApp({ maxElements: 8, bodyLimit: 2048 });
    try {
      const post = (model: string, body: unknown) =>
        small.inject({
          method: 'POST',
          url: `/v2/models/${model}/infer`,
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(body),
        });
      expectError(
        await post('sigmoid', one({ shape: [3, 3], datatype: 'FP64', data: new Array(9).fill(0) })),
        413,
        /MAX_ELEMENTS/,
      );
      expectError(
        await post('softmax.jacobian', one({ shape: [3], datatype: 'FP64', data: [1, 2, 3] })),
        413,
        /jacobian .* 9 numbers/,
      );
      expectError(
        await post('sigmoid', one({ shape: [1], datatype: 'FP64', data: [0], pad: 'x'.repeat(4096) })),
        413,
        /BODY_LIMIT/,
      );
    } finally {
      await small.close();
    }
  });

  it('an FP32 output that overflows float32 is a 422, not an Infinity', async () => {
    const identityLike = elementwise.find((e) => e.forward(1e300, defaultParams(e)) === 1e300) as Activation;
    expectError(
      await infer(identityLike.name, {
        inputs: [{ name: 'z', shape: [1], datatype: 'FP64', data: [1e300] }],
        outputs: [{ name: 'a', parameters: { datatype: 'FP32' } }],
      }),
      422,
      /overflows FP32/,
    );
  });

  it('does not change /v1: octet-stream is still a 415 problem there', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/activations/sigmoid/forward',
      headers: { 'content-type': 'application/octet-stream' },
      payload: '{"z":[1]}',
    });
    expect(res.statusCode).toBe(415);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});

describe('with API keys', () => {
  it('answers a missing key on /v2 with the error object and 401, and leaves the health probes open', async () => {
    const secured = await buildTestApp({ apiKeys: ['v2-key-0123456789abcdef'] });
    try {
      const body = JSON.stringify({ inputs: [{ name: 'z', shape: [1], datatype: 'FP64', data: [0] }] });
      const post = (headers: Record<string, string>) =>
        secured.inject({
          method: 'POST',
          url: '/v2/models/sigmoid/infer',
          headers: { 'content-type': 'application/json', ...headers },
          payload: body,
        });
      expectError(await post({}), 401);
      expect((await post({ authorization: 'Bearer v2-key-0123456789abcdef' })).statusCode).toBe(200);
      expect((await secured.inject({ method: 'GET', url: '/v2/health/live' })).statusCode).toBe(200);
    } finally {
      await secured.close();
    }
  });
});

describe('the OpenAPI document', () => {
  it('documents /v2 with JSON and binary bodies and the error object', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.paths['/v2']).toBeDefined();
    const op = doc.paths['/v2/models/{name}/infer'].post;
    expect(Object.keys(op.requestBody.content).sort()).toEqual([
      'application/json',
      'application/octet-stream',
    ]);
    expect(Object.keys(op.responses['200'].content).sort()).toEqual([
      'application/json',
      'application/octet-stream',
    ]);
    expect(doc.components.schemas.InferenceErrorBody.required).toEqual(['error']);
    for (const status of ['400', '404', '413', '415', '422'])
      expect(op.responses[status].content['application/json'].schema).toEqual({
        $ref: '#/components/schemas/InferenceErrorBody',
      });
    expect(op.description).toMatch(/\.derivative/);
    expect(op.description).toMatch(/output_layer/);
  });
});

/**
 * NVIDIA's tritonclient.http, replayed byte for byte on a raw socket: the requests its infer() writes
 * (src/python/library/tritonclient/http/_client.py and _utils.py of triton-inference-server/client, sent by
 * geventhttpclient). The body is json.dumps of the request (", " and ": " separators, floats as -3.0) and,
 * for binary inputs, their raw bytes after it. The headers are geventhttpclient's User-Agent, then the ones
 * infer() adds in its order (Content-Encoding, Accept-Encoding, Inference-Header-Content-Length), then Host
 * and Content-Length. There is no Content-Type: Triton ignores it, and the client never sends one.
 */
import { deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { defaultParams, findActivation, forwardTensor } from '../../src/core/activations/index.js';
import { exchange, parseResponse } from '../fuzz/raw-client.js';
import { buildTestApp } from '../support/app.js';

let app: App;
let port: number;
beforeAll(async () => {
  app = await buildTestApp();
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as { port: number }).port;
});
afterAll(() => app.close());

const z = [-3, -0.5, 0, 0.25, 1, 4];
const sigmoid = findActivation('sigmoid');
if (!sigmoid) throw new Error('the table has no sigmoid');
const expected = Array.from(forwardTensor(sigmoid, Float64Array.from(z), z.length, defaultParams(sigmoid)));

/** Python's json.dumps of a float list: every number with a decimal point. */
const pyFloats = (values: readonly number[]) =>
  `[${values.map((v) => (Number.isInteger(v) ? v.toFixed(1) : String(v))).join(', ')}]`;

function fp64(values: readonly number[]): Buffer {
  const out = Buffer.alloc(values.length * 8);
  values.forEach((v, i) => {
    out.writeDoubleLE(v, i * 8);
  });
  return out;
}

interface ClientCall {
  model: string;
  json: string;
  binary?: Buffer;
  compression?: 'gzip' | 'deflate';
  acceptEncoding?: 'gzip' | 'deflate';
}

/** The bytes tritonclient.http's infer() sends for this call. */
function tritonRequest(call: ClientCall): Buffer {
  const json = Buffer.from(call.json);
  let body = call.binary ? Buffer.concat([json, call.binary]) : json;
  const head = [
    `POST /v2/models/${call.model}/infer HTTP/1.1`,
    'user-agent: python/gevent-http-client-2.3.9',
  ];
  if (call.compression === 'gzip') body = gzipSync(body);
  // "Content-Encoding: deflate" is the zlib format (zlib.compress), as the client's comment says.
  if (call.compression === 'deflate') body = deflateSync(body);
  if (call.compression) head.push(`content-encoding: ${call.compression}`);
  if (call.acceptEncoding) head.push(`accept-encoding: ${call.acceptEncoding}`);
  if (call.binary) head.push(`inference-header-content-length: ${json.length}`);
  head.push(`host: 127.0.0.1:${port}`, `content-length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

async function send(call: ClientCall) {
  const { raw } = await exchange(port, tritonRequest(call), 10_000);
  const res = parseResponse(raw);
  if (!res) throw new Error(`no response: ${raw.toString('latin1').slice(0, 200)}`);
  return res;
}

/** The outputs of a reply with binary_data_output, read as the client's InferResult reads them. */
function binaryOutputs(res: { headers: Record<string, unknown>; body: Buffer }) {
  const length = Number(res.headers['inference-header-content-length']);
  const header = JSON.parse(res.body.subarray(0, length).toString()) as {
    outputs: { name: string; datatype: string; parameters: { binary_data_size: number } }[];
  };
  let at = length;
  const out = new Map<string, number[]>();
  for (const o of header.outputs) {
    const size = o.parameters.binary_data_size;
    const values: number[] = [];
    for (let i = 0; i < size / 8; i++) values.push(res.body.readDoubleLE(at + i * 8));
    out.set(o.name, values);
    at += size;
  }
  expect(at).toBe(res.body.length);
  return out;
}

describe('tritonclient.http infer, no Content-Type', () => {
  it('JSON inputs, every output binary (the default without requested outputs)', async () => {
    const res = await send({
      model: 'sigmoid',
      json: `{"inputs": [{"name": "z", "shape": [6], "datatype": "FP64", "data": ${pyFloats(z)}}], "parameters": {"binary_data_output": true}}`,
    });
    expect(res.status, res.body.toString()).toBe(200);
    expect(binaryOutputs(res).get('a')).toEqual(expected);
  });

  it('binary inputs after the JSON header, told apart by Inference-Header-Content-Length', async () => {
    const res = await send({
      model: 'sigmoid',
      json: '{"inputs": [{"name": "z", "shape": [6], "datatype": "FP64", "parameters": {"binary_data_size": 48}}], "parameters": {"binary_data_output": true}}',
      binary: fp64(z),
    });
    expect(res.status, res.body.toString()).toBe(200);
    expect(binaryOutputs(res).get('a')).toEqual(expected);
  });

  it('a requested JSON output', async () => {
    const res = await send({
      model: 'sigmoid',
      json: `{"inputs": [{"name": "z", "shape": [6], "datatype": "FP64", "data": ${pyFloats(z)}}], "outputs": [{"name": "a", "parameters": {"binary_data": false}}]}`,
    });
    expect(res.status, res.body.toString()).toBe(200);
    const reply = JSON.parse(res.body.toString()) as { outputs: { name: string; data: number[] }[] };
    expect(reply.outputs.map((o) => o.name)).toEqual(['a']);
    expect(reply.outputs[0].data).toEqual(expected);
  });

  it('a foreign Content-Type is still a 415, and a body-less request is still "missing"', async () => {
    const foreign = await app.inject({
      method: 'POST',
      url: '/v2/models/sigmoid/infer',
      headers: { 'content-type': 'text/plain' },
      payload: '{"inputs": []}',
    });
    expect(foreign.statusCode).toBe(415);
    expect(foreign.json()).toEqual({
      error: 'Content-Type "text/plain" is not supported: send application/json or application/octet-stream.',
    });
    const empty = await app.inject({ method: 'POST', url: '/v2/models/sigmoid/infer' });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error).toMatch(/body is missing/);
  });

  it('a body that is not an inference request is still refused by the schema', async () => {
    const res = await send({ model: 'sigmoid', json: '{"inputs": [], "bogus": 1}' });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body.toString()).error).toMatch(/bogus|inputs/);
  });
});

describe('tritonclient.http infer with request_compression_algorithm and response_compression_algorithm', () => {
  const binaryJson =
    '{"inputs": [{"name": "z", "shape": [6], "datatype": "FP64", "parameters": {"binary_data_size": 48}}], "parameters": {"binary_data_output": true}}';

  it.each(['gzip', 'deflate'] as const)('a %s body, JSON or binary', async (compression) => {
    const json = await send({
      model: 'sigmoid',
      json: `{"inputs": [{"name": "z", "shape": [6], "datatype": "FP64", "data": ${pyFloats(z)}}], "parameters": {"binary_data_output": true}}`,
      compression,
    });
    expect(json.status, json.body.toString()).toBe(200);
    expect(binaryOutputs(json).get('a')).toEqual(expected);
    const binary = await send({ model: 'sigmoid', json: binaryJson, binary: fp64(z), compression });
    expect(binary.status, binary.body.toString()).toBe(200);
    expect(binaryOutputs(binary).get('a')).toEqual(expected);
  });

  it.each([
    ['gzip', gunzipSync],
    ['deflate', inflateSync],
  ] as const)(
    'a %s JSON reply when Accept-Encoding asks and the reply is large enough',
    async (coding, inflate) => {
      const many = Array.from({ length: 1000 }, (_, i) => i / 100 - 5);
      const res = await send({
        model: 'sigmoid',
        json: `{"inputs": [{"name": "z", "shape": [${many.length}], "datatype": "FP64", "parameters": {"binary_data_size": ${many.length * 8}}}], "outputs": [{"name": "a", "parameters": {"binary_data": false}}]}`,
        binary: fp64(many),
        compression: coding,
        acceptEncoding: coding,
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-encoding']).toBe(coding);
      const reply = JSON.parse(inflate(res.body).toString()) as { outputs: { data: number[] }[] };
      expect(reply.outputs[0].data).toEqual(
        Array.from(forwardTensor(sigmoid, Float64Array.from(many), many.length, defaultParams(sigmoid))),
      );
    },
  );
});

describe('tritonclient.http repository index and statistics', () => {
  it('get_model_repository_index: a POST with no body and no Content-Length', async () => {
    const head = `POST /v2/repository/index HTTP/1.1\r\nuser-agent: python/gevent-http-client-2.3.9\r\nhost: 127.0.0.1:${port}\r\n\r\n`;
    const res = parseResponse((await exchange(port, Buffer.from(head, 'latin1'), 10_000)).raw);
    expect(res?.status).toBe(200);
    const names = (JSON.parse(res?.body.toString() ?? '[]') as { name: string }[]).map((m) => m.name);
    expect(names).toContain('sigmoid');
  });

  it('get_inference_statistics: GET v2/models/stats', async () => {
    const head = `GET /v2/models/stats HTTP/1.1\r\nuser-agent: python/gevent-http-client-2.3.9\r\nhost: 127.0.0.1:${port}\r\n\r\n`;
    const res = parseResponse((await exchange(port, Buffer.from(head, 'latin1'), 10_000)).raw);
    expect(res?.status).toBe(200);
    const stats = JSON.parse(res?.body.toString() ?? '{}') as {
      model_stats: { name: string; inference_count: number }[];
    };
    // The infer calls above, all on sigmoid.
    expect(stats.model_stats.find((m) => m.name === 'sigmoid')?.inference_count).toBeGreaterThan(0);
  });
});

/**
 * /v2 JSON in the worker pool: an app that sends every request to the pool (threshold 1: bodies parsed and
 * flattened there, jobs run and replies written there) against one that never does (threshold 0), byte for
 * byte, refusals included; and the pool's counts show where the work ran.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { buildPoolPair } from '../support/app.js';

let inline: App;
let offloaded: App;
beforeAll(async () => {
  ({ inline, offloaded } = await buildPoolPair());
});
afterAll(async () => {
  await Promise.all([inline.close(), offloaded.close()]);
});

const infer = (app: App, model: string, body: unknown) =>
  app.inject({
    method: 'POST',
    url: `/v2/models/${model}/infer`,
    headers: { 'content-type': 'application/json' },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });

async function same(model: string, body: unknown) {
  const [a, b] = await Promise.all([infer(inline, model, body), infer(offloaded, model, body)]);
  expect(b.statusCode, b.body).toBe(a.statusCode);
  expect(b.headers['content-type']).toBe(a.headers['content-type']);
  expect(b.headers['inference-header-content-length']).toBe(a.headers['inference-header-content-length']);
  expect(b.rawPayload.equals(a.rawPayload), `${b.body.slice(0, 200)}\n${a.body.slice(0, 200)}`).toBe(true);
  return b;
}

const z = Array.from({ length: 600 }, (_, i) => Math.sin(i) * 5);
const rows = Array.from({ length: 20 }, (_, r) => z.slice(r * 30, r * 30 + 30));

describe('/v2 JSON in the worker pool', () => {
  it('parses, flattens, runs and writes there: the counts say so, and the reply is the inline one', async () => {
    const before = { ...offloaded.offload.counts };
    const res = await same('softmax.jacobian', {
      id: 'x',
      inputs: [{ name: 'z', shape: [20, 30], datatype: 'FP64', data: rows }],
    });
    expect(res.statusCode).toBe(200);
    const after = offloaded.offload.counts;
    expect(after['parse-inference'] - before['parse-inference']).toBe(1);
    expect(after['job:inference-reply'] - before['job:inference-reply']).toBe(1);
    expect(inline.offload.counts['parse-inference']).toBe(0);
  });

  it('gives the same replies for flat, nested, FP32, binary and selected outputs', async () => {
    await same('sigmoid', { inputs: [{ name: 'z', shape: [600], datatype: 'FP64', data: z }] });
    await same('tanh', { inputs: [{ name: 'z', shape: [20, 30], datatype: 'FP32', data: rows }] });
    await same('tanh.derivative', {
      inputs: [{ name: 'z', shape: [600], datatype: 'FP64', data: z }],
      outputs: [
        { name: 'a', parameters: { binary_data: true } },
        { name: 'derivative', parameters: { datatype: 'FP32' } },
      ],
    });
    await same('softmax.vjp', {
      inputs: [
        { name: 'z', shape: [20, 30], datatype: 'FP64', data: z },
        { name: 'v', shape: [20, 30], datatype: 'FP64', data: rows },
      ],
      parameters: { binary_data_output: true },
    });
  });

  it('gives the same refusals, worded on the event loop', async () => {
    const bad = [
      { inputs: [{ name: 'z', shape: [601], datatype: 'FP64', data: z }] },
      { inputs: [{ name: 'z', shape: [600], datatype: 'FP64', data: [...z.slice(1), 'x'] }] },
      { inputs: [{ name: 'z', shape: [600], datatype: 'FP32', data: [...z.slice(1), 1e300] }] },
      { inputs: [{ name: 'z', shape: [30, 20], datatype: 'FP64', data: rows }] },
      { inputs: [{ name: 'z', shape: [600], datatype: 'INT32', data: z }] },
      { inputs: [{ name: 'q', shape: [600], datatype: 'FP64', data: z }] },
      {
        inputs: [{ name: 'z', shape: [600], datatype: 'FP64', data: z, parameters: { binary_data_size: 8 } }],
      },
      { inputs: [{ name: 'z', shape: [600], datatype: 'FP64', data: z }], extra: 1 },
      `{"inputs": [{"name": "z", "shape": [3], "datatype": "FP64", "data": [1, 2, 3]}]`,
    ];
    for (const body of bad) {
      const res = await same('sigmoid', body);
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
    }
  });
});

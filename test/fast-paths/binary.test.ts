/**
 * Binary tensors on /v1 (the Open Inference Protocol binary extension under the service's media type):
 * the same numbers as JSON, negotiated by Content-Type and Accept, and malformed bodies as 4xx problems.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { tensorMediaType } from '../../src/serialize/reply.js';
import { buildTestApp, expectProblem, post } from '../support/app.js';
import { decode, encode, sendBinary as send } from '../support/binary.js';

let app: App;
beforeAll(async () => {
  app = await buildTestApp();
});
afterAll(() => app.close());

const z = Float64Array.from({ length: 12 }, (_, i) => Math.sin(i * 7.1) * 5);

describe('binary tensors on /v1', () => {
  it('a binary forward request gets a binary reply with the numbers of the JSON reply', async () => {
    const url = '/v1/activations/sigmoid/forward';
    const json = (
      await post(app, url, { z: [Array.from(z.subarray(0, 6)), Array.from(z.subarray(6))] })
    ).json();
    const res = await send(app, url, encode({}, [{ name: 'z', data: z, shape: [2, 6] }], 3));
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe(tensorMediaType);
    expect(res.headers.vary).toMatch(/accept/i);
    const headerLength = Number(res.headers['inference-header-content-length']);
    expect(headerLength % 8).toBe(0);
    const { outputs } = decode(res.rawPayload, headerLength);
    expect(outputs.a.shape).toEqual([2, 6]);
    expect(outputs.a.data).toEqual(json.a.flat());
  });

  it('Accept picks the reply form, whatever the request form', async () => {
    const url = '/v1/activations/tanh/derivative';
    const binary = encode({}, [{ name: 'z', data: z, shape: [12] }]);
    const asJson = await send(app, url, binary, 'application/json');
    expect(asJson.headers['content-type']).toMatch(/^application\/json/);
    const expected = (await post(app, url, { z: Array.from(z) })).json();
    expect(asJson.json()).toEqual(expected);

    const fromJson = await post(
      app,
      url,
      { z: Array.from(z) },
      { accept: `${tensorMediaType}, application/json;q=0.5` },
    );
    expect(fromJson.headers['content-type']).toBe(tensorMediaType);
    const { outputs } = decode(
      fromJson.rawPayload,
      Number(fromJson.headers['inference-header-content-length']),
    );
    expect(outputs.derivative.data).toEqual(expected.derivative);
    expect(outputs.a.data).toEqual(expected.a);

    const wildcard = await post(app, url, { z: Array.from(z) }, { accept: '*/*' });
    expect(wildcard.headers['content-type']).toMatch(/^application\/json/);
  });

  it('the output layer takes several binary inputs (FP32 widened) and keeps loss in the header', async () => {
    const url = '/v1/gradients/output-layer';
    const x = Float32Array.of(0.5, -1);
    const weights = Float64Array.of(0.1, -0.2, 0.3, 0.4);
    const fields = { activation: 'sigmoid', bias: [0, 0.1] };
    const request = encode({ activation: 'sigmoid' }, [
      { name: 'x', data: x, shape: [2] },
      { name: 'weights', data: weights, shape: [2, 2] },
      { name: 'bias', data: Float64Array.of(0, 0.1), shape: [2] },
      { name: 'targets', data: Float64Array.of(1, 0), shape: [2] },
    ]);
    const res = await send(app, url, request);
    expect(res.statusCode, res.body).toBe(200);
    const { header, outputs } = decode(
      res.rawPayload,
      Number(res.headers['inference-header-content-length']),
    );
    const json = (
      await post(app, url, {
        ...fields,
        x: [0.5, -1],
        weights: [
          [0.1, -0.2],
          [0.3, 0.4],
        ],
        targets: [1, 0],
      })
    ).json();
    expect(header.loss).toBe(json.loss);
    expect(outputs.weightGradient.shape).toEqual([2, 2]);
    expect(outputs.weightGradient.data).toEqual(json.weightGradient.flat());
    expect(outputs.inputGradient.data).toEqual(json.inputGradient);
  });

  it('malformed binary bodies are 4xx problems', async () => {
    const url = '/v1/activations/relu/forward';
    const good = encode({}, [{ name: 'z', data: z, shape: [12] }]);
    // Sizes that disagree with the shape.
    expectProblem(await send(app, url, encode({}, [{ name: 'z', data: z, shape: [11] }])), 400);
    // A header length beyond the body.
    expectProblem(await send(app, url, { body: good.body, headerLength: good.body.length + 1 }), 400);
    // A tensor field the route does not have, and a field of the JSON body that is unknown.
    expectProblem(await send(app, url, encode({}, [{ name: 'q', data: z, shape: [12] }])), 400);
    expectProblem(await send(app, url, encode({ zz: 1 }, [{ name: 'z', data: z, shape: [12] }])), 400);
    // NaN has no place in a tensor.
    const nan = encode({}, [{ name: 'z', data: Float64Array.of(1, Number.NaN), shape: [2] }]);
    expectProblem(await send(app, url, nan), 400);
    // Three dimensions.
    expectProblem(await send(app, url, encode({}, [{ name: 'z', data: z, shape: [2, 2, 3] }])), 400);
  });

  it('MAX_ELEMENTS holds for binary tensors', async () => {
    const small = await buildTestApp({ maxElements: 10 });
    try {
      const res = await small.inject({
        method: 'POST',
        url: '/v1/activations/relu/forward',
        headers: {
          'content-type': tensorMediaType,
          'inference-header-content-length': String(
            encode({}, [{ name: 'z', data: z, shape: [12] }]).headerLength,
          ),
        },
        payload: encode({}, [{ name: 'z', data: z, shape: [12] }]).body,
      });
      expectProblem(res, 413, 'too-many-elements');
    } finally {
      await small.close();
    }
  });
});

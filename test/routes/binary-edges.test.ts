/**
 * Binary tensor requests on /v1 at their edges: inline FP32 data read as float32 (as /v2 reads it), and
 * Accept ranges with q=0, which refuse a form outright.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { tensorMediaType } from '../../src/plugins/binary-tensor.js';
import { buildTestApp, expectProblem, post } from '../support/app.js';

let app: App;
beforeAll(async () => {
  app = await buildTestApp({ maxEventLoopDelayMs: 0 });
});
afterAll(() => app.close());

const forward = '/v1/activations/sigmoid/forward';

/** A binary request whose header carries the tensor inline (no bytes after it). */
function inlineRequest(datatype: string, data: number[], accept?: string) {
  const header = JSON.stringify({ inputs: [{ name: 'z', shape: [data.length], datatype, data }] });
  return app.inject({
    method: 'POST',
    url: forward,
    headers: {
      'content-type': tensorMediaType,
      'inference-header-content-length': String(Buffer.byteLength(header)),
      ...(accept ? { accept } : {}),
    },
    payload: header,
  });
}

describe('inline FP32 data in a /v1 binary header', () => {
  it('1e300 declared FP32 is refused as beyond the FP32 range, as /v2 refuses it', async () => {
    const problem = expectProblem(await inlineRequest('FP32', [0, 1e300], 'application/json'), 400);
    expect(problem.errors).toEqual([
      {
        path: '/inputs/0/data/1',
        message: 'must be a finite number within the FP32 range (±3.4028234663852886e38) (got 1e+300)',
      },
    ]);
    const v2 = await app.inject({
      method: 'POST',
      url: '/v2/models/sigmoid/infer',
      headers: { 'content-type': 'application/json' },
      payload: { inputs: [{ name: 'z', shape: [2], datatype: 'FP32', data: [0, 1e300] }] },
    });
    expect(v2.statusCode).toBe(400);
    expect(v2.json().error).toMatch(/FP32 range/);
  });

  it('is read as float32: 0.1 declared FP32 computes from Math.fround(0.1); FP64 keeps 1e300', async () => {
    const fp32 = await inlineRequest('FP32', [0.1], 'application/json');
    const expected = await post(app, forward, { z: [Math.fround(0.1)] });
    expect(fp32.json()).toEqual(expected.json());
    expect((await inlineRequest('FP64', [1e300], 'application/json')).json()).toEqual({ a: [1] });
  });
});

describe('Accept with q=0 refuses a form', () => {
  it(`a binary request with Accept: ${tensorMediaType};q=0 gets JSON`, async () => {
    const res = await inlineRequest('FP64', [0], `${tensorMediaType};q=0`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ a: [0.5] });
  });

  it('a JSON request with Accept: application/json;q=0 gets binary; */*;q=0 alone changes nothing', async () => {
    const binary = await post(app, forward, { z: [0] }, { accept: 'application/json;q=0' });
    expect(binary.headers['content-type']).toBe(tensorMediaType);
    const json = await post(app, forward, { z: [0] }, { accept: '*/*;q=0' });
    expect(json.headers['content-type']).toMatch(/^application\/json/);
  });

  it('preferences still pick the form: binary q=0.5 over json q=0.2, and the request form on a tie', async () => {
    const binary = await post(
      app,
      forward,
      { z: [0] },
      { accept: `application/json;q=0.2, ${tensorMediaType};q=0.5` },
    );
    expect(binary.headers['content-type']).toBe(tensorMediaType);
    const tie = await inlineRequest('FP64', [0], `application/json, ${tensorMediaType}`);
    expect(tie.headers['content-type']).toBe(tensorMediaType);
  });
});

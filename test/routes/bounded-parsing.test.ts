/**
 * Bounded JSON parsing on /v1 (src/codec/bounded-json.ts behind the JSON content-type parser): malformed
 * JSON says where, bodies beyond a parsing limit are refused before they are built (on the event loop and in
 * the worker pool), prototype keys are refused. The transport cases run against a real listening server.
 */
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { jsonLimits } from '../../src/codec/bounded-json.js';
import { defaultConfig } from '../../src/config.js';
import { expectProblem, post } from '../support/app.js';

// No load shedding: a test that measures memory must not be answered 503 by a busy loop's sample.
const config = { ...defaultConfig, logLevel: 'silent' as const, maxEventLoopDelayMs: 0 };
let inline: App;
let offloaded: App;
let base: string;
beforeAll(async () => {
  inline = await buildApp(config, { logger: false, offload: { threshold: 0, threads: 1 } });
  // Every body goes to the pool: the worker's parser must refuse what the event loop's refuses.
  offloaded = await buildApp(config, { logger: false, offload: { threshold: 1, threads: 1 } });
  await offloaded.ready();
  await inline.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(inline.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await Promise.all([inline.close(), offloaded.close()]);
});

const forward = '/v1/activations/sigmoid/forward';
const elu = '/v1/activations/elu/forward';

async function stillAnswers(app: App) {
  const res = await post(app, forward, { z: [0] });
  expect(res.statusCode).toBe(200);
  expect(res.json()).toEqual({ a: [0.5] });
}

describe('malformed JSON says where and what was expected', () => {
  for (const [name, app] of [
    ['event loop', () => inline],
    ['worker pool', () => offloaded],
  ] as const)
    it(`{"z": [1, 2,]}: line, column, byte and the expected token (${name})`, async () => {
      const problem = expectProblem(await post(app(), forward, '{"z": [1, 2,]}'), 400, 'malformed-json');
      expect(problem.detail).toBe(
        "The body is not valid JSON: expected a value (a trailing comma is not allowed), found ']' at line 1, column 13 (byte 12).",
      );
      const multiline = expectProblem(await post(app(), forward, '{\n  "z": [1, 2]\n  "params": {}\n}'), 400);
      expect(multiline.detail).toContain("expected ',' or '}', found '\"' at line 3, column 3 (byte 18)");
      await stillAnswers(app());
    });

  it('does not echo the body: a 1 MB bad token gives a short detail', async () => {
    const res = await post(inline, forward, `{"z": [${'x'.repeat(1_000_000)}]}`);
    expect(expectProblem(res, 400, 'malformed-json').detail.length).toBeLessThan(200);
  });
});

describe('parsing limits: a 400 naming the limit, before the body is built', () => {
  const { maxDepth, maxKeysPerObject, maxStringBytes } = jsonLimits;

  it(`a tensor nested ${maxDepth + 1} deep is refused; a batch at depth 3 is not`, async () => {
    const deep = `{"z": ${'['.repeat(maxDepth + 1)}0${']'.repeat(maxDepth + 1)}}`;
    const problem = expectProblem(await post(inline, forward, deep), 400, 'structure-limit');
    expect(problem.detail).toMatch(/nesting deeper than 32 \(the limit of nesting depth/);
    expect((await post(inline, forward, { z: [[0], [1]] })).statusCode).toBe(200);
  });

  it('{"z": + 4,000,000 [ (8 MB) over HTTP: a 400 naming the depth limit, memory flat, health answers', async () => {
    const depth = 4_000_000;
    const body = Buffer.alloc(5 + 2 * depth + 1);
    body.write('{"z":');
    body.fill('[', 5, 5 + depth);
    body.fill(']', 5 + depth, 5 + 2 * depth);
    body.write('}', 5 + 2 * depth);
    const peakBefore = process.resourceUsage().maxRSS * 1024;
    const [res, health] = await Promise.all([
      request(`${base}${forward}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
      request(`${base}/healthz`),
    ]);
    const problem = (await res.body.json()) as { type: string; detail: string };
    expect(res.statusCode).toBe(400);
    expect(problem.type).toBe('urn:gradient-service:problem:structure-limit');
    expect(problem.detail).toContain('(byte 36)');
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    // Today's main built the nested arrays: +500 MB of peak RSS for this body. Bounded parsing adds at most
    // a few copies of the 8 MB body (client, socket, Buffer).
    const grown = process.resourceUsage().maxRSS * 1024 - peakBefore;
    expect(grown).toBeLessThan(80 * 1024 * 1024);
  });

  it('12 MB of empty arrays over HTTP: a 400 naming the container limit, memory flat', async () => {
    // In rows of 1000: one flat array of four million is refused sooner, as more items than MAX_ELEMENTS (413).
    const row = `[${'[],'.repeat(999)}[]]`;
    const body = Buffer.from(`{"z":[${`${row},`.repeat(3999)}${row}]}`);
    const peakBefore = process.resourceUsage().maxRSS * 1024;
    const res = await request(`${base}${forward}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    const problem = (await res.body.json()) as { type: string; detail: string };
    expect(res.statusCode).toBe(400);
    expect(problem.type).toBe('urn:gradient-service:problem:structure-limit');
    expect(problem.detail).toMatch(/more than 1,048,576 arrays and objects/);
    // Today's main built four million arrays: +500 MB of peak RSS.
    expect(process.resourceUsage().maxRSS * 1024 - peakBefore).toBeLessThan(100 * 1024 * 1024);
  });

  it('the same body in the worker pool: refused there, the pool still answers', async () => {
    const body = `{"z":[0.5],"params":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}${' '.repeat(800_000)}}`;
    expectProblem(await post(offloaded, elu, body), 400, 'structure-limit');
    const res = await post(offloaded, forward, { z: Array.from({ length: 1000 }, () => 0) });
    expect(res.statusCode).toBe(200);
  });

  it(`200,000 unknown params keys: a small 400 naming the key limit (${maxKeysPerObject} per object)`, async () => {
    const keys = Array.from({ length: 200_000 }, (_, i) => `"k${i}":1`).join(',');
    for (const app of [inline, offloaded]) {
      const res = await post(app, elu, `{"z":[1],"params":{${keys}}}`);
      const problem = expectProblem(res, 400, 'structure-limit');
      expect(problem.detail).toMatch(/more than 1000 keys in one object/);
      expect(res.body.length).toBeLessThan(1024);
    }
  });

  it(`a string longer than ${maxStringBytes} bytes is refused, one of that length is not`, async () => {
    const at = (n: number) => `{"z":[1],"params":{"${'a'.repeat(n)}":1}}`;
    expectProblem(await post(inline, elu, at(maxStringBytes + 1)), 400, 'structure-limit');
    // Exactly at the limit, the parser lets it through and the schema refuses the unknown parameter.
    expectProblem(await post(inline, elu, at(maxStringBytes)), 400, 'invalid-request');
  });

  it('a __proto__ or constructor key is refused and pollutes nothing', async () => {
    for (const app of [inline, offloaded])
      for (const key of ['__proto__', '\\u005f_proto__', 'constructor']) {
        const res = await post(app, elu, `{"z":[1],"params":{"${key}":{"polluted":1}}}`);
        const problem = expectProblem(res, 400, 'invalid-request');
        expect(problem.detail).toMatch(/"(__proto__|constructor)" is not allowed/);
      }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a duplicate key: the last one wins, as in JSON.parse', async () => {
    const res = await post(inline, forward, '{"z": [100], "z": [0]}');
    expect(res.json()).toEqual({ a: [0.5] });
  });
});

describe('binary bodies: the JSON header is parsed with the same limits', () => {
  const tensorType = 'application/vnd.gradient-service.tensor+octet-stream';
  const binary = (header: string) =>
    inline.inject({
      method: 'POST',
      url: forward,
      headers: { 'content-type': tensorType, 'inference-header-content-length': String(header.length) },
      payload: header,
    });

  it('a header nested 100 deep: 400 structure-limit', async () => {
    const header = `{"x":${'['.repeat(100)}${']'.repeat(100)},"inputs":[]}`;
    const problem = expectProblem(await binary(header), 400, 'structure-limit');
    expect(problem.detail).toMatch(
      /^The JSON header \(the first \d+ bytes\) is beyond a parsing limit: nesting/,
    );
  });

  it('a malformed header says where', async () => {
    const problem = expectProblem(await binary('{"inputs": [,]}'), 400, 'malformed-json');
    expect(problem.detail).toContain(
      "expected a value (an object, array, string, number, true, false or null), found ','",
    );
    expect(problem.detail).toContain('(byte 12)');
  });

  it(`a shape of 5,000 dimensions: 400 naming the rank limit (${jsonLimits.maxRank})`, async () => {
    const header = JSON.stringify({
      inputs: [{ name: 'z', shape: Array(5000).fill(1), datatype: 'FP64', data: [0] }],
    });
    const problem = expectProblem(await binary(header), 400, 'structure-limit');
    expect(problem.detail).toMatch(/^The shape of inputs\[0\] has 5000 dimensions; at most 16 are allowed/);
  });
});

describe('/v2: the same limits, as { error }', () => {
  const infer = (body: string) =>
    inline.inject({
      method: 'POST',
      url: '/v2/models/sigmoid/infer',
      headers: { 'content-type': 'application/json' },
      payload: body,
    });
  const input = (fields: string) => `{"inputs":[{"name":"z","datatype":"FP64",${fields}}]}`;
  const nested = (depth: number) => `${'['.repeat(depth)}0${']'.repeat(depth)}`;

  async function expectV2Error(body: string, pattern: RegExp) {
    const res = await infer(body);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const { error } = res.json() as { error: string };
    expect(error).toMatch(pattern);
    expect(res.body.length).toBeLessThan(1024);
  }

  it('data nested 10,000 deep: 400 naming the depth limit (was a 500: stack overflow)', async () => {
    await expectV2Error(
      input(`"shape":[1],"data":${nested(10_000)}`),
      /beyond a parsing limit: nesting deeper than 32/,
    );
  });

  it('[0, <one element nested 5,000 deep>]: 400 (was a 500)', async () => {
    await expectV2Error(input(`"shape":[2],"data":[0,${nested(5_000)}]`), /nesting deeper than 32/);
  });

  it(`a shape of 5,000 dimensions: 400 naming the rank limit (was accepted); rank ${jsonLimits.maxRank} is fine`, async () => {
    await expectV2Error(
      input(`"shape":[${Array(5000).fill(1).join(',')}],"data":[0]`),
      /^The shape of inputs\[0\] has 5000 dimensions; at most 16 are allowed/,
    );
    const res = await infer(input(`"shape":[${Array(jsonLimits.maxRank).fill(1).join(',')}],"data":[0]`));
    expect(res.statusCode, res.body).toBe(200);
  });

  it('100,000 unknown parameters: a small 400 (was a 5.5 MB error string)', async () => {
    const parameters = Array.from({ length: 100_000 }, (_, i) => `"p${i}":1`).join(',');
    await expectV2Error(
      `{"parameters":{${parameters}},"inputs":[{"name":"z","datatype":"FP64","shape":[1],"data":[0]}]}`,
      /more than 1000 keys in one object/,
    );
  });

  it('malformed JSON says where', async () => {
    await expectV2Error(
      '{"inputs": [1, 2,]}',
      /not valid JSON: expected a value .* at line 1, column 18 \(byte 17\)/,
    );
  });
});

/**
 * The fuzz suite's own checks catch what they claim to: each property rejects an answer that breaks it and
 * accepts one that keeps it, the surface is read from the path as the router sees it, and the heap bound fails
 * a session that keeps request-sized buffers alive.
 */
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { type Answer, maxErrorBodyBytes, refusedMediaType, violations } from './properties.js';
import { parseResponse } from './raw-client.js';
import { surfaceOf } from './routes.js';
import { fuzzSession } from './suite.js';

const answer = (status: number, contentType: string, body: string): Answer => ({
  status,
  headers: { 'content-type': contentType },
  body: Buffer.from(body),
  bodyBytes: Buffer.byteLength(body),
});
const problem = (status: number) =>
  JSON.stringify({ type: 'urn:x', title: 'Bad Request', status, detail: 'why', instance: '/v1/x' });

describe('the fuzz properties', () => {
  it('accept a problem+json error outside /v2 and an { error } under /v2', () => {
    expect(
      violations('POST', '/v1/softmax/vjp', answer(400, 'application/problem+json', problem(400))),
    ).toEqual([]);
    expect(
      violations('POST', '/v2/models/x/infer', answer(404, 'application/json', '{"error":"no model x"}')),
    ).toEqual([]);
  });

  it('reject a 5xx, whatever its shape', () => {
    expect(violations('GET', '/healthz', answer(500, 'application/problem+json', problem(500)))).toHaveLength(
      1,
    );
    expect(violations('GET', '/v2', answer(503, 'application/json', '{"error":"x"}'))).toHaveLength(1);
  });

  it('reject the other surface shape, a status that disagrees, a missing field', () => {
    expect(
      violations('GET', '/v1/x', answer(404, 'application/json', '{"error":"x"}')).length,
    ).toBeGreaterThan(0);
    expect(
      violations('GET', '/v2/x', answer(404, 'application/problem+json', problem(404))).length,
    ).toBeGreaterThan(0);
    expect(violations('GET', '/v1/x', answer(404, 'application/problem+json', problem(400)))).toHaveLength(1);
    const noDetail = JSON.stringify({ type: 'urn:x', title: 'Not Found', status: 404 });
    expect(violations('GET', '/v1/x', answer(404, 'application/problem+json', noDetail))).toHaveLength(1);
    expect(
      violations('GET', '/v2/x', answer(404, 'application/json', '{"error":"x","code":1}')),
    ).toHaveLength(1);
    expect(violations('GET', '/v1/x', answer(417, '', ''))).not.toHaveLength(0);
  });

  it('reject an error body of 16 KB or more', () => {
    const long = JSON.stringify({ error: 'x'.repeat(maxErrorBodyBytes) });
    expect(violations('POST', '/v2/models/x/infer', answer(400, 'application/json', long))).toHaveLength(1);
  });

  it('reject a 2xx with null or a non-finite number in its JSON, or NaN in an SVG', () => {
    expect(violations('POST', '/v1/x', answer(200, 'application/json', '{"a":[1,null]}'))).toHaveLength(1);
    expect(violations('POST', '/v1/x', answer(200, 'application/json', '{"a":[1e400]}'))).toHaveLength(1);
    expect(
      violations('GET', '/v1/x/plot.svg', answer(200, 'image/svg+xml', '<path d="M0 NaN"/>')),
    ).toHaveLength(1);
    expect(violations('POST', '/v1/x', answer(200, 'application/json', '{"a":[1,-0,5e-324]}'))).toEqual([]);
  });

  it('judge a compressed body as the client reads it, decoded from its Content-Encoding', () => {
    const gzipped = (status: number, json: string): Answer => {
      const body = gzipSync(json);
      return {
        status,
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body,
        bodyBytes: body.length,
      };
    };
    expect(violations('GET', '/v2/models/stats', gzipped(200, '{"model_stats":[]}'))).toEqual([]);
    expect(violations('POST', '/v1/activations/sigmoid/forward', gzipped(200, '{"a":[null]}'))).toEqual([
      'a 200 with a non-number in its JSON: /a/0 is null',
    ]);
    expect(violations('POST', '/v2/models/x/infer', gzipped(404, '{"error":"no model x"}'))).toEqual([]);
  });

  it('reject a 2xx in a media type the Accept header refused with q=0', () => {
    const binary = answer(200, 'application/vnd.gradient-service.tensor+octet-stream', '');
    expect(
      refusedMediaType('application/vnd.gradient-service.tensor+octet-stream;q=0', binary),
    ).toBeDefined();
    expect(
      refusedMediaType('application/vnd.gradient-service.tensor+octet-stream;q=0.5', binary),
    ).toBeUndefined();
    expect(refusedMediaType('application/json;q=0', binary)).toBeUndefined();
  });

  it('read the surface from the path, either shape for an encoded /v2 prefix', () => {
    expect(surfaceOf('/v2')).toBe('v2');
    expect(surfaceOf('/v2?x=1')).toBe('v2');
    expect(surfaceOf('/%762/models')).toBe('either');
    expect(surfaceOf('/v2x')).toBe('other');
    expect(surfaceOf('//v2/models')).toBe('other');
    expect(surfaceOf('/v2%2Fmodels')).toBe('other');
    // Either shape for an encoded prefix, but one of the two.
    expect(violations('GET', '/%762/x', answer(404, 'application/problem+json', problem(404)))).toEqual([]);
    expect(violations('GET', '/%762/x', answer(404, 'application/json', '{"error":"x"}'))).toEqual([]);
    expect(violations('GET', '/%762/x', answer(404, 'text/plain', 'x'))).toHaveLength(1);
  });

  it('read the final response after an interim 100 Continue on a raw socket', () => {
    const raw = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}';
    expect(parseResponse(Buffer.from(raw))).toMatchObject({ status: 400, complete: true });
    expect(parseResponse(Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'))).toBeUndefined();
  });

  it('fail a session that keeps 100 MB of request-sized buffers alive (the heap bound)', async () => {
    const kept: Buffer[] = [];
    await expect(
      fuzzSession(async () => {
        for (let i = 0; i < 100; i++) kept.push(Buffer.alloc(1 << 20, 1));
      }),
    ).rejects.toThrow(/retained memory grew/);
    expect(kept).toHaveLength(100);
  }, 120_000);
});

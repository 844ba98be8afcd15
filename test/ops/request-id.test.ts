import { describe, expect, it } from 'vitest';
import { genReqId, nextRequestId } from '../../src/plugins/request-id.js';

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('generated request ids', () => {
  it('are UUID-shaped (version 4, RFC variant) and all distinct', () => {
    const ids = Array.from({ length: 5000 }, () => nextRequestId());
    for (const id of ids) expect(id).toMatch(uuidV4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('share one random prefix per process and count in the last 12 digits', () => {
    const [a, b] = [nextRequestId(), nextRequestId()];
    expect(a.slice(0, 24)).toBe(b.slice(0, 24));
    expect(Number.parseInt(b.slice(24), 16) - Number.parseInt(a.slice(24), 16)).toBe(1);
  });

  it('are used when the incoming header is missing or not an acceptable id', () => {
    const request = (id?: string) => ({ headers: id === undefined ? {} : { 'x-request-id': id } }) as never;
    expect(genReqId(request())).toMatch(uuidV4);
    expect(genReqId(request('has space'))).toMatch(uuidV4);
    expect(genReqId(request('trace-1'))).toBe('trace-1');
  });
});

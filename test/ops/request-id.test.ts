import { describe, expect, it } from 'vitest';
import { genReqId, newRequestId } from '../../src/plugins/request-id.js';

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('generated request ids', () => {
  it('are UUID-shaped (version 4, RFC variant) and all distinct', () => {
    const ids = Array.from({ length: 5000 }, () => newRequestId());
    for (const id of ids) expect(id).toMatch(uuidV4);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('reveal nothing of how many requests came before: no two share a prefix, none follows another', () => {
    // A counter-based id (a per-process prefix and a count) tells anyone the process's traffic.
    const ids = Array.from({ length: 2000 }, () => newRequestId());
    expect(new Set(ids.map((id) => id.slice(0, 13))).size).toBe(ids.length);
    const tails = ids.map((id) => Number.parseInt(id.slice(24), 16));
    expect(tails.slice(1).filter((tail, i) => Math.abs(tail - tails[i]) < 1000)).toEqual([]);
  });

  it('are used when the incoming header is missing or not an acceptable id', () => {
    const request = (id?: string) => ({ headers: id === undefined ? {} : { 'x-request-id': id } }) as never;
    expect(genReqId(request())).toMatch(uuidV4);
    expect(genReqId(request('has space'))).toMatch(uuidV4);
    expect(genReqId(request('trace-1'))).toBe('trace-1');
  });
});

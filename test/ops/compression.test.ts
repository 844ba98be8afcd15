/**
 * Content codings: compressed request bodies decoded on /v1 and /v2 (bounded by BODY_LIMIT once decoded),
 * unknown codings and corrupt data refused, replies compressed when Accept-Encoding allows.
 */
import { getDefaultHighWaterMark, Readable } from 'node:stream';
import {
  brotliCompressSync,
  brotliDecompressSync,
  createGzip,
  deflateSync,
  gunzipSync,
  gzipSync,
  inflateSync,
} from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../../src/app.js';
import { defaultConfig } from '../../src/config.js';
import { PayloadTooLargeError } from '../../src/errors.js';
import { tensorMediaType } from '../../src/plugins/binary-tensor.js';
import { decodeBody } from '../../src/plugins/compression.js';
import { buildTestApp, expectProblem } from '../support/app.js';

let app: App;
beforeAll(async () => {
  app = await buildTestApp({ bodyLimit: 1 << 20 });
});
afterAll(() => app.close());

const encoders = { gzip: gzipSync, deflate: deflateSync, br: brotliCompressSync } as const;
const decoders = { gzip: gunzipSync, deflate: inflateSync, br: brotliDecompressSync } as const;
type Coding = keyof typeof encoders;
const codings = Object.keys(encoders) as Coding[];

const v1Body = JSON.stringify({ z: [-2, 0, 2] });
const v2Body = JSON.stringify({ inputs: [{ name: 'z', shape: [3], datatype: 'FP64', data: [-2, 0, 2] }] });

function send(url: string, body: Buffer, headers: Record<string, string>) {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', ...headers },
    payload: body,
  });
}

/** A gzip of `size` zero bytes, written in 1 MiB steps (the whole never exists in memory). */
async function zeroBomb(size: number): Promise<Buffer> {
  const gzip = createGzip({ level: 9 });
  const chunks: Buffer[] = [];
  gzip.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((resolve) => gzip.on('end', resolve));
  const step = Buffer.alloc(1 << 20);
  for (let left = size; left > 0; left -= step.length) {
    if (!gzip.write(left >= step.length ? step : step.subarray(0, left)))
      await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await done;
  return Buffer.concat(chunks);
}

describe('compressed request bodies', () => {
  it.each(codings)('%s on /v1 and /v2 gives the answer of the plain body', async (coding) => {
    const plainV1 = await send('/v1/activations/sigmoid/forward', Buffer.from(v1Body), {});
    const coded = await send('/v1/activations/sigmoid/forward', encoders[coding](v1Body), {
      'content-encoding': coding,
    });
    expect(coded.statusCode, coded.body).toBe(200);
    expect(coded.json()).toEqual(plainV1.json());

    const plainV2 = await send('/v2/models/sigmoid/infer', Buffer.from(v2Body), {});
    const codedV2 = await send('/v2/models/sigmoid/infer', encoders[coding](v2Body), {
      'content-encoding': coding,
    });
    expect(codedV2.statusCode, codedV2.body).toBe(200);
    expect(codedV2.json()).toEqual(plainV2.json());
  });

  it('undoes a list of codings last to first, and takes identity and x-gzip', async () => {
    const twice = encoders.br(encoders.gzip(v1Body));
    const res = await send('/v1/activations/sigmoid/forward', twice, { 'content-encoding': 'gzip, br' });
    expect(res.statusCode, res.body).toBe(200);
    const alias = await send('/v1/activations/sigmoid/forward', encoders.gzip(v1Body), {
      'content-encoding': 'identity, X-Gzip',
    });
    expect(alias.statusCode, alias.body).toBe(200);
  });

  it('refuses another coding with a 415 naming the supported ones, on both surfaces', async () => {
    const v1 = await send('/v1/activations/sigmoid/forward', Buffer.from(v1Body), {
      'content-encoding': 'compress',
    });
    const problem = expectProblem(v1, 415, 'unsupported-content-encoding');
    expect(problem.detail).toBe(
      'Content-Encoding "compress" is not supported: send gzip, deflate, br or no Content-Encoding.',
    );
    const v2 = await send('/v2/models/sigmoid/infer', Buffer.from(v2Body), { 'content-encoding': 'zstd' });
    expect(v2.statusCode).toBe(415);
    expect(v2.json().error).toMatch(/"zstd" is not supported: send gzip, deflate, br/);
  });

  it('refuses a plain body labelled br, and a corrupt or truncated gzip, with a 400', async () => {
    const labelled = await send('/v1/activations/sigmoid/forward', Buffer.from(v1Body), {
      'content-encoding': 'br',
    });
    expect(expectProblem(labelled, 400, 'malformed-encoding').detail).toMatch(/not valid br data/);

    const gz = encoders.gzip(v1Body);
    const corrupt = Buffer.from(gz);
    corrupt[12] ^= 0xff;
    const bad = await send('/v1/activations/sigmoid/forward', corrupt, { 'content-encoding': 'gzip' });
    expect(expectProblem(bad, 400, 'malformed-encoding').detail).toMatch(/not valid gzip data/);
    const truncated = await send('/v2/models/sigmoid/infer', encoders.gzip(v2Body).subarray(0, 20), {
      'content-encoding': 'gzip',
    });
    expect(truncated.statusCode).toBe(400);
    expect(truncated.json().error).toMatch(/not valid gzip data/);
  });

  it('answers a decompression bomb with a 413 after BODY_LIMIT bytes, on both surfaces', async () => {
    // 64 MiB of zeros in about 64 KiB: well under BODY_LIMIT (1 MiB here) as sent, 64 times over it decoded.
    const bomb = await zeroBomb(64 << 20);
    expect(bomb.length).toBeLessThan(1 << 20);
    for (const url of ['/v1/activations/sigmoid/forward', '/v2/models/sigmoid/infer']) {
      const res = await send(url, bomb, { 'content-encoding': 'gzip' });
      expect(res.statusCode).toBe(413);
      expect(res.body).toMatch(
        /larger than the limit of 1048576 bytes \(BODY_LIMIT\) once decoded from gzip/,
      );
    }
  });

  it('stops inflating a bomb at the limit: most of its compressed bytes are never read', async () => {
    const bomb = await zeroBomb(256 << 20);
    // Handed over in 1 KiB pieces, as a socket would, and read only as fast as the decoder takes them.
    const source = Readable.from(
      (function* () {
        for (let at = 0; at < bomb.length; at += 1024) yield bomb.subarray(at, at + 1024);
      })(),
    );
    const decoded = decodeBody(source, ['gzip'], 1 << 20);
    let inflated = 0;
    let readWhenStopped = Number.NaN;
    const error = await new Promise<unknown>((resolve) => {
      decoded.on('data', (chunk: Buffer) => {
        inflated += chunk.length;
      });
      decoded.on('error', (e) => {
        readWhenStopped = decoded.receivedEncodedLength;
        resolve(e);
      });
      decoded.on('end', () => resolve(undefined));
    });
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(inflated).toBeLessThanOrEqual(1 << 20);
    // Fully inflated, the 256 MiB would need all of the bomb; stopped at 1 MiB, what was read is the 1 KiB
    // that inflates to it and what stream buffers hold: a few of node's default high-water marks (16 KiB on
    // Node 20, 64 KiB on Node 24, where this read 65,536 bytes).
    expect(readWhenStopped).toBeLessThanOrEqual(4 * getDefaultHighWaterMark(false) + 8192);
    expect(readWhenStopped).toBeLessThan(bomb.length / 2);
  });

  it('checks Content-Length against the bytes received, not the decoded ones', async () => {
    const gz = encoders.gzip(v1Body);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/activations/sigmoid/forward',
      headers: {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'content-length': String(gz.length),
      },
      payload: gz,
    });
    expect(res.statusCode, res.body).toBe(200);
  });
});

describe('compressed replies', () => {
  const large = { z: Array.from({ length: 2000 }, (_, i) => i / 1000 - 1) };

  it.each(codings)('compresses a large JSON reply with %s when Accept-Encoding asks', async (coding) => {
    const plain = await send('/v1/activations/sigmoid/forward', Buffer.from(JSON.stringify(large)), {});
    const res = await send('/v1/activations/sigmoid/forward', Buffer.from(JSON.stringify(large)), {
      'accept-encoding': coding,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-encoding']).toBe(coding);
    expect(res.headers.vary).toMatch(/accept-encoding/);
    expect(res.rawPayload.length).toBeLessThan(plain.rawPayload.length);
    expect(JSON.parse(decoders[coding](res.rawPayload).toString())).toEqual(plain.json());
  });

  it('compresses the reply of an async route whole (the network gradients), not an empty body', async () => {
    const width = 40;
    const weights = Array.from({ length: width }, (_, j) =>
      Array.from({ length: width }, (_, k) => Math.sin(j * width + k) / width),
    );
    const body = JSON.stringify({
      x: Array.from({ length: width }, (_, j) => j / width),
      layers: [{ weights, activation: 'tanh' }],
      targets: Array.from({ length: width }, () => 0.5),
    });
    const plain = await send('/v1/gradients/network', Buffer.from(body), {});
    expect(plain.statusCode, plain.body).toBe(200);
    // Past @fastify/compress's synchronous size: compressed as a stream, after the handler's promise settled.
    expect(plain.rawPayload.length).toBeGreaterThan(16_384);
    const res = await send('/v1/gradients/network', Buffer.from(body), { 'accept-encoding': 'gzip' });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(res.rawPayload).toString()).toBe(plain.body);
  });

  it('leaves small replies, and clients that do not ask, uncompressed', async () => {
    const small = await send('/v1/activations/sigmoid/forward', Buffer.from(v1Body), {
      'accept-encoding': 'gzip',
    });
    expect(small.headers['content-encoding']).toBeUndefined();
    const none = await send('/v1/activations/sigmoid/forward', Buffer.from(JSON.stringify(large)), {});
    expect(none.headers['content-encoding']).toBeUndefined();
  });

  it('compresses JSON replies the worker pool writes, and leaves binary tensor replies alone', async () => {
    const config = { ...defaultConfig, logLevel: 'silent' as const, maxEventLoopDelayMs: 0 };
    const pooled = await buildApp(config, { logger: false, offload: { threshold: 1, threads: 1 } });
    try {
      const forward = (target: App, accept: string) =>
        target.inject({
          method: 'POST',
          url: '/v1/activations/sigmoid/forward',
          headers: { 'content-type': 'application/json', accept, 'accept-encoding': 'gzip' },
          payload: JSON.stringify(large),
        });
      const inline = await forward(app, 'application/json');
      const json = await forward(pooled, 'application/json');
      expect(json.statusCode).toBe(200);
      expect(json.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(json.rawPayload).toString()).toBe(gunzipSync(inline.rawPayload).toString());

      // float64 bytes gain about 6% from gzip (docs/compression.md): not worth the time.
      for (const target of [app, pooled]) {
        const binary = await forward(target, tensorMediaType);
        expect(binary.statusCode).toBe(200);
        expect(binary.headers['content-type']).toBe(tensorMediaType);
        expect(binary.headers['content-encoding']).toBeUndefined();
        const headerLength = Number(binary.headers['inference-header-content-length']);
        expect(binary.rawPayload.length).toBe(headerLength + large.z.length * 8);
        expect(binary.rawPayload.readDoubleLE(headerLength)).toBe(1 / (1 + Math.exp(1)));
      }
    } finally {
      await pooled.close();
    }
  });
});

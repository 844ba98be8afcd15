/**
 * Lingering close: an answer sent while the body is still arriving (a 413 from Content-Length, a 401) is
 * followed by reading and discarding the rest of the body, bounded in bytes and time, so that a client still
 * uploading reads the answer instead of a reset (EPIPE), and the connection stays usable.
 */
import type { AddressInfo } from 'node:net';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, GradientServiceError } from '../../packages/client/src/index.js';
import type { App } from '../../src/app.js';
import type { AppConfig } from '../../src/config.js';
import { buildTestApp } from '../support/app.js';
import { openRaw, parseResponses, type RawConnection, within } from '../support/raw-http.js';

const apps: App[] = [];
async function listening(overrides: Partial<AppConfig> = {}): Promise<number> {
  const app = await buildTestApp(overrides);
  apps.push(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}
afterAll(() => Promise.all(apps.map((app) => app.close())));

/** Writes `total` bytes of spaces in 1 MiB chunks, waiting for drain; stops at the first socket error. */
async function upload(connection: RawConnection, total: number, chunked = false): Promise<number> {
  const chunk = Buffer.alloc(1 << 20, 0x20);
  let sent = 0;
  while (sent < total && !connection.socket.destroyed && !connection.error()) {
    const size = Math.min(chunk.length, total - sent);
    const piece = chunked
      ? Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), chunk.subarray(0, size), Buffer.from('\r\n')])
      : chunk.subarray(0, size);
    const flushed = connection.socket.write(piece);
    sent += size;
    if (!flushed)
      await within(
        new Promise((resolve) => {
          connection.socket.once('drain', resolve);
          connection.socket.once('close', resolve);
        }),
        5000,
      );
  }
  return sent;
}

const post = (path: string, headers: string) =>
  `POST ${path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n${headers}\r\n`;

/** Waits until `connection` has received `count` complete responses (or 5 s pass). */
async function responses(connection: RawConnection, count: number) {
  for (let i = 0; i < 100 && parseResponses(connection.received()).length < count; i++)
    await new Promise((resolve) => setTimeout(resolve, 50));
  return parseResponses(connection.received());
}

describe('a 413 the client can read', () => {
  let port: number;
  beforeAll(async () => {
    port = await listening();
  });

  it('a 36 MB body over raw TCP: every byte is accepted, the 413 problem arrives, the connection stays usable', async () => {
    const connection = await openRaw(port);
    const size = 36_000_000;
    connection.socket.write(post('/v1/activations/relu/forward', `Content-Length: ${size}\r\n`));
    const sent = await upload(connection, size);
    expect(connection.error()?.code).toBeUndefined();
    expect(sent).toBe(size);
    // The same connection then serves another request: nothing was cut.
    connection.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
    const [tooLarge, health] = await responses(connection, 2);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(tooLarge.body).type).toBe('urn:gradient-service:problem:payload-too-large');
    expect(health?.status).toBe(200);
    connection.socket.destroy();
  });

  it('the same on /v2, answered as { error }', async () => {
    const connection = await openRaw(port);
    const size = 36_000_000;
    connection.socket.write(post('/v2/models/relu/infer', `Content-Length: ${size}\r\n`));
    expect(await upload(connection, size)).toBe(size);
    expect(connection.error()?.code).toBeUndefined();
    const [tooLarge] = await responses(connection, 1);
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body).error).toMatch(/BODY_LIMIT/);
    connection.socket.destroy();
  });

  it('undici fetch of a 36 MB body, buffered and streamed, on both surfaces: the 413 body is received', async () => {
    const size = 36_000_000;
    for (const path of ['/v1/activations/relu/forward', '/v2/models/relu/infer'])
      for (const streamed of [false, true]) {
        const piece = new Uint8Array(1 << 16).fill(0x20);
        let produced = 0;
        const body = streamed
          ? new ReadableStream<Uint8Array>({
              pull(controller) {
                if (produced >= size) return controller.close();
                produced += piece.length;
                controller.enqueue(piece);
              },
            })
          : new Uint8Array(size).fill(0x20);
        const res = await fetch(`http://127.0.0.1:${port}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          duplex: 'half',
        });
        expect(res.status, `${path} streamed=${streamed}`).toBe(413);
        expect(await res.text()).toMatch(/BODY_LIMIT/);
      }
  });
});

describe("the project's client", () => {
  it('a request body over BODY_LIMIT is a GradientServiceError 413 with the problem, not a transport error', async () => {
    const port = await listening({ bodyLimit: 1 << 20 });
    const client = createClient({ baseUrl: `http://127.0.0.1:${port}`, timeout: 10_000, retries: 0 });
    try {
      // 1.5 million zeros: a 3 MB JSON body, three times the limit.
      const error = await client.activationForward('relu', { z: new Array(1_500_000).fill(0) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(GradientServiceError);
      expect((error as GradientServiceError).status).toBe(413);
      expect((error as GradientServiceError).type).toBe('urn:gradient-service:problem:payload-too-large');
    } finally {
      await client.close();
    }
  });
});

describe('bounded in bytes and time', () => {
  it('a chunked body that goes on past 4 x BODY_LIMIT (at least 1 MiB) after the 413: the socket is closed', async () => {
    const port = await listening({ bodyLimit: 64 * 1024 });
    const connection = await openRaw(port);
    connection.socket.write(post('/v1/activations/relu/forward', 'Transfer-Encoding: chunked\r\n'));
    const sent = await upload(connection, 64 << 20, true);
    expect(await within(connection.closed, 5000)).toBe(true);
    // Closed after 64 KiB read by the parser and 1 MiB discarded, give or take what the buffers held.
    expect(sent).toBeLessThan(16 << 20);
    const answers = parseResponses(connection.received());
    expect(answers.map((r) => r.status)).toEqual([413]);
  });

  it('a body declared larger than the bound is not read: 413 with Connection: close, the socket closed', async () => {
    const port = await listening({ bodyLimit: 64 * 1024 });
    const connection = await openRaw(port);
    connection.socket.write(post('/v1/activations/relu/forward', `Content-Length: ${64 << 20}\r\n`));
    expect(await within(connection.closed, 5000)).toBe(true);
    const [answer] = parseResponses(connection.received());
    expect(answer.status).toBe(413);
    expect(answer.headers.connection).toBe('close');
  });

  it('a body trickling after the 413 is cut at REQUEST_TIMEOUT_MS, with no second status line', async () => {
    const port = await listening({ bodyLimit: 1024, requestTimeoutMs: 800, headersTimeoutMs: 400 });
    const connection = await openRaw(port);
    connection.socket.write(post('/v1/activations/relu/forward', 'Content-Length: 100000\r\n'));
    connection.socket.write(' '.repeat(2048));
    const timer = setInterval(() => {
      if (!connection.socket.destroyed) connection.socket.write(' '.repeat(100));
    }, 50);
    try {
      expect(await within(connection.closed, 5000)).toBe(true);
    } finally {
      clearInterval(timer);
    }
    const received = connection.received();
    expect(received.match(/HTTP\/1\.1 /g)?.length).toBe(1);
    expect(parseResponses(received)[0].status).toBe(413);
  });
});

describe('while draining', () => {
  it('an early answer keeps Connection: close and the socket is closed: shutdown does not wait on uploads', async () => {
    const port = await listening({ bodyLimit: 1 << 20 });
    const app = apps[apps.length - 1];
    app.readiness.ready = false;
    const connection = await openRaw(port);
    connection.socket.write(post('/v1/activations/relu/forward', `Content-Length: ${2 << 20}\r\n`));
    expect(await within(connection.closed, 5000)).toBe(true);
    const [answer] = parseResponses(connection.received());
    expect(answer.status).toBe(413);
    expect(answer.headers.connection).toBe('close');
  });
});

describe('other early answers linger too', () => {
  it('a 5 MB body to no route: the 404 comes before the body is read, and the connection serves the next request', async () => {
    const port = await listening();
    const connection = await openRaw(port);
    const size = 5_000_000;
    connection.socket.write(post('/v1/nope', `Content-Length: ${size}\r\n`));
    // The 404 arrives while the body is still unsent.
    const [early] = await responses(connection, 1);
    expect(early?.status).toBe(404);
    expect(await upload(connection, size)).toBe(size);
    expect(connection.error()?.code).toBeUndefined();
    connection.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
    expect((await responses(connection, 2)).map((r) => r.status)).toEqual([404, 200]);
    connection.socket.destroy();
  });

  it('a 401 to a 5 MB upload without a key is received, and the connection serves the next request', async () => {
    const port = await listening({ apiKeys: ['k'.repeat(32)] });
    const connection = await openRaw(port);
    const size = 5_000_000;
    connection.socket.write(post('/v1/activations/relu/forward', `Content-Length: ${size}\r\n`));
    expect(await upload(connection, size)).toBe(size);
    expect(connection.error()?.code).toBeUndefined();
    connection.socket.write('GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n');
    const answers = await responses(connection, 2);
    expect(answers.map((r) => r.status)).toEqual([401, 200]);
    connection.socket.destroy();
  });
});

import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { buildTestApp } from '../support/app.js';

let app: App;
let port: number;
beforeAll(async () => {
  app = await buildTestApp({ headersTimeoutMs: 400, requestTimeoutMs: 800, keepAliveTimeoutMs: 300 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(() => app.close());

/** A raw connection that records what the server sends and when it closes. */
function open(): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, received: () => data, closed }));
    socket.once('error', reject);
  });
}

/** Resolves true when `promise` settles within `ms`, false otherwise: every wait here is bounded. */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Writes `chunks` one at a time every `everyMs` until the socket closes or the chunks run out. */
function trickle(socket: Socket, chunks: string[], everyMs: number): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (socket.destroyed || i >= chunks.length) return clearInterval(timer);
    socket.write(chunks[i++]);
  }, everyMs);
  return () => clearInterval(timer);
}

async function forwardOverHttp(): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/activations/relu/forward`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"z":[1,-1]}',
    signal: AbortSignal.timeout(5000),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('slow clients', () => {
  it('a client trickling its headers (slowloris) is cut off, and others are served meanwhile', async () => {
    const slow = await open();
    // Endless headers, one short line at a time: without headersTimeout this socket stays forever.
    const lines = ['POST /v1/activations/relu/forward HTTP/1.1\r\n', 'Host: 127.0.0.1\r\n'];
    for (let i = 0; i < 200; i++) lines.push(`X-Slow-${i}: ${'a'.repeat(8)}\r\n`);
    const stop = trickle(slow.socket, lines, 50);
    try {
      expect(await forwardOverHttp()).toBe(200);
      expect(await within(slow.closed, 10_000)).toBe(true);
      expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      stop();
      slow.socket.destroy();
    }
  });

  it('a client trickling its body is cut off with a 408, and others are served meanwhile', async () => {
    const slow = await open();
    slow.socket.write(
      'POST /v1/activations/relu/forward HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
        'Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n{"z":[',
    );
    const stop = trickle(
      slow.socket,
      Array.from({ length: 500 }, () => '1,'),
      50,
    );
    try {
      expect(await forwardOverHttp()).toBe(200);
      expect(await within(slow.closed, 10_000)).toBe(true);
      expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      stop();
      slow.socket.destroy();
    }
  });

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const client = await open();
    client.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(await within(client.closed, 10_000)).toBe(true);
    const response = client.received();
    expect(response).toMatch(/^HTTP\/1\.1 200/);
    expect(response).toMatch(/keep-alive: timeout=/i);
  });

  it('a connection that sends nothing at all is closed too', async () => {
    const silent = await open();
    expect(await within(silent.closed, 10_000)).toBe(true);
  });
});

/**
 * Drain with keep-alive clients, on the real process: a pooled undici client (it keeps its sockets) has an
 * idle connection and one large request in flight when SIGTERM lands. The request completes with a 200 and
 * `connection: close`, the idle connection is closed, and the process exits 0 by itself: not by
 * SHUTDOWN_TIMEOUT_MS, which is set far beyond the test's bounds and would exit 1 with its own log line.
 * Once with one process, once with a cluster (WORKERS=2: the primary forwards SIGTERM to its workers), and
 * once with node's own keep-alive http.Agent, which keeps the in-flight request's socket open after the
 * response unless told Connection: close (before the fix: exit 1 after the whole SHUTDOWN_TIMEOUT_MS).
 */
import { Agent, request } from 'node:http';
import { PassThrough } from 'node:stream';
import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { bounded, isListening, killChildren, listeningPort, startServer } from '../support/server-process.js';

const pools: Pool[] = [];
afterEach(async () => {
  killChildren();
  await Promise.all(pools.splice(0).map((pool) => pool.destroy()));
});

const timedOut = (line: Record<string, unknown>) =>
  String(line.msg).includes('did not finish within SHUTDOWN_TIMEOUT_MS');

describe.each([
  ['one process', '1'],
  ['a cluster of two workers', '2'],
])('SIGTERM with keep-alive clients connected (%s)', (_, workers) => {
  it('the in-flight request gets its 200 with connection: close, and the process exits 0 after it', async () => {
    const server = startServer({ WORKERS: workers, SHUTDOWN_TIMEOUT_MS: '120000' });
    await server.waitFor(
      (l) => isListening(l) && server.lines.filter(isListening).length >= Number(workers),
      30_000,
    );
    const port = listeningPort(server.lines.find(isListening) as Record<string, unknown>);
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 2, keepAliveTimeout: 600_000 });
    pools.push(pool);

    // Two requests at once open both connections; afterwards they stay open, idle (keep-alive).
    const warm = await Promise.all(
      [1, 2].map(() => pool.request({ method: 'GET', path: '/v1/activations' })),
    );
    for (const res of warm) {
      expect(res.statusCode).toBe(200);
      expect(res.headers.connection).toBe('keep-alive');
      await res.body.dump();
    }
    expect(pool.stats.connected).toBe(2);

    // 200,000 numbers sent in two halves: in flight (its body half-read) when SIGTERM lands.
    const n = 200_000;
    const body = Buffer.from(JSON.stringify({ z: Array.from({ length: n }, (_, i) => (i % 7) - 3) }));
    const half = Math.floor(body.length / 2);
    const stream = new PassThrough();
    const response = pool.request({
      method: 'POST',
      path: '/v1/activations/relu/forward',
      headers: {
        'content-type': 'application/json',
        'content-length': String(body.length),
        'x-request-id': 'in-flight',
      },
      body: stream,
    });
    stream.write(body.subarray(0, half));
    const arrived = await server.waitFor((l) => l.requestId === 'in-flight' && l.msg === 'incoming request');
    const servingPid = arrived.pid;

    server.child.kill('SIGTERM');
    await server.waitFor((l) => String(l.msg).startsWith('shutting down') && l.pid === servingPid);
    stream.end(body.subarray(half));

    const res = await bounded(response, 30_000, 'the in-flight response');
    expect(res.statusCode).toBe(200);
    expect(res.headers.connection).toBe('close');
    const { a } = (await res.body.json()) as { a: number[] };
    expect(a).toHaveLength(n);
    expect(a.slice(0, 7)).toEqual([0, 0, 0, 0, 1, 2, 3]);

    // SHUTDOWN_TIMEOUT_MS (120 s) is far beyond this bound: an exit within it is the drain's own.
    expect(await bounded(server.exited, 30_000, 'exit')).toEqual({ code: 0, signal: null });
    expect(server.lines.filter((l) => l.msg === 'shut down')).toHaveLength(Number(workers));
    expect(server.lines.filter(timedOut)).toEqual([]);
  }, 90_000);
});

describe('SIGTERM with a node http.Agent (keepAlive) request in flight', () => {
  it('the response says connection: close and the process exits 0 without waiting for the socket', async () => {
    const server = startServer({ SHUTDOWN_TIMEOUT_MS: '120000' });
    const port = listeningPort(await server.waitFor(isListening));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const body = Buffer.from(JSON.stringify({ z: Array.from({ length: 200_000 }, (_, i) => (i % 7) - 3) }));
      const half = Math.floor(body.length / 2);
      let rest!: () => void;
      const response = new Promise<{ status: number; connection?: string; length: number }>(
        (resolve, reject) => {
          const req = request(
            {
              host: '127.0.0.1',
              port,
              method: 'POST',
              path: '/v1/activations/relu/forward',
              agent,
              headers: {
                'content-type': 'application/json',
                'content-length': body.length,
                'x-request-id': 'in-flight',
              },
            },
            (res) => {
              let text = '';
              res.setEncoding('utf8').on('data', (c: string) => {
                text += c;
              });
              res.on('end', () =>
                resolve({
                  status: res.statusCode ?? 0,
                  connection: res.headers.connection,
                  length: (JSON.parse(text) as { a: number[] }).a.length,
                }),
              );
            },
          );
          req.on('error', reject);
          req.write(body.subarray(0, half));
          rest = () => req.end(body.subarray(half));
        },
      );
      await server.waitFor((l) => l.requestId === 'in-flight' && l.msg === 'incoming request');
      server.child.kill('SIGTERM');
      await server.waitFor((l) => String(l.msg).startsWith('shutting down'));
      rest();
      expect(await bounded(response, 30_000, 'the in-flight response')).toEqual({
        status: 200,
        connection: 'close',
        length: 200_000,
      });
      expect(await bounded(server.exited, 30_000, 'exit')).toEqual({ code: 0, signal: null });
      expect(server.lines.filter(timedOut)).toEqual([]);
    } finally {
      agent.destroy();
    }
  }, 90_000);
});

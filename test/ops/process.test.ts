/**
 * The real process (src/server.ts under tsx): graceful shutdown on SIGTERM with a request in flight, and
 * the node:cluster mode. Ports are chosen by the OS (PORT=0) and read from the "Server listening" log line.
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { bounded, isListening, killChildren, listeningPort, startServer } from '../support/server-process.js';

afterEach(killChildren);

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('graceful shutdown of the real process', () => {
  it('SIGTERM with a large request in flight: that request still gets its full 200, new ones are refused, exit 0', async () => {
    const server = startServer({ SHUTDOWN_TIMEOUT_MS: '15000' });
    const port = listeningPort(await server.waitFor(isListening));

    // 200,000 numbers, sent in two halves: the request is in flight (its body half-read) when SIGTERM lands.
    const n = 200_000;
    const body = Buffer.from(JSON.stringify({ z: Array.from({ length: n }, (_, i) => (i % 7) - 3) }));
    const half = Math.floor(body.length / 2);
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/activations/relu/forward',
          agent: false,
          headers: {
            'content-type': 'application/json',
            'content-length': body.length,
            'x-request-id': 'in-flight',
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      req.on('error', reject);
      req.write(body.subarray(0, half));
      server
        .waitFor((l) => l.requestId === 'in-flight' && l.msg === 'incoming request')
        .then(() => {
          server.child.kill('SIGTERM');
          return server.waitFor((l) => String(l.msg).startsWith('shutting down'));
        })
        .then(async () => {
          // Not ready any more: a new connection is refused or reset (the listener is closed), or answered
          // 503 on a kept-alive one; never a 200.
          const probe = await get(port, '/readyz').catch((error: NodeJS.ErrnoException) => error.code);
          const notReady =
            probe === 'ECONNREFUSED' ||
            probe === 'ECONNRESET' ||
            (typeof probe === 'object' && probe.status === 503);
          expect(notReady, JSON.stringify(probe)).toBe(true);
          req.end(body.subarray(half));
        })
        .catch(reject);
    });

    const done = await bounded(response, 30_000, 'the in-flight response');
    expect(done.status, done.body.slice(0, 400)).toBe(200);
    const { a } = JSON.parse(done.body) as { a: number[] };
    expect(a).toHaveLength(n);
    expect(a.slice(0, 7)).toEqual([0, 0, 0, 0, 1, 2, 3]);
    expect(await bounded(server.exited, 20_000, 'exit')).toEqual({ code: 0, signal: null });
    expect(server.lines.some((l) => l.msg === 'shut down')).toBe(true);
  });

  it('a request that does not finish within SHUTDOWN_TIMEOUT_MS does not hold the exit: code 1', async () => {
    const server = startServer({ SHUTDOWN_TIMEOUT_MS: '500' });
    const port = listeningPort(await server.waitFor(isListening));
    // Half a body that never completes (REQUEST_TIMEOUT_MS is 30 s, far beyond the shutdown bound).
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/v1/activations/relu/forward',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': 100, 'x-request-id': 'stuck' },
    });
    req.on('error', () => {});
    req.write('{"z":[1,');
    await server.waitFor((l) => l.requestId === 'stuck' && l.msg === 'incoming request');
    server.child.kill('SIGTERM');
    expect(await bounded(server.exited, 20_000, 'exit')).toEqual({ code: 1, signal: null });
    expect(
      server.lines.some((l) => String(l.msg).includes('did not finish within SHUTDOWN_TIMEOUT_MS')),
    ).toBe(true);
    req.destroy();
  });

  it('SIGINT on an idle server exits 0', async () => {
    const server = startServer({});
    await server.waitFor(isListening);
    server.child.kill('SIGINT');
    expect(await bounded(server.exited, 20_000, 'exit')).toEqual({ code: 0, signal: null });
  });
});

describe('WORKERS=2 (node:cluster)', () => {
  it('two workers share the port, /metrics sums them, and SIGTERM to the primary stops both and exits 0', async () => {
    const server = startServer({ WORKERS: '2' });
    await server.waitFor((l) => isListening(l) && server.lines.filter(isListening).length >= 2, 30_000);
    const listening = server.lines.filter(isListening);
    const ports = new Set(listening.map(listeningPort));
    expect(ports.size).toBe(1);
    const [port] = ports;
    expect(new Set(listening.map((l) => l.pid)).size).toBe(2);

    const requests = 8;
    for (let i = 0; i < requests; i++) expect((await get(port, '/v1/activations')).status).toBe(200);
    const metrics = await get(port, '/metrics');
    expect(metrics.status).toBe(200);
    const line = metrics.body
      .split('\n')
      .find(
        (l) => l.startsWith('http_request_duration_seconds_count') && l.includes('route="/v1/activations"'),
      );
    // Whichever worker served each request and whichever answers the scrape, the count is the total.
    expect(line).toMatch(new RegExp(` ${requests}$`));

    server.child.kill('SIGTERM');
    expect(await bounded(server.exited, 30_000, 'exit')).toEqual({ code: 0, signal: null });
    const workerPids = new Set(listening.map((l) => l.pid));
    const shutDown = server.lines.filter((l) => l.msg === 'shut down' && workerPids.has(l.pid));
    expect(shutDown).toHaveLength(2);
  });
});

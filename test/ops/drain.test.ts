import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { drain, unsentConnections } from '../../src/lifecycle.js';
import { buildTestApp, expectProblem } from '../support/app.js';

let app: App | undefined;
afterEach(async () => {
  if (app && !app.readiness.ready) return;
  await app?.close();
});

describe('drain (what SIGTERM runs)', () => {
  it('turns /readyz into a 503 with the reason at once, while an in-flight request still completes', async () => {
    app = await buildTestApp();
    const draining = app;
    // While readiness is false but before close takes effect, readyz answers with the reason.
    draining.readiness.ready = false;
    draining.readiness.reason = 'Shutting down (test).';
    const probe = expectProblem(await draining.inject({ method: 'GET', url: '/readyz' }), 503, 'not-ready');
    expect(probe.detail).toBe('Shutting down (test).');
    draining.readiness.ready = true;

    await draining.listen({ port: 0, host: '127.0.0.1' });
    const port = (draining.server.address() as AddressInfo).port;
    const body = JSON.stringify({ z: [-1, 0, 1] });
    let sent!: () => void;
    // Node emits 'request' once the headers are parsed, after Fastify's own listener has routed it: from here
    // the request is in flight for Fastify (earlier, a closing Fastify would answer 503 instead). Bounded.
    const arrived = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the request did not arrive within 10 s')), 10_000);
      draining.server.once('request', () => {
        clearTimeout(timer);
        resolve();
      });
    });

    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/v1/activations/relu/forward',
          agent: false,
          headers: { 'content-type': 'application/json', 'content-length': body.length },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.write(body.slice(0, 5));
      sent = () => req.end(body.slice(5));
    });
    await arrived;
    const drained = drain(draining, 'SIGTERM');
    expect(draining.readiness).toEqual({ ready: false, reason: 'Shutting down (SIGTERM).' });
    sent();
    const done = await response;
    expect(done.status).toBe(200);
    expect(JSON.parse(done.body)).toEqual({ a: [0, 0, 1] });
    await drained;
    expect(draining.server.listening).toBe(false);
  });
});

describe('unsentConnections (what the drain waits on before the process exits)', () => {
  // /proc/net/tcp as Linux writes it: port 8080 is 1F90; st 01 ESTABLISHED, 04 FIN_WAIT1, 05 FIN_WAIT2, 06
  // TIME_WAIT, 0A LISTEN; tx_queue:rx_queue in hex.
  const table = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1',
    '   1: 0100007F:1F90 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000  1000        0 2 1',
    '   2: 0100007F:1F90 0100007F:A1B3 01 0003E800:00000000 01:00000020 00000000  1000        0 3 1',
    '   3: 0100007F:1F90 0100007F:A1B4 04 00000000:00000000 01:00000020 00000000     0        0 0 1',
    '   4: 0100007F:1F90 0100007F:A1B5 05 00000000:00000000 00:00000000 00000000     0        0 0 1',
    '   5: 0100007F:1F90 0100007F:A1B6 06 00000000:00000000 03:00000100 00000000     0        0 0 1',
    '   6: 0100007F:A1B7 0100007F:1F90 01 00100000:00000000 01:00000020 00000000  1000        0 4 1',
    '',
  ].join('\n');

  it("counts our port's connections with unacknowledged bytes or an unacknowledged FIN, nothing else", () => {
    // Line 2 (256,000 bytes queued) and line 3 (FIN_WAIT1, closed by node, still sending); not the listener,
    // an idle connection, FIN_WAIT2 / TIME_WAIT (everything acknowledged), nor a client socket to the port.
    expect(unsentConnections(table, 8080)).toBe(2);
    expect(unsentConnections(table, 0xa1b7)).toBe(1);
    expect(unsentConnections(table, 9090)).toBe(0);
  });
});

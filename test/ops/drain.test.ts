import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.js';
import { drain } from '../../src/lifecycle.js';
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

/**
 * Request ids: an incoming x-request-id is honoured when it looks like an id (so a caller can follow
 * one request through several services), else one is generated. Fastify puts it on every log line
 * (as `requestId`, see app.ts); this plugin echoes it in the response header.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export const requestIdHeader = 'x-request-id';

// Bounded length and a conservative charset: the id goes into logs and headers verbatim, so no
// control characters, spaces or quotes that could forge log lines or break header parsing.
const acceptable = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function genReqId(request: IncomingMessage): string {
  const incoming = request.headers[requestIdHeader];
  return typeof incoming === 'string' && acceptable.test(incoming) ? incoming : randomUUID();
}

export default fp(
  async (app: FastifyInstance) => {
    // Callback style, not async: it runs on every request, and a promise per request is measurable.
    app.addHook('onRequest', (request, reply, done) => {
      reply.header(requestIdHeader, request.id);
      done();
    });
  },
  { name: 'request-id' },
);

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

// A generated id is a random UUID (version 4): unique across processes and restarts, and, unlike a counter,
// it tells nobody how many requests the process has served. randomUUID draws from a cached entropy pool, so
// an id costs about 0.1 us (node -e 'const {randomUUID}=require("node:crypto");let t=process.hrtime.bigint();
// for(let i=0;i<1e6;i++)randomUUID();console.log(Number(process.hrtime.bigint()-t)/1e6,"ns")' prints ~60-120).
export const newRequestId = randomUUID;

export function genReqId(request: IncomingMessage): string {
  const incoming = request.headers[requestIdHeader];
  return typeof incoming === 'string' && acceptable.test(incoming) ? incoming : newRequestId();
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

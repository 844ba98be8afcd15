/**
 * Request ids: an incoming x-request-id is honoured when it looks like an id (so a caller can follow
 * one request through several services), else one is generated. Fastify puts it on every log line
 * (as `requestId`, see app.ts); this plugin echoes it in the response header.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export const requestIdHeader = 'x-request-id';

// Bounded length and a conservative charset: the id goes into logs and headers verbatim, so no
// control characters, spaces or quotes that could forge log lines or break header parsing.
const acceptable = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

// A generated id is UUID-shaped (8-4-4-4-12 hex, version 4 and variant bits set): 74 random bits drawn once
// per process, then a counter in the last 12 digits. Unique within the process by the counter and across
// processes by the random part; a request costs a counter step and a number-to-hex, not fresh random bytes.
const processBits = randomBytes(10).toString('hex');
const processPrefix =
  `${processBits.slice(0, 8)}-${processBits.slice(8, 12)}-4${processBits.slice(12, 15)}-` +
  `${((Number.parseInt(processBits[15], 16) & 0x3) | 0x8).toString(16)}${processBits.slice(16, 19)}-`;
let issued = 0;

/** The next generated id: the process prefix and the counter as 12 hex digits (2^48 ids before it wraps). */
export function nextRequestId(): string {
  issued = (issued + 1) % 2 ** 48;
  return processPrefix + issued.toString(16).padStart(12, '0');
}

export function genReqId(request: IncomingMessage): string {
  const incoming = request.headers[requestIdHeader];
  return typeof incoming === 'string' && acceptable.test(incoming) ? incoming : nextRequestId();
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

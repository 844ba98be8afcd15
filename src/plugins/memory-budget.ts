/**
 * MEMORY_BUDGET_BYTES: request bodies are admitted against the memory the container allows *before* they are
 * read. Without it, 16 concurrent 1e6-number JSON requests (~19 MB each) were all read within 166 ms and the
 * kernel OOM-killed the process at a 512 MiB limit; the pool refused some only after they were in memory.
 *
 * Each request is charged memoryPerBodyByte times its body (its parsed numbers, the result and the answer
 * follow from it) from the moment its head arrives (Content-Length) until its answer has been written; a
 * chunked body is charged as its bytes arrive. One that does not fit what the others hold is refused at once
 * with 503 and Retry-After, its body discarded unread by linger.ts (never buffered). A request is always
 * admitted when nothing else is charged, so a single body up to BODY_LIMIT is served whatever the budget.
 */
import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ServiceError } from '../errors.js';
import { memoryPerBodyByte } from '../resources.js';

export interface MemoryBudgetOptions {
  /** Memory the bodies in flight may take together; 0 = no budget. */
  budgetBytes: number;
}

/** Seconds a refused client is told to wait: bodies in flight are served in well under that. */
export const memoryBudgetRetryAfterSeconds = 1;

declare module 'fastify' {
  interface FastifyRequest {
    /** Memory charged to this request against MEMORY_BUDGET_BYTES (released when its answer is written). */
    memoryCharged: number;
  }
}

export default fp(
  async (app: FastifyInstance, options: MemoryBudgetOptions) => {
    if (options.budgetBytes <= 0) return;
    let charged = 0;

    const refusal = (bytes: number) =>
      new ServiceError(
        503,
        'not-ready',
        `Not enough memory for this request now: its body (${bytes} bytes) would take the requests in flight ` +
          `past MEMORY_BUDGET_BYTES (${options.budgetBytes} bytes of memory, ${memoryPerBodyByte} per body byte); retry later.`,
        undefined,
        { 'retry-after': String(memoryBudgetRetryAfterSeconds) },
      );

    /** Charges `bytes` of body to the request, or says no when others already hold the budget. */
    const charge = (request: FastifyRequest, reply: FastifyReply, bytes: number): boolean => {
      const cost = bytes * memoryPerBodyByte;
      if (charged > 0 && charged + cost > options.budgetBytes) return false;
      // The answer's close, not the request's (which comes once the body is read): the request's memory
      // lives until its answer has been written.
      if (request.memoryCharged === 0)
        reply.raw.once('close', () => {
          charged -= request.memoryCharged;
          request.memoryCharged = 0;
        });
      charged += cost;
      request.memoryCharged += cost;
      return true;
    };

    app.decorateRequest('memoryCharged', 0);
    // Callback style, not async, like the other per-request hooks: a promise per request is measurable.
    app.addHook('onRequest', (request, reply, done) => {
      const declared = Number(request.headers['content-length']);
      if (request.headers['transfer-encoding'] !== undefined || !(declared > 0)) return done();
      done(charge(request, reply, declared) ? undefined : refusal(declared));
    });

    // A chunked body has no length up front: charged as it arrives, refused (the read stops) past the budget.
    app.addHook('preParsing', (request, reply, payload, done) => {
      if (request.headers['transfer-encoding'] === undefined) return done(null, payload);
      let received = 0;
      const counted = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          received += chunk.length;
          if (charge(request, reply, chunk.length)) done(null, chunk);
          else done(refusal(received));
        },
      });
      payload.on('error', (error) => counted.destroy(error));
      done(null, payload.pipe(counted));
    });
  },
  { name: 'memory-budget' },
);

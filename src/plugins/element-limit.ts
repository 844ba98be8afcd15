/**
 * MAX_ELEMENTS for request tensors, checked before schema validation and any work: every top-level
 * array field of a JSON body counts (tensors, weights, bias). Result sizes (a Jacobian's N*K*K) are checked
 * by prepareJob (src/operations) before computing, for /v1 and /v2 alike.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { type JsonTensor, jsonElementCount } from '../core/tensor.js';
import { TooManyElementsError } from '../errors.js';

export default fp(
  async (app: FastifyInstance, options: { maxElements: number }) => {
    // Callback style, not async, and no entries array: it runs on every request.
    app.addHook('preValidation', (request, _reply, done) => {
      const body = request.body as Record<string, unknown> | null | undefined;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return done();
      for (const field in body) {
        const value = body[field];
        if (!Array.isArray(value)) continue;
        const count = jsonElementCount(value as JsonTensor);
        if (count > options.maxElements)
          return done(new TooManyElementsError(field, count, options.maxElements));
      }
      done();
    });
  },
  { name: 'element-limit', dependencies: ['problem'] },
);

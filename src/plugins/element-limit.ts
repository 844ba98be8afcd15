/**
 * MAX_ELEMENTS for request tensors, checked before schema validation and any work: every top-level
 * array field of a JSON body counts (tensors, weights, bias). Response sizes that exceed their request
 * tensors (the softmax Jacobian's N*K*K) are checked by their route before computing.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { elementCount, type JsonTensor } from '../core/tensor.js';
import { HttpProblem } from './problem.js';

export function tooManyElements(what: string, count: number, limit: number): HttpProblem {
  return new HttpProblem(
    413,
    'too-many-elements',
    `${what} has ${count} numbers; at most ${limit} are allowed per tensor (MAX_ELEMENTS).`,
  );
}

export default fp(
  async (app: FastifyInstance, options: { maxElements: number }) => {
    // Callback style, not async, and no entries array: it runs on every request.
    app.addHook('preValidation', (request, _reply, done) => {
      const body = request.body as Record<string, unknown> | null | undefined;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return done();
      for (const field in body) {
        const value = body[field];
        if (!Array.isArray(value)) continue;
        const count = elementCount(value as JsonTensor);
        if (count > options.maxElements) return done(tooManyElements(field, count, options.maxElements));
      }
      done();
    });
  },
  { name: 'element-limit' },
);

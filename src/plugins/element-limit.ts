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
    app.addHook('preValidation', async (request) => {
      const body = request.body;
      if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
      for (const [field, value] of Object.entries(body)) {
        if (!Array.isArray(value)) continue;
        const count = elementCount(value as JsonTensor);
        if (count > options.maxElements) throw tooManyElements(field, count, options.maxElements);
      }
    });
  },
  { name: 'element-limit' },
);

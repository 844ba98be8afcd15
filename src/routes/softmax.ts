/** Softmax Jacobian and VJP, from logits z or from probabilities a. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { assertFinite } from '../core/errors.js';
import { checkProbabilities, softmaxJacobian, softmaxVjp } from '../core/softmax.js';
import { type Tensor, toJson } from '../core/tensor.js';
import { tooManyElements } from '../plugins/element-limit.js';
import { invalid } from '../plugins/problem.js';
import { jacobianSchema, vjpSchema } from '../schemas/softmax.js';
import { pickInput, readTensor, shapeOf } from './support.js';

/** Reads z or a; probabilities must be probabilities, or the "softmax Jacobian" at them means nothing. */
function readInput(body: { z?: number[] | number[][]; a?: number[] | number[][] }): {
  from: 'z' | 'a';
  t: Tensor;
} {
  const input = pickInput(body);
  const t = readTensor(input.from, input.value);
  if (input.from === 'a') {
    const problem = checkProbabilities(t.data, t.cols);
    if (problem) {
      const row = t.batched ? `/${problem.row}` : '';
      const col = problem.col !== undefined ? `/${problem.col}` : '';
      throw invalid([{ path: `/a${row}${col}`, message: problem.message }]);
    }
  }
  return { from: input.from, t };
}

/** Flat rows*K*K row-major -> K x K (one sample) or N x K x K (a batch). */
function nestJacobian(jacobian: Float64Array, t: Tensor): number[][] | number[][][] {
  const K = t.cols;
  const block = (r: number) => {
    const m: number[][] = new Array(K);
    for (let i = 0; i < K; i++) m[i] = Array.from(jacobian.subarray((r * K + i) * K, (r * K + i + 1) * K));
    return m;
  };
  if (!t.batched) return block(0);
  return Array.from({ length: t.rows }, (_, r) => block(r));
}

const softmaxRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { maxElements } = app.config;

  app.post('/v1/softmax/jacobian', { schema: jacobianSchema }, async (request) => {
    const { from, t } = readInput(request.body);
    const count = t.rows * t.cols * t.cols;
    if (count > maxElements)
      throw tooManyElements(`The Jacobian (${shapeOf(t)} input -> N*K*K)`, count, maxElements);
    const { a, jacobian } = softmaxJacobian(t.data, t.cols, from);
    assertFinite('a', a);
    assertFinite('jacobian', jacobian);
    return { a: toJson(a, t), jacobian: nestJacobian(jacobian, t) };
  });

  app.post('/v1/softmax/vjp', { schema: vjpSchema }, async (request) => {
    const { from, t } = readInput(request.body);
    const v = readTensor('v', request.body.v);
    if (v.rows !== t.rows || v.cols !== t.cols || v.batched !== t.batched)
      throw invalid(
        [{ path: '/v', message: `must have the shape of ${from} ${shapeOf(t)}, has ${shapeOf(v)}` }],
        `v has shape ${shapeOf(v)} but ${from} has shape ${shapeOf(t)}: they must be equal.`,
      );
    const { a, gradient } = softmaxVjp(t.data, v.data, t.cols, from);
    assertFinite('a', a);
    assertFinite('gradient', gradient);
    return { a: toJson(a, t), gradient: toJson(gradient, t) };
  });
};

export default softmaxRoutes;

/** Softmax Jacobian and VJP, from logits z or from probabilities a. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { checkProbabilities } from '../core/softmax.js';
import type { PackedTensor, Tensor } from '../core/tensor.js';
import { tooManyElements } from '../plugins/element-limit.js';
import { invalid } from '../plugins/problem.js';
import { withBinaryTensors } from '../schemas/binary.js';
import { jacobianSchema, vjpSchema } from '../schemas/softmax.js';
import { shapeOf as shapeFields } from '../workers/jobs.js';
import { pickInput, readTensor, respond, shapeOf } from './support.js';

/** Reads z or a; probabilities must be probabilities, or the "softmax Jacobian" at them means nothing. */
type TensorField = number[] | number[][] | PackedTensor;

function readInput(body: { z?: TensorField; a?: TensorField }): {
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

const softmaxRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { maxElements } = app.config;

  const jacobianRoute = withBinaryTensors(jacobianSchema, { inputs: ['z', 'a'], outputs: ['a', 'jacobian'] });
  app.post('/v1/softmax/jacobian', { schema: jacobianRoute }, async (request, reply) => {
    const { from, t } = readInput(request.body);
    const count = t.rows * t.cols * t.cols;
    if (count > maxElements)
      throw tooManyElements(`The Jacobian (${shapeOf(t)} input -> N*K*K)`, count, maxElements);
    return respond(app, request, reply, { kind: 'jacobian', from, input: t.data, shape: shapeFields(t) });
  });

  const vjpRoute = withBinaryTensors(vjpSchema, { inputs: ['z', 'a', 'v'], outputs: ['a', 'gradient'] });
  app.post('/v1/softmax/vjp', { schema: vjpRoute }, async (request, reply) => {
    const { from, t } = readInput(request.body);
    const v = readTensor('v', request.body.v);
    if (v.rows !== t.rows || v.cols !== t.cols || v.batched !== t.batched)
      throw invalid(
        [{ path: '/v', message: `must have the shape of ${from} ${shapeOf(t)}, has ${shapeOf(v)}` }],
        `v has shape ${shapeOf(v)} but ${from} has shape ${shapeOf(t)}: they must be equal.`,
      );
    return respond(app, request, reply, {
      kind: 'vjp',
      from,
      input: t.data,
      v: v.data,
      shape: shapeFields(t),
    });
  });
};

export default softmaxRoutes;

/** Schemas of the softmax routes (the softmax case of /v1/activations/{name}/jacobian and /vjp). */
import { Type } from 'typebox';
import { tensorRef } from './common.js';
import { computeErrorResponses } from './responses.js';

const inputText =
  'Give exactly one of z (logits) and a (probabilities: each in [0, 1], each row summing to 1 within max(1e-6, K * 2^-24)).';

export const JacobianBody = Type.Object(
  {
    z: Type.Optional(tensorRef(`Logits, [K] or [N][K]. ${inputText}`)),
    a: Type.Optional(tensorRef(`Probabilities, [K] or [N][K]. ${inputText}`)),
  },
  { additionalProperties: false, description: inputText, examples: [{ z: [1, 2, 3] }] },
);

const row = Type.Array(Type.Number({ description: 'da_i/dz_j.' }), { description: 'Row i of J.' });
const matrix = Type.Array(row, { description: 'J, K x K.' });

export const JacobianReply = Type.Object(
  {
    a: tensorRef('softmax(z) (or the given a), the shape of the input.'),
    jacobian: Type.Unsafe<number[][] | number[][][]>(
      Type.Union([matrix, Type.Array(matrix, { description: 'One J per row of the batch, N x K x K.' })], {
        description:
          'jacobian[i][j] = da_i/dz_j = a_i (delta_ij - a_j): K x K for one sample, N x K x K for a batch. ' +
          'N*K*K counts against MAX_ELEMENTS (checked before computing).',
      }),
    ),
  },
  { description: 'Probabilities and the Jacobian.' },
);

export const jacobianSchema = {
  operationId: 'softmaxJacobian',
  tags: ['softmax'],
  summary: 'Softmax Jacobian',
  description: 'The full Jacobian of softmax over the last axis, from logits or from probabilities.',
  body: JacobianBody,
  response: { 200: JacobianReply, ...computeErrorResponses('v1') },
};

export const VjpBody = Type.Object(
  {
    z: Type.Optional(tensorRef(`Logits, [K] or [N][K]. ${inputText}`)),
    a: Type.Optional(tensorRef(`Probabilities, [K] or [N][K]. ${inputText}`)),
    v: tensorRef('The vector (upstream gradient dE/da), the same shape as z or a.'),
  },
  {
    additionalProperties: false,
    description: `${inputText} v has the same shape.`,
    examples: [{ z: [1, 2, 3], v: [1, 0, 0] }],
  },
);

export const VjpReply = Type.Object(
  {
    a: tensorRef('softmax(z) (or the given a), the shape of the input.'),
    gradient: tensorRef('v^T J per row (dE/dz), the shape of the input; computed in O(K) per row.'),
  },
  { description: 'Probabilities and the vector-Jacobian product.' },
);

export const vjpSchema = {
  operationId: 'softmaxVjp',
  tags: ['softmax'],
  summary: 'Softmax vector-Jacobian product',
  description:
    'gradient = v^T J with J the softmax Jacobian, without building J: a * (v - sum(v * a)) per row.',
  body: VjpBody,
  response: { 200: VjpReply, ...computeErrorResponses('v1') },
};

/** Schema of POST /v1/gradients/output-layer. */
import { Type } from 'typebox';
import { type Loss, losses, type Reduction, reductions } from '../core/losses.js';
import { ParamsField } from './activations.js';
import { activationNameRef, matrixRef, tensorRef } from './common.js';
import { computeErrorResponses } from './responses.js';

export const OutputLayerBody = Type.Object(
  {
    x: tensorRef('Inputs x: [M] for one sample or [N][M] for a batch.'),
    weights: matrixRef('weights[j][k], from input j to output k: M x K.'),
    bias: Type.Optional(
      Type.Array(Type.Number({ description: 'b[k].' }), {
        minItems: 1,
        description: 'Bias b, length K; zeros when omitted.',
      }),
    ),
    targets: tensorRef('Targets t: [K] or [N][K], the same N (and the same batch form) as x.'),
    activation: activationNameRef('The output activation g.', 'sigmoid'),
    params: Type.Optional(ParamsField),
    loss: Type.Optional(
      Type.Unsafe<Loss>({
        type: 'string',
        enum: [...losses],
        default: 'squared_error',
        description:
          'squared_error: E = 1/2 sum (a - t)^2; cross_entropy: E = -sum t log a; binary_cross_entropy: ' +
          'E = -sum [t log a + (1 - t) log(1 - a)]. With softmax (cross_entropy) or sigmoid (both) the logs ' +
          'are taken from the logits, so they stay finite; with other activations a log of a value <= 0 under a ' +
          'non-zero target weight is a 422.',
      }),
    ),
    reduction: Type.Optional(
      Type.Unsafe<Reduction>({
        type: 'string',
        enum: [...reductions],
        default: 'sum',
        description: 'sum: E summed over samples; mean: divided by N, the number of samples.',
      }),
    ),
  },
  {
    additionalProperties: false,
    description: 'One dense output layer z = x W + b, a = g(z), and a loss against targets.',
    examples: [
      {
        x: [0.5, -1],
        weights: [
          [0.1, -0.2],
          [0.3, 0.4],
        ],
        bias: [0, 0.1],
        targets: [1, 0],
        activation: 'sigmoid',
      },
    ],
  },
);

export const OutputLayerReply = Type.Object(
  {
    loss: Type.Number({ description: 'E, reduced as requested.' }),
    z: tensorRef('z = x W + b, the shape of targets.'),
    a: tensorRef('a = g(z), the shape of targets.'),
    delta: tensorRef('dE/dz, the shape of targets (softmax with squared error: J^T (a - t)).'),
    weightGradient: Type.Array(
      Type.Array(Type.Number({ description: 'dE/dw[j][k].' }), { description: 'Row j.' }),
      {
        description: 'dE/dW, M x K.',
      },
    ),
    biasGradient: Type.Array(Type.Number({ description: 'dE/db[k].' }), { description: 'dE/db, length K.' }),
    inputGradient: tensorRef('dE/dx, the shape of x.'),
  },
  { description: 'The loss, the forward pass and every gradient.' },
);

export const outputLayerSchema = {
  operationId: 'outputLayerGradients',
  tags: ['gradients'],
  summary: 'Gradients of one dense output layer',
  description:
    'z = x W + b, a = g(z), E = loss(a, t); returns E, z, a, delta = dE/dz, dE/dW = x^T delta, dE/db and ' +
    'dE/dx = delta W^T. Shape mismatches (x columns vs weights rows, bias or targets vs K, N of x vs N of ' +
    'targets, ragged weights) are a 400 naming both sizes.',
  body: OutputLayerBody,
  response: { 200: OutputLayerReply, ...computeErrorResponses('v1') },
};

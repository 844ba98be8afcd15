/** POST /v1/gradients/output-layer: shapes checked here (naming both sizes), the math in core. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { findActivation } from '../core/activations/index.js';
import { invalid } from '../plugins/problem.js';
import { withBinaryTensors } from '../schemas/binary.js';
import { outputLayerSchema } from '../schemas/output-layer.js';
import { shapeOf as shapeFields } from '../workers/jobs.js';
import { activationFor, paramsFor, readTensor, respond, shapeOf } from './support.js';

const mismatch = (path: string, message: string) => invalid([{ path, message }], message);

const outputLayerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const schema = withBinaryTensors(outputLayerSchema, {
    inputs: ['x', 'weights', 'bias', 'targets'],
    outputs: ['z', 'a', 'delta', 'weightGradient', 'biasGradient', 'inputGradient'],
    numbers: ['loss'],
  });
  app.post('/v1/gradients/output-layer', { schema }, async (request, reply) => {
    const body = request.body;
    // The schema's enum already holds every name, so this only maps a name to its entry.
    const entry = findActivation(body.activation) ?? activationFor(body.activation);
    const x = readTensor('x', body.x);
    const weights = readTensor('weights', body.weights);
    const targets = readTensor('targets', body.targets);
    const M = weights.rows;
    const K = weights.cols;
    if (x.cols !== M)
      throw mismatch(
        '/x',
        `x has ${x.cols} inputs per sample (M) but weights has ${M} rows (M): weights is M x K, weights[j][k] from input j to output k`,
      );
    if (x.batched !== targets.batched)
      throw mismatch(
        '/targets',
        `x has shape ${shapeOf(x)} but targets has shape ${shapeOf(targets)}: give both as one sample ([M] and [K]) or both as a batch ([N][M] and [N][K])`,
      );
    if (targets.rows !== x.rows)
      throw mismatch('/targets', `x has ${x.rows} samples (N) but targets has ${targets.rows} (N)`);
    if (targets.cols !== K)
      throw mismatch(
        '/targets',
        `targets has ${targets.cols} outputs per sample (K) but weights has ${K} columns (K)`,
      );
    let bias: Float64Array | undefined;
    if (body.bias !== undefined) {
      bias = readTensor('bias', body.bias).data;
      if (bias.length !== K)
        throw mismatch('/bias', `bias has ${bias.length} entries (K) but weights has ${K} columns (K)`);
    }
    const params = paramsFor(entry, body.params);

    return respond(app, request, reply, {
      kind: 'output-layer',
      activation: entry.name,
      params,
      x: x.data,
      xShape: shapeFields(x),
      weights: weights.data,
      M,
      K,
      bias,
      targets: targets.data,
      targetsShape: shapeFields(targets),
      loss: body.loss ?? 'squared_error',
      reduction: body.reduction ?? 'sum',
    });
  });
};

export default outputLayerRoutes;

/** POST /v1/gradients/output-layer: shapes checked here (naming both sizes), the math in core. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { findActivation } from '../core/activations/index.js';
import { assertFinite } from '../core/errors.js';
import { outputLayer } from '../core/output-layer.js';
import { toJson } from '../core/tensor.js';
import { invalid } from '../plugins/problem.js';
import { outputLayerSchema } from '../schemas/output-layer.js';
import { activationFor, paramsFor, readTensor, shapeOf } from './support.js';

const mismatch = (path: string, message: string) => invalid([{ path, message }], message);

const outputLayerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post('/v1/gradients/output-layer', { schema: outputLayerSchema }, async (request) => {
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

    const result = outputLayer({
      x: x.data,
      N: x.rows,
      M,
      weights: weights.data,
      K,
      bias,
      targets: targets.data,
      activation: entry,
      params,
      loss: body.loss ?? 'squared_error',
      reduction: body.reduction ?? 'sum',
    });
    assertFinite('loss', result.loss);
    for (const [quantity, data] of Object.entries(result))
      if (typeof data !== 'number') assertFinite(quantity, data);

    return {
      loss: result.loss,
      z: toJson(result.z, targets),
      a: toJson(result.a, targets),
      delta: toJson(result.delta, targets),
      weightGradient: toJson(result.weightGradient, weights) as number[][],
      biasGradient: Array.from(result.biasGradient),
      inputGradient: toJson(result.inputGradient, x),
    };
  });
};

export default outputLayerRoutes;

/** POST /v1/gradients/output-layer: the output-layer operation of the table (src/operations/output-layer.ts). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withBinaryTensors } from '../schemas/binary.js';
import { outputLayerSchema } from '../schemas/output-layer.js';
import { operationHandler, routePlugin } from './support.js';

const tensorFields = ['x', 'weights', 'bias', 'targets'];

const outputLayerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const schema = withBinaryTensors(outputLayerSchema, {
    inputs: tensorFields,
    outputs: ['z', 'a', 'delta', 'weightGradient', 'biasGradient', 'inputGradient'],
    numbers: ['loss'],
  });
  app.post(
    '/v1/gradients/output-layer',
    { schema },
    operationHandler(app, {
      operation: 'output-layer',
      tensorFields,
      optionFields: ['activation', 'loss', 'reduction'],
    }),
  );
};

export default routePlugin('output-layer-routes', outputLayerRoutes);

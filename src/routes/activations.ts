/**
 * The activation catalog and the activation operations (forward, derivative, second-derivative, jacobian, vjp)
 * for the name in the path: everything comes from the tables, no name is special.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Activation, activations } from '../core/activations/index.js';
import {
  activationSchema,
  catalogSchema,
  derivativeSchema,
  forwardSchema,
  secondDerivativeSchema,
  vectorJacobianSchema,
  vectorVjpSchema,
} from '../schemas/activations.js';
import { withBinaryTensors } from '../schemas/binary.js';
import {
  activationFor,
  activationFromPath,
  knownActivation,
  operationHandler,
  routePlugin,
} from './support.js';

function info(entry: Activation) {
  return {
    name: entry.name,
    aliases: [...entry.aliases],
    kind: entry.kind,
    params: entry.params.map((p) => ({
      name: p.name,
      default: p.default,
      description: p.description,
      ...(p.minimum !== undefined ? { minimum: p.minimum } : {}),
      ...(p.exclusiveMinimum !== undefined ? { exclusiveMinimum: p.exclusiveMinimum } : {}),
    })),
    formula: entry.formula,
    derivativeFormula: entry.derivativeFormula,
    derivativeFromOutput: entry.kind === 'elementwise' && entry.derivativeFromOutput !== undefined,
    secondDerivativeFormula: entry.secondDerivativeFormula,
    secondDerivativeFromOutput:
      entry.kind === 'elementwise' && entry.secondDerivativeFromOutput !== undefined,
    ...(entry.kind === 'elementwise' && entry.secondDerivativeNote
      ? { secondDerivativeNote: entry.secondDerivativeNote }
      : {}),
    description: entry.description,
    plot: `/v1/activations/${entry.name}/plot.svg`,
  };
}

const activationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/v1/activations', { schema: catalogSchema }, async () => ({ activations: activations.map(info) }));

  app.get(
    '/v1/activations/:name',
    { schema: activationSchema, onRequest: knownActivation },
    async (request) => info(activationFor(request.params.name)),
  );

  app.post(
    '/v1/activations/:name/forward',
    {
      schema: withBinaryTensors(forwardSchema, { inputs: ['z'], outputs: ['a'] }),
      onRequest: knownActivation,
    },
    operationHandler(app, { operation: 'forward', activation: activationFromPath, tensorFields: ['z'] }),
  );

  app.post(
    '/v1/activations/:name/derivative',
    {
      schema: withBinaryTensors(derivativeSchema, { inputs: ['z', 'a'], outputs: ['derivative', 'a'] }),
      onRequest: knownActivation,
    },
    operationHandler(app, {
      operation: 'derivative',
      activation: activationFromPath,
      tensorFields: ['z', 'a'],
    }),
  );

  app.post(
    '/v1/activations/:name/second-derivative',
    {
      schema: withBinaryTensors(secondDerivativeSchema, {
        inputs: ['z', 'a'],
        outputs: ['secondDerivative', 'derivative', 'a'],
      }),
      onRequest: knownActivation,
    },
    operationHandler(app, {
      operation: 'second-derivative',
      activation: activationFromPath,
      tensorFields: ['z', 'a'],
    }),
  );

  app.post(
    '/v1/activations/:name/jacobian',
    {
      schema: withBinaryTensors(vectorJacobianSchema, { inputs: ['z', 'a'], outputs: ['a', 'jacobian'] }),
      onRequest: knownActivation,
    },
    operationHandler(app, {
      operation: 'jacobian',
      activation: activationFromPath,
      tensorFields: ['z', 'a'],
    }),
  );

  app.post(
    '/v1/activations/:name/vjp',
    {
      schema: withBinaryTensors(vectorVjpSchema, { inputs: ['z', 'a', 'v'], outputs: ['a', 'gradient'] }),
      onRequest: knownActivation,
    },
    operationHandler(app, {
      operation: 'vjp',
      activation: activationFromPath,
      tensorFields: ['z', 'a', 'v'],
    }),
  );
};

export default routePlugin('activation-routes', activationRoutes);

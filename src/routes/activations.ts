/** The activation catalog, forward and derivative: everything comes from the table, no name is special. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import {
  type Activation,
  activations,
  activationsWithDerivativeFromOutput,
  firstImpossibleOutput,
} from '../core/activations/index.js';
import { HttpProblem, invalid } from '../plugins/problem.js';
import { activationSchema, catalogSchema, derivativeSchema, forwardSchema } from '../schemas/activations.js';
import { withBinaryTensors } from '../schemas/binary.js';
import { shapeOf } from '../workers/jobs.js';
import { activationFor, paramsFor, pickInput, readTensor, respond, rethrowValidation } from './support.js';

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
    description: entry.description,
    plot: `/v1/activations/${entry.name}/plot.svg`,
  };
}

const activationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/v1/activations', { schema: catalogSchema }, async () => ({ activations: activations.map(info) }));

  app.get('/v1/activations/:name', { schema: activationSchema, attachValidation: true }, async (request) =>
    info(activationFor(request.params.name)),
  );

  app.post(
    '/v1/activations/:name/forward',
    {
      schema: withBinaryTensors(forwardSchema, { inputs: ['z'], outputs: ['a'] }),
      attachValidation: true,
    },
    async (request, reply) => {
      const entry = activationFor(request.params.name);
      rethrowValidation(request);
      const z = readTensor('z', request.body.z);
      const params = paramsFor(entry, request.body.params);
      return respond(app, request, reply, {
        kind: 'forward',
        activation: entry.name,
        params,
        z: z.data,
        shape: shapeOf(z),
      });
    },
  );

  app.post(
    '/v1/activations/:name/derivative',
    {
      schema: withBinaryTensors(derivativeSchema, { inputs: ['z', 'a'], outputs: ['derivative', 'a'] }),
      attachValidation: true,
    },
    async (request, reply) => {
      const entry = activationFor(request.params.name);
      if (entry.kind !== 'elementwise')
        throw new HttpProblem(
          400,
          'vector-activation',
          `${entry.name} is not elementwise (each output depends on the whole row), so it has a Jacobian, not ` +
            'an elementwise derivative: use POST /v1/softmax/jacobian for the Jacobian or POST /v1/softmax/vjp ' +
            'for v^T J.',
        );
      rethrowValidation(request);
      const input = pickInput(request.body);
      const t = readTensor(input.from, input.value);
      const params = paramsFor(entry, request.body.params);
      if (input.from === 'a') {
        if (!entry.derivativeFromOutput) {
          const allowed = activationsWithDerivativeFromOutput().map((e) => e.name);
          const message = `${entry.name}'s derivative cannot be computed from a alone: send z instead (from a: ${allowed.join(', ')})`;
          throw new HttpProblem(400, 'derivative-from-output-unsupported', `${message}.`, [
            { path: '/a', message },
          ]);
        }
        const impossible = firstImpossibleOutput(entry, t.data, params);
        if (impossible) {
          const path = t.batched
            ? `/a/${Math.floor(impossible.index / t.cols)}/${impossible.index % t.cols}`
            : `/a/${impossible.index}`;
          throw invalid([{ path, message: `${impossible.message} (${entry.name})` }]);
        }
      }
      return respond(app, request, reply, {
        kind: 'derivative',
        activation: entry.name,
        params,
        from: input.from,
        input: t.data,
        shape: shapeOf(t),
      });
    },
  );
};

export default activationRoutes;

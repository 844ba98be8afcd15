/** /v1/softmax/jacobian and /vjp: the jacobian and vjp operations of the table, for softmax. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { withBinaryTensors } from '../schemas/binary.js';
import { jacobianSchema, vjpSchema } from '../schemas/softmax.js';
import { activationFor, operationHandler, routePlugin } from './support.js';

const softmaxRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const softmax = activationFor('softmax');
  const activation = () => softmax;

  const jacobianRoute = withBinaryTensors(jacobianSchema, { inputs: ['z', 'a'], outputs: ['a', 'jacobian'] });
  app.post(
    '/v1/softmax/jacobian',
    { schema: jacobianRoute },
    operationHandler(app, { operation: 'jacobian', activation, tensorFields: ['z', 'a'] }),
  );

  const vjpRoute = withBinaryTensors(vjpSchema, { inputs: ['z', 'a', 'v'], outputs: ['a', 'gradient'] });
  app.post(
    '/v1/softmax/vjp',
    { schema: vjpRoute },
    operationHandler(app, { operation: 'vjp', activation, tensorFields: ['z', 'a', 'v'] }),
  );
};

export default routePlugin('softmax-routes', softmaxRoutes);

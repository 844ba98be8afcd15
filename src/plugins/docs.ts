/**
 * The OpenAPI 3.1 document, generated from the route schemas by @fastify/swagger, served at
 * /openapi.json and /openapi.yaml, with Swagger UI at /docs. Registered (awaited) before the routes,
 * so that it sees every route as it is added.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { documentBearerAuth } from './auth.js';

const description = `Activation functions, their derivatives, softmax Jacobians and vector-Jacobian products, and
the gradients of a dense output layer, all in float64.

**Tensors** are JSON arrays: \`[K]\` for one sample, \`[N][K]\` for a batch. A response tensor has the shape of
the request tensor it derives from. At most MAX_ELEMENTS numbers (default 1,000,000) in any request or response
tensor, and at most BODY_LIMIT bytes (default 32 MiB) of body: 413 beyond. JSON has no NaN or Infinity: a
result that is not finite is a 422 naming the quantity, never a \`null\`.

**Errors** are RFC 9457 \`application/problem+json\` with \`type, title, status, detail, instance, requestId\`,
and \`errors: [{ path, message }]\` (JSON pointers into the body) for validation failures. Unknown fields, unknown
params and out-of-range params are a 400; an unknown activation name is a 404 listing the known names.

**Request ids**: send \`x-request-id\` (1-128 characters of \`A-Z a-z 0-9 . _ : @ / + = -\`) to have it used;
otherwise one is generated. It is echoed in the \`x-request-id\` response header, in every log line and in
problem bodies.`;

export const openapiInfo = {
  title: 'gradient-service',
  version: '1.0.0',
  description,
};

export default fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: openapiInfo,
        tags: [
          { name: 'activations', description: 'The activation catalog, forward pass and derivatives.' },
          { name: 'softmax', description: 'Softmax Jacobian and vector-Jacobian product.' },
          { name: 'gradients', description: 'Output-layer gradients.' },
          { name: 'operations', description: 'Liveness and readiness probes.' },
        ],
      },
      // With API_KEYS set, the document shows the bearer scheme on the routes that need it.
      ...(app.config.apiKeys.length
        ? {
            transformObject: (document) =>
              documentBearerAuth(
                'openapiObject' in document ? document.openapiObject : document.swaggerObject,
              ),
          }
        : {}),
      // Shared schemas appear under their $id (Tensor, Problem, ...) instead of def-0, def-1, ...
      refResolver: {
        buildLocalReference: (json, _baseUri, _fragment, i) =>
          typeof json.$id === 'string' ? json.$id : `def-${i}`,
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });

    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    app.get('/openapi.yaml', { schema: { hide: true } }, async (_request, reply) =>
      reply.type('application/yaml; charset=utf-8').send(app.swagger({ yaml: true })),
    );
  },
  { name: 'docs' },
);

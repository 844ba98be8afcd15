/** Liveness and readiness. Readiness reads app.readiness, which shutdown (or load shedding) flips. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ServiceError } from '../errors.js';
import { healthSchema, readySchema } from '../schemas/health.js';

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', { schema: healthSchema }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', { schema: readySchema }, async () => {
    if (!app.readiness.ready) throw new ServiceError(503, 'not-ready', app.readiness.reason ?? 'Not ready.');
    return { status: 'ready' as const };
  });
};

export default healthRoutes;

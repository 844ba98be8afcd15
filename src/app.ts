/** Builds the app: plugins, shared schemas, then routes. Tests and server.ts both start here. */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyServerOptions } from 'fastify';
import type { AppConfig } from './config.js';
import { lingerMaxBytes, maxParamLength, redactedPaths, timeoutOptions } from './http-options.js';
import auth from './plugins/auth.js';
import binaryTensor from './plugins/binary-tensor.js';
import {
  answerNodeLevelRequests,
  clientErrorHandler,
  frameworkErrors,
  rememberingRequestId,
} from './plugins/client-errors.js';
import compression from './plugins/compression.js';
import docs from './plugins/docs.js';
import elementLimit from './plugins/element-limit.js';
import linger from './plugins/linger.js';
import memoryBudget from './plugins/memory-budget.js';
import metrics from './plugins/metrics.js';
import overload, { type OverloadOptions } from './plugins/overload.js';
import problem from './plugins/problem.js';
import rateLimit from './plugins/rate-limit.js';
import requestId, { genReqId } from './plugins/request-id.js';
import { QuietProbeLogController } from './request-logging.js';
import activationRoutes from './routes/activations.js';
import healthRoutes from './routes/health.js';
import networkRoutes from './routes/network.js';
import outputLayerRoutes from './routes/output-layer.js';
import plotRoutes from './routes/plot.js';
import softmaxRoutes from './routes/softmax.js';
import v2Routes from './routes/v2.js';
import { sharedSchemas } from './schemas/index.js';
import type { OffloadConfig } from './workers/config.js';

/** Whether the app takes traffic; graceful shutdown or load shedding set ready = false with a reason. */
export interface Readiness {
  ready: boolean;
  reason?: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: AppConfig;
    readiness: Readiness;
  }
}

export interface BuildOptions {
  /** Overrides the logger built from config.logLevel (tests pass false). */
  logger?: FastifyServerOptions['logger'];
  /** Where the logger built from config writes (stdout by default; tests capture it). */
  logStream?: { write(line: string): void };
  /** Worker pool settings overriding those of config.offload (tests set a tiny threshold). */
  offload?: Partial<OffloadConfig>;
  /** The overload sampler's delay histogram (tests give a fake one rather than block the event loop). */
  delayMonitor?: OverloadOptions['delayMonitor'];
}

/** TRUST_PROXY as Fastify takes it: a hop count as the function proxy-addr would compile from it. */
function trustProxyOption(trust: AppConfig['trustProxy']) {
  if (typeof trust === 'number') return (_address: string, hop: number) => hop < trust;
  return typeof trust === 'boolean' ? trust : [...trust];
}

export async function buildApp(config: AppConfig, options: BuildOptions = {}) {
  const app = Fastify({
    logger: options.logger ?? {
      level: config.logLevel,
      redact: redactedPaths,
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    ...timeoutOptions(config),
    bodyLimit: config.bodyLimit,
    trustProxy: trustProxyOption(config.trustProxy),
    genReqId: rememberingRequestId(genReqId),
    requestIdHeader: false,
    // Errors decided before a route: in the same shapes as every other error (client-errors.ts).
    clientErrorHandler,
    frameworkErrors,
    routerOptions: { maxParamLength },
    // Probes log their request lines at debug (request-logging.ts).
    logController: new QuietProbeLogController({ requestIdLogLabel: 'requestId' }),
    ajv: {
      // No coercion ("3" is not 3) and no silent stripping (a typo'd field is a 400). allErrors stays
      // off: with it, a million bad numbers cost seconds and a 60 MB error body.
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('config', config);
  answerNodeLevelRequests(app);
  app.decorate('readiness', { ready: true } as Readiness);

  // Replies are built to their schema by the routes; JSON.stringify is faster than fast-json-stringify's
  // anyOf dispatch on large tensors, and every number is checked finite before it gets here.
  // Fastify parses text/plain by default; every body here is JSON, so anything else is a 415.
  app.removeContentTypeParser('text/plain');
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  await app.register(requestId);
  await app.register(problem);
  await app.register(linger, { maxBytes: lingerMaxBytes(config) });
  await app.register(compression);
  await app.register(metrics);
  await app.register(overload, {
    maxEventLoopDelayMs: config.maxEventLoopDelayMs,
    maxHeapUsedBytes: config.maxHeapUsedBytes,
    delayMonitor: options.delayMonitor,
  });
  await app.register(auth, { apiKeys: config.apiKeys, metricsAuth: config.metricsAuth });
  await app.register(rateLimit, { perMinute: config.rateLimit });
  await app.register(memoryBudget, { budgetBytes: config.memoryBudgetBytes });
  await app.register(elementLimit, { maxElements: config.maxElements });
  await app.register(binaryTensor, {
    offload: { ...config.offload, ...options.offload },
    maxElements: config.maxElements,
  });
  for (const schema of sharedSchemas) app.addSchema(schema);
  await app.register(docs);

  await app.register(healthRoutes);
  await app.register(activationRoutes);
  await app.register(softmaxRoutes);
  await app.register(outputLayerRoutes);
  await app.register(networkRoutes);
  await app.register(plotRoutes);
  await app.register(v2Routes, { prefix: '/v2' });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;

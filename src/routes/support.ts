/**
 * What the /v1 routes share: the route-level 404 for an unknown activation (decided before the body is read),
 * reading body tensors into the operations' form, and the generic route that renders one operation of the
 * table (src/operations) as a /v1 endpoint.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { headerLengthHeader } from '../codec/binary-tensor.js';
import { type Activation, activationNames, findActivation } from '../core/activations/index.js';
import { dimsOf, fromJson, type JsonTensor, PackedTensor, ShapeError } from '../core/tensor.js';
import { UnknownNameError } from '../errors.js';
import {
  type Job,
  jobSize,
  type OperationName,
  prepareJob,
  runJob,
  type TensorValue,
} from '../operations/index.js';
import { replyFormat } from '../plugins/binary-tensor.js';
import { shapeProblem } from '../plugins/problem.js';
import { type EncodedReply, encodeReply, tensorMediaType } from '../serialize/reply.js';

/**
 * The plugins a route plugin needs registered before it: errors rendered (problem), load shed, keys and rate
 * limits applied to its routes as they are declared (overload, auth, rate-limit), bodies parsed and counted
 * (element-limit, binary-tensor: offload), results counted (metrics: countResult), routes documented (docs).
 * Fastify refuses to start when one is missing or registered later, so the order is checked, not commented.
 */
export const routeDependencies = [
  'problem',
  'metrics',
  'overload',
  'auth',
  'rate-limit',
  'element-limit',
  'binary-tensor',
  'docs',
];

/** A route plugin with its name and routeDependencies; still encapsulated (/v2 keeps its own handlers). */
export const routePlugin = (name: string, plugin: FastifyPluginAsyncTypebox) =>
  fp(plugin, { name, dependencies: routeDependencies, encapsulate: true });

/** The table entry for a path's name or alias; 404 listing every known name otherwise. */
export function activationFor(name: string): Activation {
  const entry = findActivation(name);
  if (!entry)
    throw new UnknownNameError(
      'unknown-activation',
      `Unknown activation ${JSON.stringify(name)}. Known names and aliases: ${activationNames.join(', ')}.`,
    );
  return entry;
}

/**
 * Route-level onRequest hook of every route with a {name} path parameter: an unknown name is a 404 before
 * the body is read or parsed (a 10 MB body to an unknown name costs nothing), and the schema's enum of names
 * then always passes.
 */
export const knownActivation: onRequestHookHandler = (request, _reply, done) => {
  try {
    activationFor((request.params as { name: string }).name);
    done();
  } catch (error) {
    done(error as Error);
  }
};

/**
 * A body tensor in the operations' form. A tensor that arrived packed (binary, or JSON parsed in the worker
 * pool, both checked there) is used as it is; a JSON one is converted, its ShapeError a 400 at `field`.
 */
export function tensorValue(field: string, value: JsonTensor | PackedTensor): TensorValue {
  if (value instanceof PackedTensor) return { data: value.data, shape: dimsOf(value) };
  try {
    const t = fromJson(value);
    return { data: t.data, shape: dimsOf(t) };
  } catch (error) {
    if (error instanceof ShapeError) throw shapeProblem(field, error);
    throw error;
  }
}

/** How a /v1 route renders an operation: which body fields are its tensors and options. */
export interface OperationRoute {
  readonly operation: OperationName;
  /** The activation, when the operation takes one from the route (the path's name, or a fixed one). */
  readonly activation?: (request: FastifyRequest) => Activation;
  readonly tensorFields: readonly string[];
  readonly optionFields?: readonly string[];
}

type Body = Record<string, unknown> & { params?: Record<string, unknown> };

/** The handler of a /v1 operation route: body -> OperationRequest -> job -> reply. */
export function operationHandler(app: FastifyInstance, route: OperationRoute) {
  // Not async: a small job is answered before the handler returns (undefined: the reply is sent), with no
  // promise per request; a job in the worker pool returns the promise of its reply. Fastify takes both.
  return (request: FastifyRequest, reply: FastifyReply): Promise<void> | undefined => {
    const body = request.body as Body;
    const tensors = new Map<string, TensorValue>();
    for (const field of route.tensorFields)
      if (body[field] !== undefined)
        tensors.set(field, tensorValue(field, body[field] as JsonTensor | PackedTensor));
    const options: Record<string, unknown> = {};
    for (const field of route.optionFields ?? []) if (body[field] !== undefined) options[field] = body[field];
    const job = prepareJob(route.operation, {
      activation: route.activation?.(request),
      tensors,
      params: body.params,
      options,
      pointers: { params: '/params', options: '' },
      maxElements: app.config.maxElements,
    });
    return respond(app, request, reply, job);
  };
}

/** The activation named by the path (known: knownActivation ran first). */
export const activationFromPath = (request: FastifyRequest): Activation =>
  activationFor((request.params as { name: string }).name);

/**
 * Runs a job and sends the reply in the negotiated form (JSON or binary tensors). Jobs past OFFLOAD_THRESHOLD
 * run in the worker pool, which also writes the reply there (the promise of the sent reply); smaller ones run
 * here, sent before respond returns (undefined).
 */
export function respond(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  job: Job,
): Promise<void> | undefined {
  const format = replyFormat(request);
  // The promise settles when the reply has been written (a FastifyReply is a thenable that does): settled
  // earlier, while a compressed reply's onSend stream is still running, Fastify takes the handler's undefined
  // for a reply not sent yet and sends an empty body in its place.
  if (app.offload.offloads(jobSize(job)))
    return app.offload.run(job, format).then(async (encoded) => {
      send(app, request, reply, job, encoded);
      await reply;
    });
  send(app, request, reply, job, encodeReply(runJob(job), format));
  return undefined;
}

/** Counts the job's results and sends its encoded reply. */
function send(
  app: FastifyInstance,
  request: FastifyRequest,
  reply: FastifyReply,
  job: Job,
  encoded: EncodedReply,
): void {
  app.countResult(request, job);
  // The form depends on Accept: caches must not serve one client's form to another.
  reply.header('vary', 'Accept');
  if (encoded.format === 'json') reply.type('application/json; charset=utf-8').send(encoded.body);
  else
    reply.header(headerLengthHeader, String(encoded.headerLength)).type(tensorMediaType).send(encoded.body);
}

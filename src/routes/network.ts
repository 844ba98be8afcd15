/**
 * POST /v1/gradients/network, POST /v1/gradients/network/hessian-vector and POST /v1/gradients/check: the network,
 * network-hessian-vector and check operations of the table (src/operations/network.ts). The body's nested tensors
 * (layers[l].weights, vector.layers[l].weights, gradients.layers[l].weightGradient) become the operation's dotted
 * tensor names; in a binary body they arrive under those names as inputs.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PackedTensor } from '../core/tensor.js';
import { InvalidRequestError, invalidField } from '../errors.js';
import { type OperationName, prepareJob, type TensorValue } from '../operations/index.js';
import {
  biasName,
  pointerOf,
  vectorBiasName,
  vectorWeightsName,
  weightsName,
} from '../operations/network.js';
import { withBinaryTensors } from '../schemas/binary.js';
import {
  CheckHeader,
  CheckReply,
  checkInputPattern,
  checkSchema,
  HessianVectorHeader,
  hessianVectorInputPattern,
  hessianVectorOutputPattern,
  hessianVectorSchema,
  NetworkHeader,
  networkInputPattern,
  networkOutputPattern,
  networkSchema,
} from '../schemas/network.js';
import { respond, tensorValue } from './support.js';

type Body = Record<string, unknown>;
type Layer = { weights?: unknown; bias?: unknown; activation?: unknown; params?: Record<string, unknown> };
type GivenLayer = {
  weightGradient?: unknown;
  biasGradient?: unknown;
  weightProduct?: unknown;
  biasProduct?: unknown;
} | null;
type DirectionLayer = { weights?: unknown; bias?: unknown };

/**
 * Reads the tensor at `name` (dotted) from the body: nested JSON (`json`, found under the body's structure) or
 * a binary input of that name, not both.
 */
function readNested(body: Body, tensors: Map<string, TensorValue>, name: string, json: unknown): void {
  const packed = body[name];
  if (json !== undefined && packed !== undefined)
    throw invalidField(pointerOf(name), `is given twice: inline in the JSON header and as the input ${name}`);
  const value = json ?? packed;
  if (value === undefined) return;
  tensors.set(name, tensorValue(pointerOf(name).slice(1), value as PackedTensor));
}

function networkRequest(body: Body) {
  const tensors = new Map<string, TensorValue>();
  for (const field of ['x', 'targets'])
    if (body[field] !== undefined) tensors.set(field, tensorValue(field, body[field] as PackedTensor));
  const layers = (body.layers ?? []) as Layer[];
  for (const [l, layer] of layers.entries()) {
    readNested(body, tensors, weightsName(l), layer.weights);
    readNested(body, tensors, biasName(l), layer.bias);
  }
  // Binary inputs for layers the network does not have: the operation names them.
  readUnlisted(body, tensors, 'layers.');
  const options: Record<string, unknown> = {
    layers: layers.map(({ activation, params }) => ({ activation, params })),
  };
  for (const field of ['loss', 'reduction', 'intermediates'])
    if (body[field] !== undefined) options[field] = body[field];
  return { tensors, options, layerCount: layers.length };
}

/** Binary inputs under `prefix` that the JSON lists do not reach: the operation names those it has no place for. */
function readUnlisted(body: Body, tensors: Map<string, TensorValue>, prefix: string): void {
  for (const name of Object.keys(body))
    if (name.startsWith(prefix) && body[name] instanceof PackedTensor && !tensors.has(name))
      tensors.set(name, tensorValue(pointerOf(name).slice(1), body[name] as PackedTensor));
}

/** The direction `vector` (its entries nested or as inputs) and `curvature`, added to a network request. */
function readDirection(body: Body, request: ReturnType<typeof networkRequest>): void {
  const vector = (body.vector ?? {}) as { layers?: DirectionLayer[] };
  for (const [l, layer] of (vector.layers ?? []).entries()) {
    readNested(body, request.tensors, vectorWeightsName(l), layer.weights);
    readNested(body, request.tensors, vectorBiasName(l), layer.bias);
  }
  readUnlisted(body, request.tensors, 'vector.');
  if (body.curvature !== undefined) request.options.curvature = body.curvature;
}

function hessianVectorRequest(body: Body) {
  const request = networkRequest(body);
  readDirection(body, request);
  return request;
}

function checkRequest(body: Body) {
  const request = networkRequest(body);
  readDirection(body, request);
  const gradients = (body.gradients ?? {}) as {
    loss?: number;
    layers?: GivenLayer[];
    inputGradient?: unknown;
  };
  const given = gradients.layers ?? [];
  if (given.length > request.layerCount)
    throw new InvalidRequestError([
      {
        path: '/gradients/layers',
        message: `has ${given.length} entries but the network has ${request.layerCount} layers`,
      },
    ]);
  for (const [l, layer] of given.entries())
    for (const quantity of ['weightGradient', 'biasGradient', 'weightProduct', 'biasProduct'] as const)
      readNested(body, request.tensors, `gradients.layers.${l}.${quantity}`, layer?.[quantity]);
  readNested(body, request.tensors, 'gradients.inputGradient', gradients.inputGradient);
  // Binary inputs for layers the JSON list does not reach (or with no list at all).
  readUnlisted(body, request.tensors, 'gradients.');
  if (gradients.loss !== undefined) request.options['gradients.loss'] = gradients.loss;
  for (const field of ['rtol', 'atol']) if (body[field] !== undefined) request.options[field] = body[field];
  return request;
}

function handler(
  app: FastifyInstance,
  operation: OperationName,
  read: (body: Body) => ReturnType<typeof networkRequest>,
) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const { tensors, options } = read(request.body as Body);
    const job = prepareJob(operation, {
      tensors,
      options,
      pointers: { params: '/params', options: '' },
      maxElements: app.config.maxElements,
    });
    await respond(app, request, reply, job);
    // Until the reply is written (see respond: an inline job's compressed reply may still be streaming).
    await reply;
  };
}

const networkRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const outputs = { outputs: ['loss', 'inputGradient'], outputPattern: networkOutputPattern };
  app.post(
    '/v1/gradients/network',
    {
      schema: withBinaryTensors(networkSchema, {
        inputs: ['x', 'targets'],
        inputPattern: networkInputPattern,
        header: NetworkHeader,
        numbers: ['loss'],
        ...outputs,
      }),
    },
    handler(app, 'network', networkRequest),
  );
  app.post(
    '/v1/gradients/network/hessian-vector',
    {
      schema: withBinaryTensors(hessianVectorSchema, {
        inputs: ['x', 'targets'],
        inputPattern: hessianVectorInputPattern,
        header: HessianVectorHeader,
        numbers: ['loss', 'directionalDerivative'],
        outputs: [],
        outputPattern: hessianVectorOutputPattern,
      }),
    },
    handler(app, 'network-hessian-vector', hessianVectorRequest),
  );
  app.post(
    '/v1/gradients/check',
    {
      schema: withBinaryTensors(checkSchema, {
        inputs: ['x', 'targets'],
        inputPattern: checkInputPattern,
        header: CheckHeader,
        outputs: [],
        headerFields: CheckReply.properties,
      }),
    },
    handler(app, 'check', checkRequest),
  );
};

export default networkRoutes;

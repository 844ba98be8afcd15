/**
 * A compatible subset of the Open Inference Protocol (KServe v2 / Triton) under /v2, with the binary tensor
 * data extension: server metadata and health, model metadata and readiness, inference. Registered with the
 * prefix /v2 as an encapsulated plugin, so that its body parsers and its error format ({ "error": "..." },
 * application/json, as the protocol has it) stay inside /v2; /v1 keeps problem+json.
 */

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest, onRequestHookHandler, onResponseHookHandler } from 'fastify';
import {
  BinaryTensorError,
  decodeFloats,
  elementCount,
  type FloatDatatype,
  floatDatatypes,
  headerLengthHeader,
  isFloatDatatype,
  parseBinaryBody,
} from '../codec/binary-tensor.js';
import { clipText } from '../error-size.js';
import { ServiceError, TooManyElementsError } from '../errors.js';
import { type InferenceReplySpec, type OutputChoice, writeInferenceReply } from '../inference/reply.js';
import { flattenData } from '../inference/tensor-data.js';
import { jobSize, prepareJob, runJob, type TensorValue } from '../operations/index.js';
import { hasBody } from '../plugins/compression.js';
import { openapiInfo } from '../plugins/docs.js';
import { classifyError, logError, sendInferenceError } from '../plugins/problem.js';
import {
  inferSchema,
  modelMetadataSchema,
  modelReadySchema,
  modelStatisticsSchema,
  repositoryIndexSchema,
  serverLiveSchema,
  serverMetadataSchema,
  serverReadySchema,
} from '../schemas/v2.js';
import { jsonBytesPerElement } from '../workers/config.js';
import { routePlugin } from './support.js';
import { isModel, type Model, modelFor, modelNames, models, modelVersion } from './v2-models.js';
import { ModelStatistics } from './v2-stats.js';

export const extensions = ['binary_tensor_data', 'statistics', 'model_repository'] as const;
const platform = 'gradient-service';

/** A 400 in the protocol's terms: the message names the input, output or parameter. */
const badRequest = (message: string) => new ServiceError(400, 'invalid-request', message);

interface RequestInput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data?: unknown[];
}
interface RequestOutput {
  name: string;
  parameters?: Record<string, unknown>;
}
interface InferenceRequestBody {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: RequestInput[];
  outputs?: RequestOutput[];
}

/** The binary chunks of a request, by input name, from the body parser to the handler. */
const binaryChunks = new WeakMap<FastifyRequest, Map<string, Buffer>>();

/** The inputs' data of a request the pool parsed, flattened, by input index, from the body parser to the handler. */
const packedData = new WeakMap<FastifyRequest, readonly (Float64Array | undefined)[]>();

/** A JSON value as an error message shows it: never the whole of a large array, object or string. */
function describeValue(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length} elements`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return clipText(JSON.stringify(value), 60);
  return String(value);
}

/** flattenData (src/inference/tensor-data.ts) with its refusals worded for the client, naming the input. */
function flatten(data: unknown[], shape: readonly number[], count: number, fp32: boolean, label: string) {
  const shapeText = `[${shape.join(', ')}]`;
  return flattenData(data, shape, count, fp32, (refusal) => {
    if (refusal.kind === 'length')
      throw badRequest(`${label}: data has ${refusal.length} elements but shape ${shapeText} needs ${count}`);
    if (refusal.kind === 'element')
      throw badRequest(
        `${label}: data${refusal.where} must be a finite number${fp32 ? ' within the FP32 range' : ''} (got ${describeValue(refusal.value)})`,
      );
    throw badRequest(
      `${label}: data${refusal.where} must be an array of ${shape[refusal.depth]} (dimension ${refusal.depth} of shape ${shapeText}), got ${describeValue(refusal.node)}`,
    );
  });
}

/**
 * An input's tensor, from its binary chunk, from data the pool flattened already (`packed`), or from its JSON
 * data; every check but the data's own is made here whichever way it came.
 */
function readRequestInput(
  input: RequestInput,
  chunk: Buffer | undefined,
  packed: Float64Array | undefined,
  maxElements: number,
): TensorValue {
  const label = `input ${JSON.stringify(input.name)}`;
  const count = elementCount(input.shape, label);
  if (count > maxElements) throw new TooManyElementsError(label, count, maxElements);
  if (!isFloatDatatype(input.datatype))
    throw badRequest(
      `${label}: unsupported datatype ${JSON.stringify(input.datatype)}: this server reads ${floatDatatypes.join(' and ')}`,
    );
  for (const key of Object.keys(input.parameters ?? {}))
    if (key !== 'binary_data_size')
      throw badRequest(`${label}: unknown parameter ${key} (inputs take binary_data_size)`);
  if (chunk) {
    const data = decodeFloats(chunk, input.datatype);
    for (let i = 0; i < data.length; i++)
      if (!Number.isFinite(data[i]))
        throw badRequest(`${label}: binary element ${i} is not finite (${data[i]})`);
    return { data, shape: input.shape };
  }
  if (packed) return { data: packed, shape: input.shape };
  if (input.data === undefined) throw badRequest(`${label} has neither data nor parameters.binary_data_size`);
  return {
    data: flatten(input.data, input.shape, count, input.datatype === 'FP32', label),
    shape: input.shape,
  };
}

/**
 * FP32 when every input is FP32 (a client sending FP32 expects FP32 back, as from Triton), else FP64: the
 * datatype of outputs that do not ask for one.
 */
const defaultOutputDatatype = (body: InferenceRequestBody): FloatDatatype =>
  body.inputs.every((input) => input.datatype === 'FP32') ? 'FP32' : 'FP64';

function outputChoices(
  model: Model,
  body: InferenceRequestBody,
  binaryAll: boolean,
): OutputChoice[] | undefined {
  if (!body.outputs) return undefined;
  const known = model.outputs.map((o) => o.name);
  const seen = new Set<string>();
  return body.outputs.map((output) => {
    const label = `output ${JSON.stringify(output.name)}`;
    if (!known.includes(output.name))
      throw badRequest(`${label} is not an output of ${model.name} (outputs: ${known.join(', ')})`);
    if (seen.has(output.name)) throw badRequest(`${label} is requested twice`);
    seen.add(output.name);
    const {
      binary_data: binary = binaryAll,
      datatype = defaultOutputDatatype(body),
      ...rest
    } = output.parameters ?? {};
    const unknown = Object.keys(rest);
    if (unknown.length)
      throw badRequest(`${label}: unknown parameter ${unknown[0]} (outputs take binary_data, datatype)`);
    if (typeof binary !== 'boolean') throw badRequest(`${label}: binary_data must be a boolean`);
    if (!isFloatDatatype(datatype))
      throw badRequest(
        `${label}: unsupported datatype ${JSON.stringify(datatype)}: this server writes ${floatDatatypes.join(' and ')}`,
      );
    return { name: output.name, binary, datatype };
  });
}

/** The path's model and version: route-level onRequest, so an unknown model is a 404 before the body is read. */
const knownModel: onRequestHookHandler = (request, _reply, done) => {
  try {
    const { name, version } = request.params as { name: string; version?: string };
    modelFor(name, version);
    done();
  } catch (error) {
    done(error as Error);
  }
};

/** Every model, READY: they are built in and always loaded. */
const repositoryIndex = () =>
  models.map((m) => ({ name: m.name, version: modelVersion, state: 'READY', reason: '' }));

const v2Routes: FastifyPluginAsyncTypebox = async (app) => {
  const { maxElements, bodyLimit } = app.config;
  const { threshold } = app.offload.config;
  const offloadBytes = threshold > 0 ? threshold * jsonBytesPerElement : Number.POSITIVE_INFINITY;
  const statistics = new ModelStatistics();
  // Each inference request of a known model, once answered (an unknown model's 404 is no model's).
  const countInference: onResponseHookHandler = (request, reply, done) => {
    const { name } = request.params as { name: string };
    if (isModel(name)) statistics.record(name, reply.statusCode, reply.elapsedTime * 1e6);
    done();
  };

  app.setErrorHandler((error, request, reply) => {
    const classified = classifyError(error, request);
    logError(request, error, classified);
    return sendInferenceError(reply, classified);
  });

  // No not-found handler here: problem.ts's answers /v2 paths as { error }, with the 405 and its Allow header.

  // A body without Content-Type is read as the protocol reads it (Triton ignores the header, and its own
  // tritonclient.http sends none): binary when Inference-Header-Content-Length is given, JSON otherwise. Set
  // through request.headers (Fastify's documented setter) before parsing, so that the parser and the body
  // schema of that media type both apply. A body with a foreign Content-Type is still a 415.
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const { headers } = request;
    if (headers['content-type'] === undefined && hasBody(headers))
      request.headers = {
        'content-type':
          headers[headerLengthHeader] !== undefined ? 'application/octet-stream' : 'application/json',
      };
    done(null, payload);
  });

  // The JSON header, then binary data when Inference-Header-Content-Length says where the JSON ends. Scoped to
  // /v2, so /v1 keeps the default JSON parser.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/json', 'application/octet-stream'],
    { parseAs: 'buffer', bodyLimit },
    (request, raw, done) => {
      const body = raw as Buffer;
      const headerLength = request.headers[headerLengthHeader];
      const onEventLoop = (bytes: Buffer) => {
        try {
          if (Array.isArray(headerLength))
            throw new BinaryTensorError('Inference-Header-Content-Length is given twice');
          const { header, chunks } = parseBinaryBody(bytes, headerLength);
          binaryChunks.set(request, chunks);
          done(null, header);
        } catch (error) {
          done(error as Error, undefined);
        }
      };
      // A large all-JSON body is parsed and its data flattened in the pool, as /v1's are; one the pool leaves
      // (malformed, beyond a limit, data that does not fit) comes back and is read here, which words the refusal.
      if (headerLength !== undefined || body.length < offloadBytes) return onEventLoop(body);
      app.offload.parseInference(body, maxElements).then((parsed) => {
        if ('fallback' in parsed) return onEventLoop(parsed.fallback);
        packedData.set(request, parsed.packed.data);
        done(null, parsed.packed.header);
      }, done);
    },
  );

  const ready = () => {
    if (!app.readiness.ready) throw badRequest(`not ready: ${app.readiness.reason ?? 'not serving'}`);
  };

  app.get('', { schema: serverMetadataSchema }, async () => ({
    name: openapiInfo.title,
    version: openapiInfo.version,
    extensions: [...extensions],
  }));

  app.get('/health/live', { schema: serverLiveSchema }, async (_request, reply) => reply.code(200).send());

  app.get('/health/ready', { schema: serverReadySchema }, async (_request, reply) => {
    ready();
    return reply.code(200).send();
  });

  app.get('/models/stats', { schema: modelStatisticsSchema(modelNames, 'all') }, async () => ({
    model_stats: statistics.render(models, modelVersion),
  }));

  app.post(
    '/repository/index',
    {
      schema: repositoryIndexSchema(repositoryIndex()),
      // The body is optional: tritonclient.http sends none (no Content-Length either).
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
    },
    async () => repositoryIndex(),
  );

  for (const versioned of [false, true]) {
    const base = versioned ? '/models/:name/versions/:version' : '/models/:name';

    app.get(
      `${base}/stats`,
      { schema: modelStatisticsSchema(modelNames, versioned ? 'version' : 'model'), onRequest: knownModel },
      async (request) => {
        const { name, version } = request.params as { name: string; version?: string };
        return { model_stats: statistics.render([modelFor(name, version)], modelVersion) };
      },
    );
    type Params = { name: string; version?: string };

    app.get(
      base,
      { schema: modelMetadataSchema(modelNames, versioned), onRequest: knownModel },
      async (request) => {
        const { name, version } = request.params as Params;
        const model = modelFor(name, version);
        return {
          name: model.name,
          versions: [modelVersion],
          platform,
          inputs: model.inputs.map((t) => ({ ...t, shape: [...t.shape] })),
          outputs: model.outputs.map((t) => ({ ...t, shape: [...t.shape] })),
          parameters: {
            description: model.description,
            optional_inputs: model.optionalInputs.join(', '),
            request_parameters: model.parameterText,
          },
        };
      },
    );

    app.get(
      `${base}/ready`,
      { schema: modelReadySchema(modelNames, versioned), onRequest: knownModel },
      async (request, reply) => {
        const { name, version } = request.params as Params;
        modelFor(name, version);
        ready();
        return reply.code(200).send();
      },
    );

    app.post(
      `${base}/infer`,
      { schema: inferSchema(modelNames, versioned), onRequest: knownModel, onResponse: countInference },
      async (request, reply) => {
        const { name, version } = request.params as Params;
        const model = modelFor(name, version);
        const body = request.body as InferenceRequestBody;
        const chunks = binaryChunks.get(request) ?? new Map<string, Buffer>();

        const { binary_data_output: binaryAll = false, ...parameters } = body.parameters ?? {};
        if (typeof binaryAll !== 'boolean')
          throw badRequest('parameters: binary_data_output must be a boolean');

        const known = model.inputs.map((i) => i.name);
        const inputs = new Map<string, TensorValue>();
        const packed = packedData.get(request) ?? [];
        for (const [i, input] of body.inputs.entries()) {
          if (!known.includes(input.name))
            throw badRequest(
              `input ${JSON.stringify(input.name)} is not an input of ${model.name} (inputs: ${known.join(', ')})`,
            );
          if (inputs.has(input.name)) throw badRequest(`input ${JSON.stringify(input.name)} appears twice`);
          inputs.set(input.name, readRequestInput(input, chunks.get(input.name), packed[i], maxElements));
        }

        const choices = outputChoices(model, body, binaryAll);
        const options: Record<string, unknown> = {};
        const params: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(parameters))
          (model.operation.options.includes(key) ? options : params)[key] = value;
        const job = prepareJob(model.operation.name, {
          activation: model.activation,
          tensors: inputs,
          params,
          options,
          pointers: { params: '/parameters', options: '/parameters' },
          maxElements,
        });
        const spec: InferenceReplySpec = {
          kind: 'inference-reply',
          modelName: model.name,
          modelVersion,
          ...(body.id !== undefined ? { id: body.id } : {}),
          ...(choices ? { choices } : {}),
          binary: binaryAll,
          datatype: defaultOutputDatatype(body),
        };
        // A large job runs in the pool, and its reply is written there too (a 1e6-number JSON reply is ~100 ms
        // of JSON.stringify that would stall every other request).
        const encoded = app.offload.offloads(jobSize(job))
          ? await app.offload.runInference(job, spec)
          : writeInferenceReply(runJob(job), spec);
        app.countResult(request, job);
        if (encoded.format === 'json')
          return reply.type('application/json; charset=utf-8').send(encoded.body);
        return reply
          .header(headerLengthHeader, String(encoded.headerLength))
          .type('application/octet-stream')
          .send(encoded.body);
      },
    );
  }
};

export default routePlugin('v2-routes', v2Routes);

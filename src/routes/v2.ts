/**
 * A compatible subset of the Open Inference Protocol (KServe v2 / Triton) under /v2, with the binary tensor
 * data extension: server metadata and health, model metadata and readiness, inference. Registered with the
 * prefix /v2 as an encapsulated plugin, so that its body parsers and its error format ({ "error": "..." },
 * application/json, as the protocol has it) stay inside /v2; /v1 keeps problem+json.
 */

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest, onRequestHookHandler, onResponseHookHandler } from 'fastify';
import {
  assembleBody,
  BinaryTensorError,
  decodeFloats,
  elementCount,
  encodeFloats,
  type FloatDatatype,
  floatDatatypes,
  headerLengthHeader,
  isFloatDatatype,
  parseBinaryBody,
} from '../codec/binary-tensor.js';
import { clipText } from '../error-size.js';
import { NonFiniteResultError, ServiceError, TooManyElementsError } from '../errors.js';
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
import type { ReplyField } from '../serialize/reply.js';
import { routePlugin } from './support.js';
import { type Model, modelFor, modelNames, models, modelVersion } from './v2-models.js';
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

/** A JSON value as an error message shows it: never the whole of a large array, object or string. */
function describeValue(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length} elements`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return clipText(JSON.stringify(value), 60);
  return String(value);
}

/**
 * Flat row-major Float64Array from flat or nested JSON data, checked against the shape. The nested walk is
 * a loop over an index per dimension (an odometer), not a recursion: no data can make it deeper than the
 * shape's rank, and it builds no text unless it refuses.
 */
function flatten(data: unknown[], shape: readonly number[], count: number, fp32: boolean, label: string) {
  const out = new Float64Array(count);
  const shapeText = `[${shape.join(', ')}]`;
  const put = (value: unknown, i: number, where: () => string) => {
    const x = typeof value === 'number' && fp32 ? Math.fround(value) : value;
    if (typeof x !== 'number' || !Number.isFinite(x))
      throw badRequest(
        `${label}: data${where()} must be a finite number${fp32 ? ' within the FP32 range' : ''} (got ${describeValue(value)})`,
      );
    out[i] = x;
  };
  if (!Array.isArray(data[0])) {
    if (data.length !== count)
      throw badRequest(`${label}: data has ${data.length} elements but shape ${shapeText} needs ${count}`);
    for (let i = 0; i < count; i++) put(data[i], i, () => `[${i}]`);
    return out;
  }
  // Nested data must nest exactly as the shape: data[i][j]... with lengths shape[0], shape[1], ...
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  const nodes = new Array<unknown[]>(rank);
  const where = (depth: number) =>
    index
      .slice(0, depth)
      .map((i) => `[${i}]`)
      .join('');
  const arrayAt = (node: unknown, depth: number): unknown[] => {
    if (Array.isArray(node) && node.length === shape[depth]) return node;
    throw badRequest(
      `${label}: data${where(depth)} must be an array of ${shape[depth]} (dimension ${depth} of shape ${shapeText}), got ${describeValue(node)}`,
    );
  };
  nodes[0] = arrayAt(data, 0);
  // depth: the deepest dimension whose array in nodes is current; deeper ones are fetched before each element.
  let depth = 0;
  for (let next = 0; next < count; next++) {
    for (; depth < rank - 1; depth++) nodes[depth + 1] = arrayAt(nodes[depth][index[depth]], depth + 1);
    put(nodes[rank - 1][index[rank - 1]], next, () => where(rank));
    // Advance the last index, carrying into the ones before it.
    let d = rank - 1;
    while (d >= 0 && ++index[d] === shape[d]) index[d--] = 0;
    depth = d;
  }
  return out;
}

function readRequestInput(input: RequestInput, chunk: Buffer | undefined, maxElements: number): TensorValue {
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
  if (input.data === undefined) throw badRequest(`${label} has neither data nor parameters.binary_data_size`);
  return {
    data: flatten(input.data, input.shape, count, input.datatype === 'FP32', label),
    shape: input.shape,
  };
}

interface OutputChoice {
  name: string;
  binary: boolean;
  datatype: FloatDatatype;
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
  const statistics = new ModelStatistics();
  // Each inference request of a known model, once answered (an unknown model's 404 is no model's).
  const countInference: onResponseHookHandler = (request, reply, done) => {
    const { name } = request.params as { name: string };
    if (modelNames.includes(name)) statistics.record(name, reply.statusCode, reply.elapsedTime * 1e6);
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
    (request, body, done) => {
      try {
        const raw = request.headers[headerLengthHeader];
        if (Array.isArray(raw)) throw new BinaryTensorError('Inference-Header-Content-Length is given twice');
        const { header, chunks } = parseBinaryBody(body as Buffer, raw);
        binaryChunks.set(request, chunks);
        done(null, header);
      } catch (error) {
        done(error as Error, undefined);
      }
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
        for (const input of body.inputs) {
          if (!known.includes(input.name))
            throw badRequest(
              `input ${JSON.stringify(input.name)} is not an input of ${model.name} (inputs: ${known.join(', ')})`,
            );
          if (inputs.has(input.name)) throw badRequest(`input ${JSON.stringify(input.name)} appears twice`);
          inputs.set(input.name, readRequestInput(input, chunks.get(input.name), maxElements));
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
        const fields: readonly ReplyField[] = app.offload.offloads(jobSize(job))
          ? await app.offload.runFields(job)
          : runJob(job);
        app.countResult(request, job);
        const results = new Map(
          fields.map((f) => {
            if ('data' in f) return [f.name, { data: f.data, shape: f.dims }];
            // JSON results belong to /v1-only operations, which are not models.
            if (!('value' in f)) throw new RangeError(`/v2: result ${f.name} is not a tensor`);
            return [f.name, { data: new Float64Array([f.value]), shape: [1] }];
          }),
        );
        const selected =
          choices ??
          [...results.keys()].map((n) => ({
            name: n,
            binary: binaryAll,
            datatype: defaultOutputDatatype(body),
          }));

        const outputs: Record<string, unknown>[] = [];
        const binary: Uint8Array[] = [];
        for (const choice of selected) {
          const result = results.get(choice.name);
          if (!result)
            throw badRequest(
              `output ${JSON.stringify(choice.name)} is not produced for these inputs (produced: ${[...results.keys()].join(', ')})`,
            );
          let data: Float64Array | Float32Array = result.data;
          if (choice.datatype === 'FP32') {
            data = Float32Array.from(result.data);
            for (let i = 0; i < data.length; i++)
              if (!Number.isFinite(data[i]))
                throw new NonFiniteResultError(
                  choice.name,
                  `output ${choice.name}[${i}] = ${result.data[i]} overflows FP32; ask for FP64 instead`,
                );
          }
          const meta = { name: choice.name, shape: result.shape, datatype: choice.datatype };
          if (choice.binary) {
            const bytes = encodeFloats(result.data, choice.datatype);
            binary.push(bytes);
            outputs.push({ ...meta, parameters: { binary_data_size: bytes.byteLength } });
          } else outputs.push({ ...meta, data: Array.from(data) });
        }

        const response = {
          model_name: model.name,
          model_version: modelVersion,
          ...(body.id !== undefined ? { id: body.id } : {}),
          outputs,
        };
        if (binary.length === 0) return response;
        const { body: payload, headerLength } = assembleBody(response, binary);
        return reply
          .header('inference-header-content-length', String(headerLength))
          .type('application/octet-stream')
          .send(payload);
      },
    );
  }
};

export default routePlugin('v2-routes', v2Routes);

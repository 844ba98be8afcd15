/**
 * A compatible subset of the Open Inference Protocol (KServe v2 / Triton) under /v2, with the binary tensor
 * data extension: server metadata and health, model metadata and readiness, inference. Registered with the
 * prefix /v2 as an encapsulated plugin, so that its body parsers and its error format ({ "error": "..." },
 * application/json, as the protocol has it) stay inside /v2; /v1 keeps problem+json.
 */

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
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
import { NonFiniteResultError } from '../core/errors.js';
import { openapiInfo } from '../plugins/docs.js';
import { HttpProblem } from '../plugins/problem.js';
import {
  inferSchema,
  liveSchema,
  modelMetadataSchema,
  modelReadySchema,
  readySchema,
  serverMetadataSchema,
} from '../schemas/v2.js';
import { type DataTensor, findModel, InferenceError, type Model, modelNames } from './v2-models.js';

export const extensions = ['binary_tensor_data'] as const;
const modelVersion = '1';
const platform = 'gradient-service';

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

function modelFor(name: string, version: string | undefined): Model {
  const model = findModel(name);
  if (!model)
    throw new InferenceError(404, `unknown model ${JSON.stringify(name)}; models: ${modelNames.join(', ')}`);
  if (version !== undefined && version !== modelVersion)
    throw new InferenceError(
      404,
      `model ${JSON.stringify(name)} has no version ${JSON.stringify(version)}; versions: ${modelVersion}`,
    );
  return model;
}

/** Flat row-major Float64Array from flat or nested JSON data, checked against the shape. */
function flatten(data: unknown[], shape: readonly number[], count: number, fp32: boolean, label: string) {
  const out = new Float64Array(count);
  const put = (value: unknown, i: number, where: string) => {
    const x = typeof value === 'number' && fp32 ? Math.fround(value) : value;
    if (typeof x !== 'number' || !Number.isFinite(x))
      throw new InferenceError(
        400,
        `${label}: data${where} must be a finite number${fp32 ? ' within the FP32 range' : ''} (got ${JSON.stringify(value) ?? typeof value})`,
      );
    out[i] = x;
  };
  if (!Array.isArray(data[0])) {
    if (data.length !== count)
      throw new InferenceError(
        400,
        `${label}: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${count}`,
      );
    for (let i = 0; i < count; i++) put(data[i], i, `[${i}]`);
    return out;
  }
  // Nested data must nest exactly as the shape: data[i][j] with lengths shape[0], shape[1], ...
  let next = 0;
  const walk = (node: unknown, depth: number, where: string) => {
    if (depth === shape.length) {
      put(node, next++, where);
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth])
      throw new InferenceError(
        400,
        `${label}: data${where} must be an array of ${shape[depth]} (dimension ${depth} of shape [${shape.join(', ')}]), got ${Array.isArray(node) ? `${node.length} elements` : JSON.stringify(node)}`,
      );
    for (let i = 0; i < node.length; i++) walk(node[i], depth + 1, `${where}[${i}]`);
  };
  walk(data, 0, '');
  return out;
}

function readInput(input: RequestInput, chunk: Buffer | undefined, maxElements: number): DataTensor {
  const label = `input ${JSON.stringify(input.name)}`;
  const count = elementCount(input.shape, label);
  if (count > maxElements)
    throw new InferenceError(
      413,
      `${label} has ${count} elements; at most ${maxElements} are allowed per tensor (MAX_ELEMENTS)`,
    );
  if (!isFloatDatatype(input.datatype))
    throw new InferenceError(
      400,
      `${label}: unsupported datatype ${JSON.stringify(input.datatype)}: this server reads ${floatDatatypes.join(' and ')}`,
    );
  for (const key of Object.keys(input.parameters ?? {}))
    if (key !== 'binary_data_size')
      throw new InferenceError(400, `${label}: unknown parameter ${key} (inputs take binary_data_size)`);
  if (chunk) {
    const data = decodeFloats(chunk, input.datatype);
    for (let i = 0; i < data.length; i++)
      if (!Number.isFinite(data[i]))
        throw new InferenceError(400, `${label}: binary element ${i} is not finite (${data[i]})`);
    return { data, shape: input.shape };
  }
  if (input.data === undefined)
    throw new InferenceError(400, `${label} has neither data nor parameters.binary_data_size`);
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
      throw new InferenceError(
        400,
        `${label} is not an output of ${model.name} (outputs: ${known.join(', ')})`,
      );
    if (seen.has(output.name)) throw new InferenceError(400, `${label} is requested twice`);
    seen.add(output.name);
    const { binary_data: binary = binaryAll, datatype = 'FP64', ...rest } = output.parameters ?? {};
    const unknown = Object.keys(rest);
    if (unknown.length)
      throw new InferenceError(
        400,
        `${label}: unknown parameter ${unknown[0]} (outputs take binary_data, datatype)`,
      );
    if (typeof binary !== 'boolean') throw new InferenceError(400, `${label}: binary_data must be a boolean`);
    if (!isFloatDatatype(datatype))
      throw new InferenceError(
        400,
        `${label}: unsupported datatype ${JSON.stringify(datatype)}: this server writes ${floatDatatypes.join(' and ')}`,
      );
    return { name: output.name, binary, datatype };
  });
}

/** The status and message of an error, in the protocol's terms. */
function toV2Error(
  error: unknown,
  request: FastifyRequest,
): { status: number; message: string; headers?: Readonly<Record<string, string>> } {
  if (error instanceof InferenceError || error instanceof BinaryTensorError)
    return { status: error.status, message: error.message };
  if (error instanceof HttpProblem)
    return { status: error.status, message: error.detail, headers: error.headers };
  if (error instanceof NonFiniteResultError)
    return { status: 422, message: `${error.quantity}: ${error.message}` };
  const fe = error as FastifyError & { validation?: { instancePath: string; message?: string }[] };
  if (fe.validation) {
    const first = fe.validation[0];
    const where = fe.validationContext === 'body' ? 'request' : (fe.validationContext ?? 'request');
    return {
      status: 400,
      message: `${where}${first?.instancePath ?? ''}: ${first?.message ?? 'is invalid'}`,
    };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        message: `Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')} is not supported: send application/json or application/octet-stream`,
      };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        status: 413,
        message: `the body is larger than the limit of ${request.routeOptions.bodyLimit} bytes (BODY_LIMIT)`,
      };
  }
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) return { status, message: fe.message };
  return { status: 500, message: `internal error; request id ${request.id} identifies it in the logs` };
}

function sendError(
  reply: FastifyReply,
  status: number,
  message: string,
  headers?: Readonly<Record<string, string>>,
) {
  if (headers) reply.headers(headers);
  return reply.code(status).type('application/json; charset=utf-8').send({ error: message });
}

const v2Routes: FastifyPluginAsyncTypebox = async (app) => {
  const { maxElements, bodyLimit } = app.config;

  app.setErrorHandler((error, request, reply) => {
    const { status, message, headers } = toV2Error(error, request);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ status, error: message }, 'request rejected');
    return sendError(reply, status, message, headers);
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 404, `no route ${request.method} ${request.url.split('?')[0]}`),
  );

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
    if (!app.readiness.ready)
      throw new InferenceError(400, `not ready: ${app.readiness.reason ?? 'not serving'}`);
  };

  app.get('', { schema: serverMetadataSchema }, async () => ({
    name: openapiInfo.title,
    version: openapiInfo.version,
    extensions: [...extensions],
  }));

  app.get('/health/live', { schema: liveSchema }, async (_request, reply) => reply.code(200).send());

  app.get('/health/ready', { schema: readySchema }, async (_request, reply) => {
    ready();
    return reply.code(200).send();
  });

  for (const versioned of [false, true]) {
    const base = versioned ? '/models/:name/versions/:version' : '/models/:name';
    type Params = { name: string; version?: string };

    app.get(
      base,
      { schema: modelMetadataSchema(modelNames, versioned), attachValidation: true },
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
      { schema: modelReadySchema(modelNames, versioned), attachValidation: true },
      async (request, reply) => {
        const { name, version } = request.params as Params;
        modelFor(name, version);
        ready();
        return reply.code(200).send();
      },
    );

    app.post(
      `${base}/infer`,
      { schema: inferSchema(modelNames, versioned), attachValidation: true },
      async (request, reply) => {
        const { name, version } = request.params as Params;
        const model = modelFor(name, version);
        // The name enum rejected an unknown model as a 400; modelFor made it a 404. Anything else stands.
        if (request.validationError && request.validationError.validationContext !== 'params')
          throw request.validationError;
        const body = request.body as InferenceRequestBody;
        const chunks = binaryChunks.get(request) ?? new Map<string, Buffer>();

        const { binary_data_output: binaryAll = false, ...parameters } = body.parameters ?? {};
        if (typeof binaryAll !== 'boolean')
          throw new InferenceError(400, 'parameters: binary_data_output must be a boolean');

        const known = model.inputs.map((i) => i.name);
        const inputs = new Map<string, DataTensor>();
        for (const input of body.inputs) {
          if (!known.includes(input.name))
            throw new InferenceError(
              400,
              `input ${JSON.stringify(input.name)} is not an input of ${model.name} (inputs: ${known.join(', ')})`,
            );
          if (inputs.has(input.name))
            throw new InferenceError(400, `input ${JSON.stringify(input.name)} appears twice`);
          inputs.set(input.name, readInput(input, chunks.get(input.name), maxElements));
        }
        for (const required of known)
          if (!model.optionalInputs.includes(required) && !inputs.has(required))
            throw new InferenceError(400, `the input ${required} is required by ${model.name}`);

        const choices = outputChoices(model, body, binaryAll);
        const results = model.infer(inputs, parameters, { maxElements });
        const selected =
          choices ??
          [...results.keys()].map((n) => ({ name: n, binary: binaryAll, datatype: 'FP64' as const }));

        const outputs: Record<string, unknown>[] = [];
        const binary: Uint8Array[] = [];
        for (const choice of selected) {
          const result = results.get(choice.name);
          if (!result)
            throw new InferenceError(
              400,
              `output ${JSON.stringify(choice.name)} is not produced for these inputs (produced: ${[...results.keys()].join(', ')})`,
            );
          if (result.data.length > maxElements)
            throw new InferenceError(
              413,
              `output ${choice.name} would have ${result.data.length} elements; at most ${maxElements} are allowed (MAX_ELEMENTS)`,
            );
          let data: Float64Array | Float32Array = result.data;
          if (choice.datatype === 'FP32') {
            data = Float32Array.from(result.data);
            for (let i = 0; i < data.length; i++)
              if (!Number.isFinite(data[i]))
                throw new InferenceError(
                  422,
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

export default v2Routes;

/**
 * Schemas of the Open Inference Protocol (KServe v2 / Triton) routes under /v2: server and model metadata,
 * health, and inference with the binary tensor data extension. Field names are the protocol's. Errors under
 * /v2 are the protocol's `{ "error": "..." }` (application/json), not problem+json.
 */
import { Type } from 'typebox';
import { computeErrorResponses, openErrorResponses, readErrorResponses } from './responses.js';

const v2Tags = ['inference (v2)'];

const naming =
  'Models are derived from the activation table: `<activation>` is the forward pass a = g(z) (input z, output ' +
  "a); `<activation>.derivative` (elementwise activations) is g'(z) (input z, outputs derivative and a; or input " +
  'a alone where the activation has derivativeFromOutput, output derivative); `<activation>.second_derivative` ' +
  "(elementwise activations) is g''(z) (input z, outputs secondDerivative, derivative and a; or input a alone " +
  'where the activation has secondDerivativeFromOutput, outputs secondDerivative and derivative); ' +
  '`softmax.jacobian` (input z or a, ' +
  'outputs a and jacobian [..., K, K]); `softmax.vjp` (inputs z or a, and v; outputs a and gradient); ' +
  '`output_layer` (inputs x, weights, bias?, targets; outputs loss, z, a, delta, weightGradient, biasGradient, ' +
  'inputGradient). Aliases are not model names. GET /v2/models/{name} lists inputs and outputs.';

const binaryText =
  'Binary tensor data extension: send `Inference-Header-Content-Length: <n>`; the first n bytes of the body ' +
  'are the JSON request, followed by the raw little-endian, row-major bytes of each input that declares ' +
  '`parameters.binary_data_size` (in input order, no padding). Content-Type application/octet-stream or ' +
  'application/json; without a Content-Type (as tritonclient.http sends) the body is read as the protocol ' +
  'reads it: binary when Inference-Header-Content-Length is present, JSON otherwise. Ask for binary outputs with `parameters: { binary_data: true }` on a requested output, or ' +
  '`parameters: { binary_data_output: true }` on the request: the reply is then application/octet-stream with ' +
  'the same header. Tip: pad the JSON header with spaces to a multiple of 8 bytes and FP64 inputs are read in ' +
  'place, without a copy.';

const Parameters = (description: string) =>
  Type.Record(Type.String(), Type.Unknown({ description: 'A parameter value.' }), { description });

const Shape = (description: string) =>
  Type.Array(Type.Integer({ description: 'One dimension.' }), { description });

const TensorData = Type.Array(Type.Unknown({ description: 'A number, or a nested array of numbers.' }), {
  description:
    'The elements, row-major: flat, or nested as the shape. Absent when the tensor is sent as binary data.',
});

const Datatype = Type.String({
  description: 'FP64 or FP32 (other datatypes of the protocol are a 400).',
  examples: ['FP64'],
});

const RequestInput = Type.Object(
  {
    name: Type.String({ description: 'The input name, as in the model metadata (z, a, v, x, ...).' }),
    shape: Shape('The shape; the last axis is the one softmax normalises.'),
    datatype: Datatype,
    parameters: Type.Optional(Parameters('binary_data_size (bytes) when the data follows the JSON header.')),
    data: Type.Optional(TensorData),
  },
  { additionalProperties: false, description: 'One input tensor ($request_input).' },
);

const RequestOutput = Type.Object(
  {
    name: Type.String({ description: 'The output name, as in the model metadata.' }),
    parameters: Type.Optional(
      Parameters(
        'binary_data (boolean): return this output as binary data; datatype: FP64 or FP32 (default: FP32 when ' +
          'every input is FP32, else FP64).',
      ),
    ),
  },
  { additionalProperties: false, description: 'One requested output ($request_output).' },
);

export const InferenceRequest = Type.Object(
  {
    id: Type.Optional(Type.String({ description: 'An identifier, echoed in the response.' })),
    parameters: Type.Optional(
      Parameters(
        "The model's parameters (the activation's params, e.g. alpha; for output_layer also activation, loss, " +
          'reduction) and binary_data_output (boolean: every output as binary data). Unknown names are a 400.',
      ),
    ),
    inputs: Type.Array(RequestInput, { minItems: 1, description: 'The input tensors.' }),
    outputs: Type.Optional(
      Type.Array(RequestOutput, { description: 'The outputs to return, in this order (default: all).' }),
    ),
  },
  {
    additionalProperties: false,
    description: `An inference request ($inference_request). ${binaryText}`,
    examples: [{ id: '42', inputs: [{ name: 'z', shape: [1, 3], datatype: 'FP64', data: [-2, 0, 2] }] }],
  },
);

const ResponseOutput = Type.Object(
  {
    name: Type.String({ description: 'The output name.' }),
    shape: Shape('The shape.'),
    datatype: Type.String({
      description: 'FP64, or FP32 when every input is FP32 or the output asks for it.',
    }),
    parameters: Type.Optional(Parameters('binary_data_size when the data follows the JSON header.')),
    data: Type.Optional(
      Type.Array(Type.Number({ description: 'One element.' }), {
        description: 'The elements, flat row-major.',
      }),
    ),
  },
  { description: 'One output tensor ($response_output).' },
);

export const InferenceResponse = Type.Object(
  {
    model_name: Type.String({ description: 'The model.' }),
    model_version: Type.String({ description: 'The model version (always "1").' }),
    id: Type.Optional(Type.String({ description: 'The request id, echoed.' })),
    outputs: Type.Array(ResponseOutput, { description: 'The output tensors.' }),
  },
  { description: 'An inference response ($inference_response).' },
);

const MetadataTensor = Type.Object(
  {
    name: Type.String({ description: 'Tensor name.' }),
    datatype: Type.String({ description: 'The datatype the math runs in: FP64.' }),
    shape: Shape(
      'Shape of one sample; -1 is a dimension of any size. Inputs that take rows also take leading batch ' +
        'dimensions (the last axis is K), and their outputs then have the same leading dimensions.',
    ),
    parameters: Type.Object(
      {
        datatypes: Type.String({
          description:
            'Every datatype the tensor is read or written in, comma-separated: FP64,FP32. FP32 inputs give FP32 ' +
            'outputs unless an output asks for parameters.datatype FP64.',
        }),
      },
      { description: 'What the metadata has no field for.' },
    ),
  },
  { description: 'One tensor of the model metadata ($metadata_tensor).' },
);

export const ModelMetadata = Type.Object(
  {
    name: Type.String({ description: 'The model name.' }),
    versions: Type.Array(Type.String({ description: 'A version.' }), { description: 'Versions: ["1"].' }),
    platform: Type.String({ description: 'The platform: "gradient-service".' }),
    inputs: Type.Array(MetadataTensor, {
      description: 'The inputs (see parameters for which are optional).',
    }),
    outputs: Type.Array(MetadataTensor, { description: 'The outputs.' }),
    parameters: Type.Object(
      {
        description: Type.String({ description: 'What the model computes.' }),
        optional_inputs: Type.String({ description: 'Inputs that may be absent, comma-separated.' }),
        request_parameters: Type.String({ description: 'The request parameters the model reads.' }),
      },
      { description: 'Descriptions of the model (strings).' },
    ),
  },
  { description: 'Model metadata ($metadata_model_response).' },
);

export const ServerMetadata = Type.Object(
  {
    name: Type.String({ description: 'The server name.' }),
    version: Type.String({ description: 'The server version.' }),
    extensions: Type.Array(Type.String({ description: 'An extension.' }), {
      description:
        'Supported protocol extensions: binary_tensor_data, statistics, model_repository (the index only: ' +
        'models are built in, and cannot be loaded or unloaded).',
    }),
  },
  { description: 'Server metadata ($metadata_server_response).' },
);

const DurationStat = Type.Object(
  {
    count: Type.Integer({ description: 'Requests.' }),
    ns: Type.Integer({ description: 'Their total time, request arrival to reply, in nanoseconds.' }),
  },
  { description: 'A count and a total duration ($duration_stat).' },
);

const ModelStat = Type.Object(
  {
    name: Type.String({ description: 'The model.' }),
    version: Type.String({ description: 'The model version.' }),
    last_inference: Type.Integer({
      description: 'When the last inference request arrived, in ms since the epoch; 0 if none has.',
    }),
    inference_count: Type.Integer({ description: 'Successful inferences (a request is one inference).' }),
    execution_count: Type.Integer({ description: 'Executions: one per successful request (no batching).' }),
    inference_stats: Type.Object(
      {
        success: DurationStat,
        fail: DurationStat,
      },
      { description: 'Successful and failed inference requests (the only ones this server times).' },
    ),
    batch_stats: Type.Array(Type.Unknown(), { description: 'Always empty: no dynamic batching.' }),
  },
  { description: "One model's statistics ($model_stat)." },
);

export const ModelStatistics = Type.Object(
  { model_stats: Type.Array(ModelStat, { description: 'One per model (or the one asked for).' }) },
  { description: 'Statistics extension ($stats_model_response).' },
);

export const RepositoryIndex = Type.Array(
  Type.Object(
    {
      name: Type.String({ description: 'The model.' }),
      version: Type.String({ description: 'Its version.' }),
      state: Type.String({ description: 'READY: every model is built in and always loaded.' }),
      reason: Type.String({ description: 'Empty.' }),
    },
    { description: 'One model of the repository.' },
  ),
  { description: 'Every model ($repository_index_response).' },
);

const RepositoryIndexRequest = Type.Object(
  {
    ready: Type.Optional(
      Type.Boolean({ description: 'Only the ready models (all of them, while the server is ready).' }),
    ),
  },
  {
    additionalProperties: false,
    description: 'Optional filter ($repository_index_request).',
    examples: [{ ready: true }],
  },
);

const modelParam = (names: readonly string[]) =>
  Type.Unsafe<string>({
    type: 'string',
    enum: [...names],
    description: `A model name (an unknown one is a 404). ${naming}`,
    examples: ['sigmoid'],
  });

const versionParam = Type.Unsafe<string>({
  type: 'string',
  description: 'The model version: every model has the one version "1" (others are a 404).',
  examples: ['1'],
});

export const modelParams = (names: readonly string[], versioned: boolean) =>
  versioned
    ? Type.Object({ name: modelParam(names), version: versionParam }, { additionalProperties: false })
    : Type.Object({ name: modelParam(names) }, { additionalProperties: false });

const unknownModel = 'Unknown model (or version); POST /v2/repository/index lists the models.';

const empty = (description: string) => ({ description, type: 'null' });

export const serverMetadataSchema = {
  operationId: 'v2ServerMetadata',
  tags: v2Tags,
  summary: 'Server metadata (Open Inference Protocol)',
  description: `Name, version and extensions of the server. ${naming}`,
  response: { 200: ServerMetadata, ...readErrorResponses('v2') },
};

export const serverLiveSchema = {
  operationId: 'v2ServerLive',
  tags: v2Tags,
  summary: 'Server live (Open Inference Protocol)',
  description: '200 with an empty body while the process runs.',
  response: { 200: empty('Live.'), ...openErrorResponses('v2') },
};

export const serverReadySchema = {
  operationId: 'v2ServerReady',
  tags: v2Tags,
  summary: 'Server ready (Open Inference Protocol)',
  description:
    '200 with an empty body when serving; while shutting down or overloaded 400 with { error } (the protocol ' +
    'says a 4xx means false, and Triton answers 400).',
  response: {
    200: empty('Ready.'),
    ...openErrorResponses('v2', {
      add: { 400: 'Not ready: shutting down or overloaded (the error says why).' },
    }),
  },
};

export const modelMetadataSchema = (names: readonly string[], versioned: boolean) => ({
  operationId: versioned ? 'v2ModelVersionMetadata' : 'v2ModelMetadata',
  tags: v2Tags,
  summary: 'Model metadata (Open Inference Protocol)',
  description: `Inputs and outputs of a model, with -1 for dimensions of any size. ${naming}`,
  params: modelParams(names, versioned),
  response: { 200: ModelMetadata, ...readErrorResponses('v2', { notFound: unknownModel }) },
});

export const modelReadySchema = (names: readonly string[], versioned: boolean) => ({
  operationId: versioned ? 'v2ModelVersionReady' : 'v2ModelReady',
  tags: v2Tags,
  summary: 'Model ready (Open Inference Protocol)',
  description: '200 with an empty body when the server is ready (every model is); 404 for an unknown model.',
  params: modelParams(names, versioned),
  response: {
    200: empty('Ready.'),
    ...readErrorResponses('v2', {
      notFound: unknownModel,
      add: { 400: 'Not ready: shutting down or overloaded (the error says why).' },
    }),
  },
});

export const inferSchema = (names: readonly string[], versioned: boolean) => ({
  operationId: versioned ? 'v2ModelVersionInfer' : 'v2ModelInfer',
  tags: v2Tags,
  summary: 'Inference (Open Inference Protocol)',
  description:
    'Runs a model. Inputs may be FP64 or FP32, data flat or nested (row-major), or binary; outputs are FP32 ' +
    "when every input is FP32 and FP64 otherwise, unless an output asks for `parameters: { datatype }`. Request `parameters` carry the model's " +
    `parameters. At most MAX_ELEMENTS elements per input or output tensor. ${binaryText} ${naming}`,
  params: modelParams(names, versioned),
  body: {
    content: {
      'application/json': { schema: InferenceRequest },
      'application/octet-stream': { schema: InferenceRequest },
    },
  },
  response: {
    200: {
      description:
        'The outputs: JSON, or the JSON header and binary data when binary outputs were asked for.',
      content: {
        'application/json': { schema: InferenceResponse },
        'application/octet-stream': {
          schema: {
            type: 'string',
            format: 'binary',
            description:
              'Inference-Header-Content-Length bytes of JSON response, then the binary outputs in order.',
          },
        },
      },
    },
    ...computeErrorResponses('v2', { notFound: unknownModel }),
  },
});

export const modelStatisticsSchema = (names: readonly string[], scope: 'all' | 'model' | 'version') => ({
  operationId:
    scope === 'all' ? 'v2Statistics' : scope === 'model' ? 'v2ModelStatistics' : 'v2ModelVersionStatistics',
  tags: v2Tags,
  summary: 'Inference statistics (Triton statistics extension)',
  description:
    'Per model: successful and failed inference requests, each with their count and total time in ns, and ' +
    'when the last one arrived. Counted since the process started.',
  ...(scope === 'all' ? {} : { params: modelParams(names, scope === 'version') }),
  response: {
    200: ModelStatistics,
    ...readErrorResponses('v2', scope === 'all' ? {} : { notFound: unknownModel }),
  },
});

/** The index's schema, its 200 example the real reply (`index`: built by the route from the model table). */
export const repositoryIndexSchema = (index: unknown) => ({
  operationId: 'v2RepositoryIndex',
  tags: v2Tags,
  summary: 'Model repository index (Triton model repository extension)',
  description: 'Every model, its version and state. The body is optional.',
  body: RepositoryIndexRequest,
  response: {
    200: { ...RepositoryIndex, examples: [index] },
    ...computeErrorResponses('v2'),
  },
});

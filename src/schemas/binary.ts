/**
 * The binary tensor form of the /v1 routes in their schemas: the route's JSON body schema under
 * application/json, and under the tensor media type the JSON header of a binary body (the same fields, with
 * the tensor fields moved into `inputs`). Fastify validates a request against the schema of its Content-Type,
 * and the OpenAPI document shows both forms, requests and 200 replies.
 */
import { Type } from 'typebox';
import { tensorMediaType } from '../serialize/reply.js';

const layout =
  `A binary body (Content-Type ${tensorMediaType}) is the Open Inference Protocol binary tensor extension: ` +
  'this JSON header, whose length in bytes goes in the Inference-Header-Content-Length header, then the raw ' +
  'bytes of each input declaring parameters.binary_data_size, in order, little-endian, row-major, unpadded. ';

/** Tensor names beyond a fixed list (per-layer names such as layers.0.weights): a pattern and its wording. */
export interface NamePattern {
  readonly pattern: string;
  readonly text: string;
}

// No names and no pattern (a reply of numbers alone, as the gradient check's): a plain string, as an empty enum
// is not valid JSON Schema (Ajv refuses to compile it) and would type the field `never`.
const nameField = (names: readonly string[], pattern: NamePattern | undefined, description: string) =>
  pattern
    ? Type.String({ pattern: pattern.pattern, description: `${description} ${pattern.text}` })
    : names.length === 0
      ? Type.String({ description: `${description} (This reply has no tensor outputs.)` })
      : Type.Unsafe<string>({ type: 'string', enum: [...names], description });

const tensorInput = (names: readonly string[], pattern?: NamePattern) =>
  Type.Object(
    {
      name: nameField(names, pattern, 'The tensor field it carries.'),
      shape: Type.Array(Type.Integer({ minimum: 1, description: 'One dimension.' }), {
        minItems: 1,
        maxItems: 2,
        description: '[K] for one sample, [N, K] for a batch (as the JSON nesting would be).',
      }),
      datatype: Type.Unsafe<string>({
        type: 'string',
        enum: ['FP64', 'FP32'],
        description: 'FP64, or FP32 (widened to float64 on arrival).',
      }),
      parameters: Type.Optional(
        Type.Object(
          {
            binary_data_size: Type.Integer({
              minimum: 0,
              description: 'Bytes of this tensor after the header: elements x 8 (FP64) or x 4 (FP32).',
            }),
          },
          { description: 'Where the data is: in the bytes after the header.' },
        ),
      ),
      data: Type.Optional(
        Type.Array(Type.Number({ description: 'One element.' }), {
          description: 'The elements inline, flat row-major, instead of binary_data_size.',
        }),
      ),
    },
    { additionalProperties: false, description: 'One tensor of the request.' },
  );

export interface ObjectSchema {
  properties: Record<string, unknown>;
  required?: string[];
}

/** The JSON header schema of a binary request: the body's other fields plus `inputs` for its tensor fields. */
export function binaryRequestSchema(
  body: ObjectSchema,
  tensorFields: readonly string[],
  pattern?: NamePattern,
) {
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body.properties))
    if (!tensorFields.includes(key)) properties[key] = value;
  properties.inputs = Type.Array(tensorInput(tensorFields, pattern), {
    minItems: 1,
    description: `The tensor fields (${pattern?.text ?? tensorFields.join(', ')}), each with its shape, datatype and size.`,
  });
  return {
    type: 'object',
    additionalProperties: false,
    required: [...(body.required ?? []).filter((key) => !tensorFields.includes(key)), 'inputs'],
    properties,
    description: `${layout}The tensor fields of the JSON body become inputs; every other field stays in the header.`,
  };
}

/** The JSON header schema of a binary 200 reply. */
export function binaryReplySchema(
  tensorFields: readonly string[],
  numberFields: readonly string[] = [],
  pattern?: NamePattern,
  headerFields: Readonly<Record<string, unknown>> = {},
) {
  const properties: Record<string, unknown> = {
    outputs: Type.Array(
      Type.Object({
        name: nameField(tensorFields, pattern, 'The reply field.'),
        shape: Type.Array(Type.Integer({ description: 'One dimension.' }), {
          description: 'The JSON nesting of the field, e.g. [K], [N, K], [N, K, K].',
        }),
        datatype: Type.Literal('FP64', { description: 'Always FP64.' }),
        parameters: Type.Object(
          { binary_data_size: Type.Integer({ description: 'Bytes of this output after the header.' }) },
          { description: 'Where the data is.' },
        ),
      }),
      {
        description: `The tensor fields (${pattern?.text ?? tensorFields.join(', ')}), in this order after the header.`,
      },
    ),
  };
  for (const name of numberFields)
    properties[name] = Type.Number({ description: `${name}, as in the JSON reply.` });
  Object.assign(properties, headerFields);
  return {
    type: 'object',
    required: ['outputs', ...numberFields, ...Object.keys(headerFields)],
    properties,
    description:
      `With Accept: ${tensorMediaType} (or a binary request and no preference), the reply is a binary body: ` +
      'this JSON header (padded with spaces to a multiple of 8 bytes; its length in the ' +
      'Inference-Header-Content-Length response header), then the float64 bytes of each output, little-endian, ' +
      'row-major.',
  };
}

interface RouteSchema {
  body: unknown;
  response: Record<number, unknown>;
}

/**
 * A route schema that also takes and gives binary tensors. The static type stays the JSON one (what the
 * handler sees once tensors are unpacked).
 */
export function withBinaryTensors<S extends RouteSchema>(
  schema: S,
  tensors: {
    inputs: readonly string[];
    outputs: readonly string[];
    numbers?: readonly string[];
    /** Input and output names beyond the lists (per-layer tensors). */
    inputPattern?: NamePattern;
    outputPattern?: NamePattern;
    /** The JSON header's fields, where they differ from the JSON body's (nested tensors made optional). */
    header?: ObjectSchema;
    /** Non-tensor, non-number reply fields carried in the reply header (the checker's verdict). */
    headerFields?: Readonly<Record<string, unknown>>;
  },
): S {
  const reply = schema.response[200] as { description?: string };
  return {
    ...schema,
    body: {
      // Beside the content map (which Fastify and the OpenAPI generator read), the JSON body's fields, which
      // the problem handler lists when a request has an unknown one.
      properties: (schema.body as ObjectSchema).properties,
      content: {
        'application/json': { schema: schema.body },
        [tensorMediaType]: {
          schema: binaryRequestSchema(
            tensors.header ?? (schema.body as ObjectSchema),
            tensors.inputs,
            tensors.inputPattern,
          ),
        },
      },
    },
    response: {
      ...schema.response,
      200: {
        description: reply.description ?? 'The result.',
        content: {
          'application/json': { schema: reply },
          [tensorMediaType]: {
            schema: binaryReplySchema(
              tensors.outputs,
              tensors.numbers,
              tensors.outputPattern,
              tensors.headerFields,
            ),
          },
        },
      },
    },
  };
}

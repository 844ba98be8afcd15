/**
 * Shared schemas, each with an $id: added to the app once (app.addSchema) and referenced by the
 * routes, so Ajv compiles them once and the OpenAPI document shows them as named components.
 */
import { Type } from 'typebox';
import { activationNames, activations } from '../core/activations/index.js';
import type { JsonTensor } from '../core/tensor.js';
import { errorBodyBudget, maxErrorBodyBytes } from '../error-size.js';
import { errorCodes, problemTypePrefix } from '../errors.js';

const limitsText =
  'At most MAX_ELEMENTS numbers (default 1,000,000) per tensor, in the request and in the response; ' +
  'numbers must be finite float64 (a literal such as 1e400 overflows and is rejected).';

export const Tensor = Type.Union(
  [
    Type.Array(Type.Number({ description: 'One element (finite float64).' }), {
      minItems: 1,
      description: 'One sample, shape [K].',
    }),
    Type.Array(
      Type.Array(Type.Number({ description: 'One element (finite float64).' }), {
        minItems: 1,
        description: 'One row (sample) of the batch, length K.',
      }),
      { minItems: 1, description: 'A batch of N samples, shape [N][K]: rows must all have the same length.' },
    ),
  ],
  {
    $id: 'Tensor',
    description:
      'A tensor: one sample (a non-empty array of numbers) or a batch (a non-empty array of equal-length, ' +
      `non-empty arrays of numbers). A response tensor has the shape of the request tensor it derives from. ${limitsText}`,
    examples: [[-2, 0, 2]],
  },
);

export const Matrix = Type.Array(
  Type.Array(Type.Number({ description: 'One element (finite float64).' }), {
    minItems: 1,
    description: 'One row; every row has the same length.',
  }),
  {
    $id: 'Matrix',
    minItems: 1,
    description: `A matrix: a non-empty array of equal-length, non-empty arrays of numbers. ${limitsText}`,
    examples: [
      [
        [0.1, -0.2],
        [0.3, 0.4],
      ],
    ],
  },
);

export const ActivationName = Type.Unsafe<string>({
  $id: 'ActivationName',
  type: 'string',
  enum: [...activationNames],
  description:
    'An activation: a canonical name or an alias (aliases: ' +
    activations
      .filter((e) => e.aliases.length)
      .map((e) => `${e.aliases.join(', ')} -> ${e.name}`)
      .join('; ') +
    '). GET /v1/activations lists each with its params and formulas.',
});

export const ValidationIssue = Type.Object(
  {
    path: Type.String({
      description: 'JSON pointer into the request body, e.g. "/z/3", "/params/alpha", "/weights/2".',
    }),
    message: Type.String({ description: 'What is wrong with the value at that pointer.' }),
  },
  { description: 'One validation failure.' },
);

export const Problem = Type.Object(
  {
    type: Type.String({
      description:
        `A URI identifying the kind of problem: "${problemTypePrefix}" followed by one of: ` +
        Object.entries(errorCodes)
          .map(([slug, meaning]) => `${slug} (${meaning})`)
          .join('; '),
    }),
    title: Type.String({ description: 'The HTTP status phrase, e.g. "Bad Request".' }),
    status: Type.Integer({ description: 'The HTTP status code, repeated for convenience.' }),
    detail: Type.String({ description: 'What went wrong with this request, naming fields and sizes.' }),
    instance: Type.String({ description: 'The path of the request that failed.' }),
    requestId: Type.String({
      description: 'The request id (the x-request-id header): quote it to find the log lines.',
    }),
    errors: Type.Optional(
      Type.Array(ValidationIssue, {
        description: `Validation failures, each with a JSON pointer (400 only): at most the first ${errorBodyBudget.listed}.`,
        maxItems: errorBodyBudget.listed,
      }),
    ),
    errorsOmitted: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: `How many more failures were found than the ${errorBodyBudget.listed} listed in errors (absent when none were left out). Every error body is under ${maxErrorBodyBytes / 1024} KiB: text that echoes the request is clipped, ending in "… (N more characters)".`,
      }),
    ),
  },
  {
    $id: 'Problem',
    description:
      'An RFC 9457 problem details object, sent as application/problem+json for every 4xx and 5xx.',
  },
);

/**
 * A field that is a shared schema plus its own description. @fastify/swagger drops siblings of $ref
 * (an OpenAPI 3.0 rule), so the reference goes inside allOf, where the description survives.
 */
const described = <T>(id: string, description: string, extra: Record<string, unknown> = {}) =>
  Type.Unsafe<T>({ description, ...extra, allOf: [{ $ref: id }] });

export const tensorRef = (description: string) => described<JsonTensor>('Tensor', description);

export const matrixRef = (description: string) => described<number[][]>('Matrix', description);

export const activationNameRef = (description: string, example: string) =>
  described<string>('ActivationName', description, { examples: [example] });

/** The name enum inline (not a $ref), so that Swagger UI offers a drop-down for the path parameter. */
export const activationNameParam = (description: string, example: string) =>
  Type.Unsafe<string>({ type: 'string', enum: [...activationNames], description, examples: [example] });

/** Schemas of the activation routes: the catalog, forward, derivative and second derivative, jacobian and vjp. */
import { Type } from 'typebox';
import { activations, activationsWithDerivativeFromOutput } from '../core/activations/index.js';
import type { ParamSpec } from '../core/activations/types.js';
import { activationNameParam, tensorRef } from './common.js';
import { computeErrorResponses, readErrorResponses } from './responses.js';

const unknownActivation =
  'Unknown activation name or alias (type unknown-activation; the detail lists the known names and aliases).';

const bound = (p: ParamSpec) =>
  [
    p.minimum !== undefined ? `>= ${p.minimum}` : '',
    p.exclusiveMinimum !== undefined ? `> ${p.exclusiveMinimum}` : '',
  ]
    .filter(Boolean)
    .join(', ');

/** "leaky_relu: alpha (default 0.01: the slope ...); ..." from the table, so the docs follow the code. */
const paramRules = activations
  .filter((e) => e.params.length)
  .map(
    (e) =>
      `${e.name}: ${e.params
        .map((p) => `${p.name} (default ${p.default}${bound(p) ? `, ${bound(p)}` : ''}: ${p.description})`)
        .join(', ')}`,
  )
  .join('; ');

export const ParamsField = Type.Unsafe<Record<string, number>>({
  type: 'object',
  additionalProperties: { type: 'number', description: 'A parameter value (finite float64).' },
  description:
    'Parameters of the activation by name; omitted ones take their defaults. Unknown names and ' +
    `out-of-range values are a 400. ${paramRules || 'No activation has parameters.'}`,
});

export const ActivationNameParams = (example: string) =>
  Type.Object(
    {
      name: activationNameParam(
        'Activation name or alias; an unknown name is a 404 listing the known ones.',
        example,
      ),
    },
    { additionalProperties: false },
  );

export const ParamInfo = Type.Object(
  {
    name: Type.String({ description: 'Parameter name, as used in `params`.' }),
    default: Type.Number({ description: 'Value used when the request omits it.' }),
    description: Type.String({ description: 'What the parameter does.' }),
    minimum: Type.Optional(Type.Number({ description: 'Inclusive lower bound.' })),
    exclusiveMinimum: Type.Optional(Type.Number({ description: 'Exclusive lower bound.' })),
  },
  { description: 'One parameter of an activation.' },
);

export const ActivationInfo = Type.Object(
  {
    name: Type.String({ description: 'Canonical name.' }),
    aliases: Type.Array(Type.String({ description: 'An alias.' }), {
      description: 'Other names that resolve to this activation.',
    }),
    kind: Type.Union([Type.Literal('elementwise'), Type.Literal('vector')], {
      description:
        'elementwise: a_i = g(z_i); vector: each row of a batch is mapped as a whole (softmax family).',
    }),
    params: Type.Array(ParamInfo, { description: 'Parameters, with defaults and bounds.' }),
    formula: Type.String({ description: 'g(z) in LaTeX.' }),
    derivativeFormula: Type.String({ description: "g'(z) in LaTeX (and in terms of a where it exists)." }),
    derivativeFromOutput: Type.Boolean({
      description: 'Whether POST /v1/activations/{name}/derivative accepts `a` instead of `z`.',
    }),
    secondDerivativeFormula: Type.String({
      description:
        "g''(z) in LaTeX (and in terms of a where it exists); for softmax and log_softmax the K x K x K tensor " +
        'of second partial derivatives.',
    }),
    secondDerivativeFromOutput: Type.Boolean({
      description: 'Whether POST /v1/activations/{name}/second-derivative accepts `a` instead of `z`.',
    }),
    secondDerivativeNote: Type.Optional(
      Type.String({
        description:
          "Present where g' is continuous but g'' jumps (elu with alpha 1, celu, softsign at 0): the value " +
          'returned there and the one-sided limits.',
      }),
    ),
    description: Type.String({ description: 'What the activation is.' }),
    plot: Type.String({
      description:
        "Path of an SVG plot of g and g' over [-6, 6] (GET; from, to and params as query parameters).",
    }),
  },
  { $id: 'ActivationInfo', description: 'One activation of the catalog.' },
);

const activationInfoRef = (description: string) => Type.Ref('ActivationInfo', { description });

export const catalogSchema = {
  operationId: 'listActivations',
  tags: ['activations'],
  summary: 'List the activations',
  description: 'Every activation with its aliases, params (defaults, bounds) and formulas.',
  response: {
    200: Type.Object(
      {
        activations: Type.Array(activationInfoRef('One activation.'), { description: 'All activations.' }),
      },
      { description: 'The catalog.' },
    ),
    ...readErrorResponses('v1'),
  },
};

export const activationSchema = {
  operationId: 'getActivation',
  tags: ['activations'],
  summary: 'Describe one activation',
  description: 'Aliases resolve to the canonical entry.',
  params: ActivationNameParams('sigmoid'),
  response: {
    200: activationInfoRef('The activation.'),
    ...readErrorResponses('v1', { notFound: unknownActivation }),
  },
};

export const ForwardBody = Type.Object(
  {
    z: tensorRef('Pre-activations z: [K] or [N][K].'),
    params: Type.Optional(ParamsField),
  },
  {
    additionalProperties: false,
    description: 'Input of g.',
    examples: [{ z: [-2, 0, 2] }],
  },
);

export const ForwardReply = Type.Object(
  { a: tensorRef('a = g(z), the shape of z.') },
  { description: 'Activations.' },
);

export const forwardSchema = {
  operationId: 'activationForward',
  tags: ['activations'],
  summary: 'Apply an activation: a = g(z)',
  description:
    'Elementwise activations map each element; softmax and log_softmax map each row (the last axis). ' +
    'The reply mirrors the shape of z.',
  params: ActivationNameParams('sigmoid'),
  body: ForwardBody,
  response: { 200: ForwardReply, ...computeErrorResponses('v1', { notFound: unknownActivation }) },
};

const vectorNames = activations
  .filter((e) => e.kind === 'vector')
  .map((e) => e.name)
  .join(', ');

const fromOutputNames = activationsWithDerivativeFromOutput()
  .map((e) => e.name)
  .join(', ');

export const DerivativeBody = Type.Object(
  {
    z: Type.Optional(tensorRef('Pre-activations z: [K] or [N][K]. Give exactly one of z and a.')),
    a: Type.Optional(
      tensorRef(
        'Outputs a = g(z), as backpropagation has them; allowed only where derivativeFromOutput is true ' +
          `(${fromOutputNames || 'none'}). Give exactly one of z and a.`,
      ),
    ),
    params: Type.Optional(ParamsField),
  },
  {
    additionalProperties: false,
    description: 'Exactly one of z and a (both or neither is a 400), and optional params.',
    examples: [{ z: [-1, 0, 1] }],
  },
);

export const DerivativeReply = Type.Object(
  {
    derivative: tensorRef("g'(z), elementwise, the shape of the input."),
    a: Type.Optional(tensorRef('a = g(z); present when z was given.')),
  },
  { description: 'Derivatives.' },
);

export const derivativeSchema = {
  operationId: 'activationDerivative',
  tags: ['activations'],
  summary: "Elementwise derivative g'(z), from z or from a",
  description:
    "From z: g'(z) and a. From a (the output): g' through its closed form in a, for the activations with " +
    "derivativeFromOutput. At kinks the value is PyTorch autograd's (e.g. relu'(0) = 0). Vector " +
    `activations (${vectorNames}) are not elementwise: use POST /v1/activations/{name}/jacobian or /vjp (400 here).`,
  params: ActivationNameParams('tanh'),
  body: DerivativeBody,
  response: { 200: DerivativeReply, ...computeErrorResponses('v1', { notFound: unknownActivation }) },
};

const secondFromOutputNames = activationsWithDerivativeFromOutput(2)
  .map((e) => e.name)
  .join(', ');

export const SecondDerivativeBody = Type.Object(
  {
    z: Type.Optional(tensorRef('Pre-activations z: [K] or [N][K]. Give exactly one of z and a.')),
    a: Type.Optional(
      tensorRef(
        "Outputs a = g(z); allowed only where secondDerivativeFromOutput is true (g'' a closed form of a: " +
          `${secondFromOutputNames || 'none'}). Give exactly one of z and a.`,
      ),
    ),
    params: Type.Optional(ParamsField),
  },
  {
    additionalProperties: false,
    description: 'Exactly one of z and a (both or neither is a 400), and optional params.',
    examples: [{ z: [-1, 0, 1] }],
  },
);

export const SecondDerivativeReply = Type.Object(
  {
    secondDerivative: tensorRef("g''(z), elementwise, the shape of the input."),
    derivative: tensorRef("g'(z), the shape of the input."),
    a: Type.Optional(tensorRef('a = g(z); present when z was given.')),
  },
  { description: 'Second derivatives, with the first.' },
);

export const secondDerivativeSchema = {
  operationId: 'activationSecondDerivative',
  tags: ['activations'],
  summary: "Elementwise second derivative g''(z), from z or from a",
  description:
    "From z: g''(z), g'(z) and a, each within 4 ulp of the exact value over all finite float64 inputs (subnormal " +
    "results included). From a (the output): g'' and g' through their closed forms in a, for the activations with " +
    "secondDerivativeFromOutput. Where g' jumps (relu at 0, hardtanh at its bounds, ...) g'' is 0, as PyTorch's " +
    "double backward gives, and 0 exactly on linear pieces; where only g'' jumps the catalog's " +
    `secondDerivativeNote says which value is returned. Vector activations (${vectorNames}) are a 400 pointing to ` +
    'POST /v1/gradients/network/hessian-vector.',
  params: ActivationNameParams('tanh'),
  body: SecondDerivativeBody,
  response: { 200: SecondDerivativeReply, ...computeErrorResponses('v1', { notFound: unknownActivation }) },
};

const vectorInputText =
  "Give exactly one of z (pre-activations) and a (the activation's output, where it determines the Jacobian: " +
  'for softmax probabilities, each in [0, 1] and each row summing to 1 within max(1e-6, K * 2^-24); for ' +
  'log_softmax log-probabilities, each <= 0, their exponentials summing to 1 within the same tolerance).';

export const VectorJacobianBody = Type.Object(
  {
    z: Type.Optional(tensorRef(`Pre-activations, [K] or [N][K]. ${vectorInputText}`)),
    a: Type.Optional(tensorRef(`Outputs a = g(z), [K] or [N][K]. ${vectorInputText}`)),
    params: Type.Optional(ParamsField),
  },
  { additionalProperties: false, description: vectorInputText, examples: [{ z: [1, 2, 3] }] },
);

const jacobianRow = Type.Array(Type.Number({ description: 'da_i/dz_j.' }), { description: 'Row i of J.' });
const jacobianMatrix = Type.Array(jacobianRow, { description: 'J, K x K.' });

export const VectorJacobianReply = Type.Object(
  {
    a: tensorRef('g(z) (or the given a), the shape of the input.'),
    jacobian: Type.Unsafe<number[][] | number[][][]>(
      Type.Union(
        [
          jacobianMatrix,
          Type.Array(jacobianMatrix, { description: 'One J per row of the batch, N x K x K.' }),
        ],
        {
          description:
            'jacobian[i][j] = da_i/dz_j: K x K for one sample, N x K x K for a batch (softmax: a_i (delta_ij - ' +
            'a_j); log_softmax: delta_ij - softmax(z)_j). N*K*K counts against MAX_ELEMENTS (checked before ' +
            'computing).',
        },
      ),
    ),
  },
  { description: 'The activation and its Jacobian.' },
);

export const vectorJacobianSchema = {
  operationId: 'activationJacobian',
  tags: ['activations'],
  summary: 'Jacobian of a vector activation',
  description:
    `The full Jacobian over the last axis of a vector activation (${vectorNames}), from z or from its output a. ` +
    'An elementwise activation is a 400 pointing to its /derivative (its Jacobian is diagonal).',
  params: ActivationNameParams('log_softmax'),
  body: VectorJacobianBody,
  response: { 200: VectorJacobianReply, ...computeErrorResponses('v1', { notFound: unknownActivation }) },
};

export const VectorVjpBody = Type.Object(
  {
    z: Type.Optional(tensorRef(`Pre-activations, [K] or [N][K]. ${vectorInputText}`)),
    a: Type.Optional(tensorRef(`Outputs a = g(z), [K] or [N][K]. ${vectorInputText}`)),
    v: tensorRef('The vector (upstream gradient dE/da), the same shape as z or a.'),
    params: Type.Optional(ParamsField),
  },
  {
    additionalProperties: false,
    description: `${vectorInputText} v has the same shape.`,
    examples: [{ z: [1, 2, 3], v: [1, 0, 0] }],
  },
);

export const VectorVjpReply = Type.Object(
  {
    a: tensorRef('g(z) (or the given a), the shape of the input.'),
    gradient: tensorRef('v^T J per row (dE/dz), the shape of the input; computed in O(K) per row.'),
  },
  { description: 'The activation and the vector-Jacobian product.' },
);

export const vectorVjpSchema = {
  operationId: 'activationVjp',
  tags: ['activations'],
  summary: 'Vector-Jacobian product of a vector activation',
  description:
    `gradient = v^T J for a vector activation (${vectorNames}), without building J. An elementwise activation ` +
    'is a 400 pointing to its /derivative.',
  params: ActivationNameParams('log_softmax'),
  body: VectorVjpBody,
  response: { 200: VectorVjpReply, ...computeErrorResponses('v1', { notFound: unknownActivation }) },
};

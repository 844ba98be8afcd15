/**
 * The models of the Open Inference Protocol routes, derived from the activation table (no activation is named
 * here): every activation's forward pass is a model named as the activation; every elementwise activation's
 * derivative is `<name>.derivative` (input z, or a where the entry has derivativeFromOutput); the softmax
 * routes are `softmax.jacobian` and `softmax.vjp`; the output layer is `output_layer`.
 *
 * Tensors here are row-major Float64Array + shape; the last axis is the one softmax normalises, the others are
 * rows. Models throw InferenceError (a status and a message for the `{ error }` body).
 */
import {
  type Activation,
  activations,
  findActivation,
  forwardTensor,
  mapElements,
  resolveParams,
} from '../core/activations/index.js';
import { type Loss, losses, type Reduction, reductions } from '../core/losses.js';
import { outputLayer } from '../core/output-layer.js';
import { checkProbabilities, softmaxJacobian, softmaxVjp } from '../core/softmax.js';

export class InferenceError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'InferenceError';
  }
}

export interface DataTensor {
  readonly data: Float64Array;
  readonly shape: readonly number[];
}

/** A tensor of a model's metadata: -1 marks a dimension of any size. */
export interface TensorMetadata {
  readonly name: string;
  readonly datatype: 'FP64';
  readonly shape: readonly number[];
}

export interface Model {
  readonly name: string;
  readonly description: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
  /** Names of the inputs that may be absent (the z-or-a choice, the bias). */
  readonly optionalInputs: readonly string[];
  /** What request `parameters` the model reads, for the metadata and error messages. */
  readonly parameterText: string;
  /** Runs the model; returns every output by name, in the order of `outputs`. */
  readonly infer: (
    inputs: ReadonlyMap<string, DataTensor>,
    parameters: Readonly<Record<string, unknown>>,
    limits: { readonly maxElements: number },
  ) => Map<string, DataTensor>;
}

const tensor = (name: string, shape: readonly number[]): TensorMetadata => ({
  name,
  datatype: 'FP64',
  shape,
});
const anyRank = [-1, -1];

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** Rows and K (the last axis) of a tensor of any rank >= 1. */
function rowsOf(t: DataTensor): { rows: number; K: number } {
  const K = t.shape[t.shape.length - 1];
  return { rows: t.data.length / K, K };
}

function paramsOf(
  entry: Activation,
  raw: Readonly<Record<string, unknown>>,
  reserved: readonly string[] = [],
) {
  const own = Object.fromEntries(Object.entries(raw).filter(([key]) => !reserved.includes(key)));
  const result = resolveParams(entry, own);
  if ('errors' in result)
    throw new InferenceError(
      400,
      `parameters: ${result.errors.map((e) => `${e.path ? e.path.slice(1) : entry.name}: ${e.message}`).join('; ')}`,
    );
  return result.params;
}

function finite(quantity: string, data: Float64Array): Float64Array {
  for (let i = 0; i < data.length; i++)
    if (!Number.isFinite(data[i]))
      throw new InferenceError(422, `${quantity}[${i}] is not finite in float64 (${data[i]}) for this input`);
  return data;
}

/** Exactly one of z and a; a only where the model allows it. */
function pickZOrA(
  inputs: ReadonlyMap<string, DataTensor>,
  allowA: boolean,
): { from: 'z' | 'a'; t: DataTensor } {
  const z = inputs.get('z');
  const a = inputs.get('a');
  if (z && a) throw new InferenceError(400, 'give exactly one of the inputs z and a, not both');
  if (z) return { from: 'z', t: z };
  if (a && allowA) return { from: 'a', t: a };
  throw new InferenceError(
    400,
    allowA ? 'give exactly one of the inputs z and a' : 'the input z is required',
  );
}

function checkProbabilitiesOf(t: DataTensor): void {
  const { K } = rowsOf(t);
  const problem = checkProbabilities(t.data, K);
  if (problem)
    throw new InferenceError(
      400,
      `input a, row ${problem.row}${problem.col !== undefined ? `, element ${problem.col}` : ''}: ${problem.message}`,
    );
}

function paramText(entry: Activation): string {
  return entry.params.length
    ? `request parameters: ${entry.params.map((p) => `${p.name} (default ${p.default})`).join(', ')}`
    : 'no request parameters';
}

function forwardModel(entry: Activation): Model {
  return {
    name: entry.name,
    description: `a = ${entry.name}(z)${entry.kind === 'vector' ? ' over the last axis' : ', elementwise'}`,
    inputs: [tensor('z', anyRank)],
    outputs: [tensor('a', anyRank)],
    optionalInputs: [],
    parameterText: paramText(entry),
    infer: (inputs, parameters) => {
      const { t } = pickZOrA(inputs, false);
      const params = paramsOf(entry, parameters);
      const a = forwardTensor(entry, t.data, rowsOf(t).K, params);
      return new Map([['a', { data: finite('a', a), shape: t.shape }]]);
    },
  };
}

function derivativeModel(entry: Activation & { kind: 'elementwise' }): Model {
  const fromOutput = entry.derivativeFromOutput;
  return {
    name: `${entry.name}.derivative`,
    description:
      `${entry.name}'(z) elementwise, with a = ${entry.name}(z)` +
      (fromOutput ? '; or from the input a alone (give exactly one of z and a), output derivative only' : ''),
    inputs: fromOutput ? [tensor('z', anyRank), tensor('a', anyRank)] : [tensor('z', anyRank)],
    outputs: [tensor('derivative', anyRank), tensor('a', anyRank)],
    optionalInputs: fromOutput ? ['z', 'a'] : [],
    parameterText: paramText(entry),
    infer: (inputs, parameters) => {
      const { from, t } = pickZOrA(inputs, fromOutput !== undefined);
      const params = paramsOf(entry, parameters);
      if (from === 'a' && fromOutput)
        return new Map([
          [
            'derivative',
            { data: finite('derivative', mapElements(fromOutput, t.data, params)), shape: t.shape },
          ],
        ]);
      const a = finite('a', mapElements(entry.forward, t.data, params));
      const derivative = finite('derivative', mapElements(entry.derivative, t.data, params));
      return new Map([
        ['derivative', { data: derivative, shape: t.shape }],
        ['a', { data: a, shape: t.shape }],
      ]);
    },
  };
}

const noParameters = (model: string, parameters: Readonly<Record<string, unknown>>) => {
  const keys = Object.keys(parameters);
  if (keys.length) throw new InferenceError(400, `parameters: ${keys.join(', ')}: ${model} takes none`);
};

const jacobianModel: Model = {
  name: 'softmax.jacobian',
  description:
    'The softmax Jacobian over the last axis, jacobian[..., i, j] = da_i/dz_j = a_i (delta_ij - a_j), from ' +
    'logits z or probabilities a (exactly one); the jacobian counts against MAX_ELEMENTS',
  inputs: [tensor('z', anyRank), tensor('a', anyRank)],
  outputs: [tensor('a', anyRank), tensor('jacobian', [-1, -1, -1])],
  optionalInputs: ['z', 'a'],
  parameterText: 'no request parameters',
  infer: (inputs, parameters, limits) => {
    noParameters('softmax.jacobian', parameters);
    const { from, t } = pickZOrA(inputs, true);
    if (from === 'a') checkProbabilitiesOf(t);
    const { rows, K } = rowsOf(t);
    if (rows * K * K > limits.maxElements)
      throw new InferenceError(
        413,
        `the jacobian of input ${from} ${shapeText(t.shape)} has ${rows * K * K} elements; at most ${limits.maxElements} are allowed (MAX_ELEMENTS)`,
      );
    const { a, jacobian } = softmaxJacobian(t.data, K, from);
    return new Map([
      ['a', { data: finite('a', a), shape: t.shape }],
      ['jacobian', { data: finite('jacobian', jacobian), shape: [...t.shape, K] }],
    ]);
  },
};

const vjpModel: Model = {
  name: 'softmax.vjp',
  description:
    'gradient = v^T J per row of the last axis (J the softmax Jacobian, never built), from logits z or ' +
    'probabilities a (exactly one), and v of the same shape',
  inputs: [tensor('z', anyRank), tensor('a', anyRank), tensor('v', anyRank)],
  outputs: [tensor('a', anyRank), tensor('gradient', anyRank)],
  optionalInputs: ['z', 'a'],
  parameterText: 'no request parameters',
  infer: (inputs, parameters) => {
    noParameters('softmax.vjp', parameters);
    const { from, t } = pickZOrA(inputs, true);
    const v = inputs.get('v');
    if (!v) throw new InferenceError(400, 'the input v is required');
    if (shapeText(v.shape) !== shapeText(t.shape))
      throw new InferenceError(
        400,
        `input v has shape ${shapeText(v.shape)} but ${from} has ${shapeText(t.shape)}`,
      );
    if (from === 'a') checkProbabilitiesOf(t);
    const { a, gradient } = softmaxVjp(t.data, v.data, rowsOf(t).K, from);
    return new Map([
      ['a', { data: finite('a', a), shape: t.shape }],
      ['gradient', { data: finite('gradient', gradient), shape: t.shape }],
    ]);
  },
};

const outputLayerReserved = ['activation', 'loss', 'reduction'];

const outputLayerModel: Model = {
  name: 'output_layer',
  description:
    'One dense output layer: z = x weights + bias, a = g(z), the loss E against targets, delta = dE/dz and the ' +
    'gradients dE/dweights, dE/dbias, dE/dx. x is [M] or [N, M], weights [M, K] (weights[j][k] from input j to ' +
    'output k), bias [K] (optional, zeros), targets [K] or [N, K]',
  inputs: [
    tensor('x', [-1, -1]),
    tensor('weights', [-1, -1]),
    tensor('bias', [-1]),
    tensor('targets', [-1, -1]),
  ],
  outputs: [
    tensor('loss', [1]),
    tensor('z', [-1, -1]),
    tensor('a', [-1, -1]),
    tensor('delta', [-1, -1]),
    tensor('weightGradient', [-1, -1]),
    tensor('biasGradient', [-1]),
    tensor('inputGradient', [-1, -1]),
  ],
  optionalInputs: ['bias'],
  parameterText:
    `request parameters: activation (required: an activation name), loss (${losses.join(' | ')}; default ` +
    `squared_error), reduction (${reductions.join(' | ')}; default sum), and the activation's own parameters`,
  infer: (inputs, parameters) => {
    const name = parameters.activation;
    if (typeof name !== 'string')
      throw new InferenceError(400, 'parameters: activation is required (a string naming an activation)');
    const entry = findActivation(name);
    if (!entry)
      throw new InferenceError(400, `parameters: activation ${JSON.stringify(name)} is not an activation`);
    const loss = parameters.loss ?? 'squared_error';
    if (!(losses as readonly unknown[]).includes(loss))
      throw new InferenceError(400, `parameters: loss must be one of ${losses.join(', ')}`);
    const reduction = parameters.reduction ?? 'sum';
    if (!(reductions as readonly unknown[]).includes(reduction))
      throw new InferenceError(400, `parameters: reduction must be one of ${reductions.join(', ')}`);
    const params = paramsOf(entry, parameters, outputLayerReserved);

    const need = (n: string) => {
      const t = inputs.get(n);
      if (!t) throw new InferenceError(400, `the input ${n} is required`);
      return t;
    };
    const x = need('x');
    const weights = need('weights');
    const targets = need('targets');
    const bias = inputs.get('bias');
    if (weights.shape.length !== 2)
      throw new InferenceError(400, `input weights must have shape [M, K], has ${shapeText(weights.shape)}`);
    const [M, K] = weights.shape;
    for (const [n, t] of [
      ['x', x],
      ['targets', targets],
    ] as const)
      if (t.shape.length > 2)
        throw new InferenceError(400, `input ${n} must have rank 1 or 2, has ${shapeText(t.shape)}`);
    const N = x.shape.length === 2 ? x.shape[0] : 1;
    if (x.shape[x.shape.length - 1] !== M)
      throw new InferenceError(
        400,
        `input x has ${x.shape[x.shape.length - 1]} inputs per sample (M) but weights has ${M} rows (M)`,
      );
    if (x.shape.length !== targets.shape.length)
      throw new InferenceError(
        400,
        `input x has shape ${shapeText(x.shape)} but targets has ${shapeText(targets.shape)}: both one sample or both a batch`,
      );
    if ((targets.shape.length === 2 ? targets.shape[0] : 1) !== N)
      throw new InferenceError(400, `input x has ${N} samples (N) but targets has ${targets.shape[0]} (N)`);
    if (targets.shape[targets.shape.length - 1] !== K)
      throw new InferenceError(
        400,
        `input targets has ${targets.shape[targets.shape.length - 1]} outputs per sample (K) but weights has ${K} columns (K)`,
      );
    if (bias && (bias.shape.length !== 1 || bias.shape[0] !== K))
      throw new InferenceError(
        400,
        `input bias has shape ${shapeText(bias.shape)} but weights has ${K} columns (K): bias is [K]`,
      );

    const result = outputLayer({
      x: x.data,
      N,
      M,
      weights: weights.data,
      K,
      bias: bias?.data,
      targets: targets.data,
      activation: entry,
      params,
      loss: loss as Loss,
      reduction: reduction as Reduction,
    });
    return new Map([
      ['loss', { data: finite('loss', new Float64Array([result.loss])), shape: [1] }],
      ['z', { data: finite('z', result.z), shape: targets.shape }],
      ['a', { data: finite('a', result.a), shape: targets.shape }],
      ['delta', { data: finite('delta', result.delta), shape: targets.shape }],
      ['weightGradient', { data: finite('weightGradient', result.weightGradient), shape: [M, K] }],
      ['biasGradient', { data: finite('biasGradient', result.biasGradient), shape: [K] }],
      ['inputGradient', { data: finite('inputGradient', result.inputGradient), shape: x.shape }],
    ]);
  },
};

export const models: readonly Model[] = [
  ...activations.map(forwardModel),
  ...activations.flatMap((e) => (e.kind === 'elementwise' ? [derivativeModel(e)] : [])),
  jacobianModel,
  vjpModel,
  outputLayerModel,
];

const byName = new Map(models.map((m) => [m.name, m]));

export const modelNames: readonly string[] = models.map((m) => m.name);

export function findModel(name: string): Model | undefined {
  return byName.get(name);
}

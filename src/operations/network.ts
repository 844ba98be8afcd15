/**
 * The network and check operations: backpropagation through dense layers (core/network.ts) and the gradient
 * checker over it (core/gradient-check.ts). Their tensors are named by path, as binary inputs are named:
 * `x`, `targets`, `layers.<l>.weights`, `layers.<l>.bias`, and for the check the given gradients
 * `gradients.layers.<l>.weightGradient`, `gradients.layers.<l>.biasGradient`, `gradients.inputGradient`.
 * Results are named the same way (`layers.<l>.z`, ...); the /v1 JSON reply nests them back into `layers`.
 * The per-layer activations and params travel in the option `layers` ([{ activation, params }]).
 */
import { activationNames, findActivation } from '../core/activations/index.js';
import { allPassed, checkNetworkGradients, type GivenGradients } from '../core/gradient-check.js';
import { type Loss, losses, type Reduction, reductions } from '../core/losses.js';
import { type DenseLayer, layerQuantities, type NetworkResult, network } from '../core/network.js';
import { invalidField, TooManyElementsError } from '../errors.js';
import type { ReplyField } from '../serialize/reply.js';
import { mismatch, oneOf, paramsFor, perSample, samples, shapeText } from './support.js';
import type { Job, JobLayer, Operation, OperationRequest, ResultShape, TensorValue } from './types.js';

export const weightsName = (l: number) => `layers.${l}.weights`;
export const biasName = (l: number) => `layers.${l}.bias`;
const givenPrefix = 'gradients.';
const givenName = /^gradients\.(?:layers\.(\d+)\.(weightGradient|biasGradient)|(inputGradient))$/;

/** The JSON pointer of a dotted tensor name: layers.2.weights -> /layers/2/weights. */
export const pointerOf = (name: string) => `/${name.replaceAll('.', '/')}`;

function limit(name: string, count: number, maxElements: number): void {
  if (count > maxElements) throw new TooManyElementsError(pointerOf(name), count, maxElements);
}

/** The network part of a request, checked: activations and params per layer, shapes that agree, sizes. */
function prepareNetwork(request: OperationRequest) {
  const at = request.pointers.options;
  const specs = request.options.layers;
  if (!Array.isArray(specs) || specs.length === 0)
    throw invalidField(`${at}/layers`, 'is required: at least one layer');
  const loss = oneOf<Loss>(request, 'loss', losses, 'squared_error');
  const reduction = oneOf<Reduction>(request, 'reduction', reductions, 'sum');
  const intermediates = request.options.intermediates ?? true;
  if (typeof intermediates !== 'boolean') throw invalidField(`${at}/intermediates`, 'must be true or false');

  const required = (name: string) => {
    const t = request.tensors.get(name);
    if (!t) throw invalidField(pointerOf(name), 'is required', `${pointerOf(name)} is required`);
    limit(name, t.data.length, request.maxElements);
    return t;
  };
  const x = required('x');
  const targets = required('targets');
  for (const [name, t] of [
    ['x', x],
    ['targets', targets],
  ] as const)
    if (t.shape.length > 2)
      throw mismatch(`/${name}`, `${name} must be [K] or a batch [N][K], has shape ${shapeText(t.shape)}`);
  const N = samples(x);

  const tensors: Record<string, TensorValue> = { x, targets };
  const layers: JobLayer[] = [];
  let inputs = perSample(x);
  for (const [l, spec] of (specs as { activation?: unknown; params?: Record<string, unknown> }[]).entries()) {
    const entry = typeof spec?.activation === 'string' ? findActivation(spec.activation) : undefined;
    if (!entry)
      throw invalidField(`${at}/layers/${l}/activation`, `must be one of: ${activationNames.join(', ')}`);
    const params = paramsFor(entry, {
      params: spec.params,
      pointers: { params: `${at}/layers/${l}/params`, options: at },
    });
    const name = weightsName(l);
    const weights = required(name);
    if (weights.shape.length !== 2)
      throw mismatch(
        pointerOf(name),
        `${pointerOf(name)} must be a matrix [M][K] (weights[j][k] from input j to output k), has shape ${shapeText(weights.shape)}`,
      );
    const [M, K] = weights.shape;
    if (M !== inputs)
      throw mismatch(
        pointerOf(name),
        l === 0
          ? `${pointerOf(name)} has ${M} rows but x has ${inputs} inputs per sample: the first layer's weights are M x K with M the columns of x`
          : `${pointerOf(name)} has ${M} rows but layer ${l - 1} has ${inputs} outputs: each layer's weights are M x K with M the previous layer's K`,
      );
    tensors[name] = weights;
    const bias = request.tensors.get(biasName(l));
    if (bias) {
      if (bias.shape.length !== 1 || bias.shape[0] !== K)
        throw mismatch(
          pointerOf(biasName(l)),
          `${pointerOf(biasName(l))} has shape ${shapeText(bias.shape)} but layer ${l} has ${K} outputs (the columns of its weights)`,
        );
      tensors[biasName(l)] = bias;
    }
    // Every tensor the layer computes (z, a, delta: N x K; its weight gradient: M x K), whether or not the
    // reply carries z, a and delta: they are held in memory all the same.
    limit(`layers.${l}.z`, N * K, request.maxElements);
    layers.push({ activation: entry.name, params });
    inputs = K;
  }
  const stray = [...request.tensors.keys()].find((name) => name.startsWith('layers.') && !(name in tensors));
  if (stray)
    throw invalidField(
      pointerOf(stray),
      `is not a tensor of this network of ${layers.length} layers (layers.<l>.weights, layers.<l>.bias)`,
    );
  if (x.shape.length !== targets.shape.length)
    throw mismatch(
      '/targets',
      `x has shape ${shapeText(x.shape)} but targets has shape ${shapeText(targets.shape)}: give both as one sample ([M] and [K]) or both as a batch ([N][M] and [N][K])`,
    );
  if (samples(targets) !== N)
    throw mismatch('/targets', `x has ${N} samples (N) but targets has ${samples(targets)} (N)`);
  if (perSample(targets) !== inputs)
    throw mismatch(
      '/targets',
      `targets has ${perSample(targets)} outputs per sample but the last layer (layer ${layers.length - 1}) has ${inputs} outputs`,
    );
  return { tensors, layers, options: { loss, reduction, intermediates } };
}

function jobLayers(job: Job): readonly JobLayer[] {
  if (!job.layers) throw new RangeError(`job: ${job.operation} without layers`);
  return job.layers;
}

/** N, whether x is a batch, and each layer's M and K. */
function sizes(job: Job) {
  const { x } = job.tensors;
  const layers = jobLayers(job).map((_, l) => {
    const [M, K] = job.tensors[weightsName(l)].shape;
    return { M, K };
  });
  return { N: samples(x), batched: x.shape.length === 2, layers };
}

/** The tensors the network replies with: z, a and delta only with intermediates. */
function networkResults(job: Job): ResultShape[] {
  const { N, batched, layers } = sizes(job);
  const out: ResultShape[] = [];
  for (const [l, { M, K }] of layers.entries()) {
    if (job.options.intermediates !== false)
      for (const q of ['z', 'a', 'delta'] as const)
        out.push({ name: `layers.${l}.${q}`, dims: batched ? [N, K] : [K] });
    out.push({ name: `layers.${l}.weightGradient`, dims: [M, K] });
    out.push({ name: `layers.${l}.biasGradient`, dims: [K] });
  }
  out.push({ name: 'inputGradient', dims: job.tensors.x.shape });
  return out;
}

/** z = x W is N*M*K multiply-adds per layer, the gradients twice that: count the work, not only the arrays. */
function networkSize(job: Job): number {
  const { N, layers } = sizes(job);
  let work = job.tensors.x.data.length;
  for (const { M, K } of layers) work += 3 * N * M * K + 4 * N * K + M * K;
  return work;
}

/** Core over the job's arrays; network() checks every quantity finite as it computes it. */
function runNetwork(job: Job): NetworkResult {
  const { N, layers: shapes } = sizes(job);
  const layers: DenseLayer[] = jobLayers(job).map(({ activation, params }, l) => {
    const entry = findActivation(activation);
    if (!entry) throw new RangeError(`job: unknown activation ${activation}`);
    return {
      weights: job.tensors[weightsName(l)].data,
      ...shapes[l],
      bias: job.tensors[biasName(l)]?.data,
      activation: entry,
      params,
    };
  });
  return network({
    x: job.tensors.x.data,
    N,
    layers,
    targets: job.tensors.targets.data,
    loss: job.options.loss as Loss,
    reduction: job.options.reduction as Reduction,
  });
}

const networkInputs = [
  { name: 'x', shape: [-1, -1] },
  { name: 'targets', shape: [-1, -1] },
  { name: 'layers.<l>.weights', shape: [-1, -1] },
  { name: 'layers.<l>.bias', shape: [-1], optional: true },
];

const networkOptions = ['layers', 'loss', 'reduction', 'intermediates'];

export const networkOperation: Operation<'network'> = {
  name: 'network',
  scope: 'none',
  v1Only: true,
  describe: () =>
    'Backpropagation through dense layers: z_l = h_(l-1) W_l + b_l, a_l = g_l(z_l) with h_0 = x, the loss of the ' +
    'last layer against targets, and per layer delta_l = dE/dz_l, dE/dW_l, dE/db_l, then dE/dx',
  inputs: () => networkInputs,
  outputs: [
    { name: 'loss', shape: [1] },
    ...layerQuantities.map((q) => ({ name: `layers.<l>.${q}`, shape: [-1, -1] })),
    { name: 'inputGradient', shape: [-1, -1] },
  ],
  options: networkOptions,
  parameterText: () =>
    `layers ([{ activation, params }] per layer), loss (${losses.join(' | ')}; default squared_error), ` +
    `reduction (${reductions.join(' | ')}; default sum), intermediates (default true)`,
  prepare: (request) => {
    const { tensors, layers, options } = prepareNetwork(request);
    return { operation: 'network', params: {}, options, tensors, layers };
  },
  results: networkResults,
  size: networkSize,
  run: (job) => {
    const result = runNetwork(job);
    const fields: ReplyField[] = [{ name: 'loss', value: result.loss }];
    for (const { name, dims } of networkResults(job)) {
      const [, l, quantity] = name.split('.');
      const data =
        name === 'inputGradient'
          ? result.inputGradient
          : result.layers[Number(l)][quantity as (typeof layerQuantities)[number]];
      fields.push({ name, data, dims });
    }
    return fields;
  },
};

/** A given gradient's expected dims, from the network's shapes; undefined for a layer it does not have. */
function expectedDims(job: Pick<Job, 'tensors' | 'layers'>, name: string): readonly number[] | undefined {
  const match = givenName.exec(name);
  if (!match) return undefined;
  if (match[3]) return job.tensors.x.shape;
  const l = Number(match[1]);
  const weights = job.tensors[weightsName(l)];
  if (!weights) return undefined;
  return match[2] === 'weightGradient' ? weights.shape : [weights.shape[1]];
}

function tolerance(request: OperationRequest, name: string, fallback: number): number {
  const value = request.options[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw invalidField(`${request.pointers.options}/${name}`, 'must be a finite number >= 0');
  return value;
}

export const checkOperation: Operation<'check'> = {
  name: 'check',
  scope: 'none',
  v1Only: true,
  describe: () =>
    "Checks gradients computed elsewhere against the network's, entry by entry: |got - expected| <= atol + " +
    'rtol |expected|',
  inputs: () => [
    ...networkInputs,
    { name: 'gradients.layers.<l>.weightGradient', shape: [-1, -1], optional: true },
    { name: 'gradients.layers.<l>.biasGradient', shape: [-1], optional: true },
    { name: 'gradients.inputGradient', shape: [-1, -1], optional: true },
  ],
  outputs: [],
  options: [...networkOptions, 'gradients.loss', 'rtol', 'atol'],
  parameterText: () =>
    `${networkOperation.parameterText()}, gradients.loss, rtol (default 1e-7), atol (default 0)`,
  prepare: (request) => {
    const { tensors, layers, options } = prepareNetwork(request);
    const rtol = tolerance(request, 'rtol', 1e-7);
    const atol = tolerance(request, 'atol', 0);
    const givenLoss = request.options['gradients.loss'];
    if (givenLoss !== undefined && (typeof givenLoss !== 'number' || !Number.isFinite(givenLoss)))
      throw invalidField(`${request.pointers.options}/gradients/loss`, 'must be a finite number');
    const job = { tensors, layers };
    let given = givenLoss === undefined ? 0 : 1;
    for (const [name, t] of request.tensors) {
      if (!name.startsWith(givenPrefix)) continue;
      const dims = expectedDims(job, name);
      if (!dims) {
        const layer = givenName.exec(name)?.[1];
        throw invalidField(
          pointerOf(name),
          layer === undefined
            ? 'is not a gradient of the network (gradients.layers.<l>.weightGradient, .biasGradient, gradients.inputGradient)'
            : `the network has ${layers.length} layers (0 to ${layers.length - 1}): there is no layer ${layer}`,
        );
      }
      if (t.shape.length !== dims.length || t.shape.some((d, i) => d !== dims[i]))
        throw mismatch(
          pointerOf(name),
          `${pointerOf(name)} has shape ${shapeText(t.shape)} but the network's is ${shapeText(dims)}`,
        );
      tensors[name] = t;
      given++;
    }
    if (given === 0)
      throw invalidField(
        `${request.pointers.options}/gradients`,
        'has nothing to check: give loss, inputGradient or a layer’s weightGradient or biasGradient',
      );
    return {
      operation: 'check',
      params: {},
      options: { ...options, rtol, atol, ...(givenLoss === undefined ? {} : { givenLoss }) },
      tensors,
      layers,
    };
  },
  // The reply holds no tensors; the network's are computed (and counted against MAX_ELEMENTS in prepare).
  results: () => [],
  size: (job) => {
    let given = 0;
    for (const [name, t] of Object.entries(job.tensors))
      if (name.startsWith(givenPrefix)) given += t.data.length;
    return networkSize(job) + 2 * given;
  },
  run: (job) => {
    const result = runNetwork(job);
    const given: GivenGradients = {
      loss: job.options.givenLoss as number | undefined,
      layers: jobLayers(job).map((_, l) => ({
        weightGradient: job.tensors[`gradients.layers.${l}.weightGradient`]?.data,
        biasGradient: job.tensors[`gradients.layers.${l}.biasGradient`]?.data,
      })),
      inputGradient: job.tensors['gradients.inputGradient']?.data,
    };
    const { layers } = sizes(job);
    const rtol = job.options.rtol as number;
    const atol = job.options.atol as number;
    const checks = checkNetworkGradients(result, layers, job.tensors.x.shape, given, { rtol, atol });
    return [
      { name: 'passed', json: allPassed(checks) },
      { name: 'rtol', value: rtol },
      { name: 'atol', value: atol },
      { name: 'checks', json: checks.map((c) => ({ ...c, worst: { ...c.worst } })) },
    ];
  },
};

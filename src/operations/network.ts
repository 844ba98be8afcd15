/**
 * The network, network-hessian-vector and check operations: backpropagation through dense layers and the
 * R-operator's curvature products (core/network.ts), and the gradient checker over them (core/gradient-check.ts).
 * Their tensors are named by path, as binary inputs are named: `x`, `targets`, `layers.<l>.weights`,
 * `layers.<l>.bias`, the direction `vector.layers.<l>.weights`, `vector.layers.<l>.bias`, and for the check the
 * given `gradients.layers.<l>.weightGradient` (.biasGradient, .weightProduct, .biasProduct), `gradients.inputGradient`.
 * Results are named the same way (`layers.<l>.z`, ...); the /v1 JSON reply nests them back into `layers`.
 * The per-layer activations and params travel in the option `layers` ([{ activation, params }]).
 */
import { activationNames, findActivation } from '../core/activations/index.js';
import { allPassed, checkNetworkGradients, type GivenGradients } from '../core/gradient-check.js';
import { type Curvature, curvatures, type Loss, losses, type Reduction, reductions } from '../core/losses.js';
import {
  curvatureProduct,
  type DenseLayer,
  layerQuantities,
  type NetworkResult,
  network,
  type ProductResult,
  productQuantities,
} from '../core/network.js';
import { invalidField, TooManyElementsError } from '../errors.js';
import type { ReplyField } from '../serialize/reply.js';
import { mismatch, oneOf, paramsFor, perSample, samples, shapeText } from './support.js';
import type { Job, JobLayer, Operation, OperationRequest, ResultShape, TensorValue } from './types.js';

export const weightsName = (l: number) => `layers.${l}.weights`;
export const biasName = (l: number) => `layers.${l}.bias`;
export const vectorWeightsName = (l: number) => `vector.layers.${l}.weights`;
export const vectorBiasName = (l: number) => `vector.layers.${l}.bias`;
const vectorPrefix = 'vector.';
const givenPrefix = 'gradients.';
const givenName =
  /^gradients\.(?:layers\.(\d+)\.(weightGradient|biasGradient|weightProduct|biasProduct)|(inputGradient))$/;

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

/**
 * The direction `vector` of a curvature product, checked against the network's shapes: one entry per layer, its
 * weights M_l x K_l and its bias (optional, 0 when absent) K_l; a 400 naming the path otherwise. Adds its tensors
 * to `tensors` and returns the curvature.
 */
function prepareDirection(
  request: OperationRequest,
  tensors: Record<string, TensorValue>,
  layerCount: number,
): Curvature {
  const curvature = oneOf<Curvature>(request, 'curvature', curvatures, 'hessian');
  for (let l = 0; l < layerCount; l++) {
    const [M, K] = tensors[weightsName(l)].shape;
    const name = vectorWeightsName(l);
    const weights = request.tensors.get(name);
    if (!weights)
      throw invalidField(
        pointerOf(name),
        `is required: the vector has one entry per layer, with weights the shape of layer ${l}'s (${shapeText([M, K])})`,
      );
    limit(name, weights.data.length, request.maxElements);
    if (weights.shape.length !== 2 || weights.shape[0] !== M || weights.shape[1] !== K)
      throw mismatch(
        pointerOf(name),
        `${pointerOf(name)} has shape ${shapeText(weights.shape)} but layer ${l}'s weights have shape ${shapeText([M, K])}: the vector is a direction in parameter space, each entry the shape of its layer's parameters`,
      );
    tensors[name] = weights;
    const bias = request.tensors.get(vectorBiasName(l));
    if (bias) {
      if (bias.shape.length !== 1 || bias.shape[0] !== K)
        throw mismatch(
          pointerOf(vectorBiasName(l)),
          `${pointerOf(vectorBiasName(l))} has shape ${shapeText(bias.shape)} but layer ${l} has ${K} outputs (its bias has shape ${shapeText([K])})`,
        );
      tensors[vectorBiasName(l)] = bias;
    }
  }
  const stray = [...request.tensors.keys()].find(
    (name) => name.startsWith(vectorPrefix) && !(name in tensors),
  );
  if (stray)
    throw invalidField(
      pointerOf(stray),
      `is not part of a direction for this network of ${layerCount} layers (vector.layers.<l>.weights, vector.layers.<l>.bias, l from 0 to ${layerCount - 1})`,
    );
  return curvature;
}

/** Whether the request carries a direction (the check's optional vector). */
const hasDirection = (request: OperationRequest) =>
  [...request.tensors.keys()].some((name) => name.startsWith(vectorPrefix));

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

/** The R-operator's extra work over the gradient's: about two products forward and four backward per layer. */
function productSize(job: Job): number {
  const { N, layers } = sizes(job);
  let work = networkSize(job);
  for (const { M, K } of layers) work += 6 * N * M * K + 6 * N * K + 2 * M * K;
  return work;
}

/** Core's input for the job's network: x, N, the dense layers, targets, loss and reduction. */
function networkInput(job: Job) {
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
  return {
    x: job.tensors.x.data,
    N,
    layers,
    targets: job.tensors.targets.data,
    loss: job.options.loss as Loss,
    reduction: job.options.reduction as Reduction,
  };
}

/** Core over the job's arrays; network() checks every quantity finite as it computes it. */
const runNetwork = (job: Job): NetworkResult => network(networkInput(job));

/** The curvature product of the job's network along its vector (curvatureProduct checks finiteness). */
function runProduct(job: Job, withInputGradient: boolean): ProductResult {
  const input = networkInput(job);
  return curvatureProduct({
    ...input,
    vector: input.layers.map((_, l) => ({
      weights: job.tensors[vectorWeightsName(l)].data,
      bias: job.tensors[vectorBiasName(l)]?.data,
    })),
    curvature: job.options.curvature as Curvature,
    withInputGradient,
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

/** The tensors the hessian-vector reply carries: per layer the gradients and the products. */
function productResults(job: Job): ResultShape[] {
  return sizes(job).layers.flatMap(({ M, K }, l) =>
    productQuantities.map((q) => ({ name: `layers.${l}.${q}`, dims: q.startsWith('weight') ? [M, K] : [K] })),
  );
}

export const hessianVectorOperation: Operation<'network-hessian-vector'> = {
  name: 'network-hessian-vector',
  scope: 'none',
  v1Only: true,
  describe: () =>
    'The Hessian (or Gauss-Newton matrix J^T H_out J) of the network’s loss in its weights and biases times a ' +
    'direction vector, by the R-operator (one forward and one backward pass of directional derivatives), with ' +
    'the gradients and the directional derivative',
  inputs: () => [
    ...networkInputs,
    { name: 'vector.layers.<l>.weights', shape: [-1, -1] },
    { name: 'vector.layers.<l>.bias', shape: [-1], optional: true },
  ],
  outputs: [
    { name: 'loss', shape: [1] },
    { name: 'directionalDerivative', shape: [1] },
    ...productQuantities.map((q) => ({ name: `layers.<l>.${q}`, shape: [-1, -1] })),
  ],
  options: [...networkOptions, 'curvature'],
  parameterText: () =>
    `${networkOperation.parameterText()} (accepted, no intermediates are returned), curvature (${curvatures.join(' | ')}; default hessian)`,
  prepare: (request) => {
    const { tensors, layers, options } = prepareNetwork(request);
    const curvature = prepareDirection(request, tensors, layers.length);
    return {
      operation: 'network-hessian-vector',
      params: {},
      options: { ...options, curvature },
      tensors,
      layers,
    };
  },
  results: productResults,
  size: productSize,
  run: (job) => {
    const result = runProduct(job, false);
    const fields: ReplyField[] = [
      { name: 'loss', value: result.loss },
      { name: 'directionalDerivative', value: result.directionalDerivative },
    ];
    for (const { name, dims } of productResults(job)) {
      const [, l, quantity] = name.split('.');
      fields.push({
        name,
        data: result.layers[Number(l)][quantity as (typeof productQuantities)[number]],
        dims,
      });
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
  return match[2].startsWith('weight') ? weights.shape : [weights.shape[1]];
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
    "Checks gradients (and, given a vector, curvature products) computed elsewhere against the network's, " +
    'entry by entry: |got - expected| <= atol + rtol |expected|',
  inputs: () => [
    ...networkInputs,
    { name: 'vector.layers.<l>.weights', shape: [-1, -1], optional: true },
    { name: 'vector.layers.<l>.bias', shape: [-1], optional: true },
    { name: 'gradients.layers.<l>.weightGradient', shape: [-1, -1], optional: true },
    { name: 'gradients.layers.<l>.biasGradient', shape: [-1], optional: true },
    { name: 'gradients.layers.<l>.weightProduct', shape: [-1, -1], optional: true },
    { name: 'gradients.layers.<l>.biasProduct', shape: [-1], optional: true },
    { name: 'gradients.inputGradient', shape: [-1, -1], optional: true },
  ],
  outputs: [],
  options: [...networkOptions, 'curvature', 'gradients.loss', 'rtol', 'atol'],
  parameterText: () =>
    `${networkOperation.parameterText()}, vector and curvature (optional: then products can be checked), ` +
    'gradients.loss, rtol (default 1e-7), atol (default 0)',
  prepare: (request) => {
    const { tensors, layers, options } = prepareNetwork(request);
    const withVector = hasDirection(request);
    const curvature = withVector ? prepareDirection(request, tensors, layers.length) : undefined;
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
      if (!withVector && /Product$/.test(name))
        throw invalidField(
          pointerOf(name),
          'needs vector: a product is checked against the curvature times the vector given beside it',
        );
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
        'has nothing to check: give loss, inputGradient or a layer’s weightGradient, biasGradient, weightProduct or biasProduct',
      );
    return {
      operation: 'check',
      params: {},
      options: {
        ...options,
        rtol,
        atol,
        ...(givenLoss === undefined ? {} : { givenLoss }),
        ...(curvature === undefined ? {} : { curvature }),
      },
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
    return (job.options.curvature === undefined ? networkSize(job) : productSize(job)) + 2 * given;
  },
  run: (job) => {
    const product = job.options.curvature === undefined ? undefined : runProduct(job, true);
    const result = product
      ? { ...product, inputGradient: product.inputGradient as Float64Array }
      : runNetwork(job);
    const given: GivenGradients = {
      loss: job.options.givenLoss as number | undefined,
      layers: jobLayers(job).map((_, l) => ({
        weightGradient: job.tensors[`gradients.layers.${l}.weightGradient`]?.data,
        biasGradient: job.tensors[`gradients.layers.${l}.biasGradient`]?.data,
        weightProduct: job.tensors[`gradients.layers.${l}.weightProduct`]?.data,
        biasProduct: job.tensors[`gradients.layers.${l}.biasProduct`]?.data,
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

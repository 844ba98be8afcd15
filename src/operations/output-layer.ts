/** The output-layer operation: z = x W + b, a = g(z), a loss against targets, and every gradient. */
import { activationNames, findActivation } from '../core/activations/index.js';
import { type Loss, losses, type Reduction, reductions } from '../core/losses.js';
import { outputLayer } from '../core/output-layer.js';
import { invalidField } from '../errors.js';
import { mismatch, oneOf, paramsFor, perSample, requireTensor, samples, shapeText } from './support.js';
import type { Job, Operation, TensorValue } from './types.js';

function sizes(job: Job) {
  const { x, weights } = job.tensors;
  const [M, K] = weights.shape;
  return { N: samples(x), M, K };
}

export const outputLayerOperation: Operation<'output-layer'> = {
  name: 'output-layer',
  scope: 'none',
  describe: () =>
    'One dense output layer: z = x weights + bias, a = g(z), the loss E against targets, delta = dE/dz and the ' +
    'gradients dE/dweights, dE/dbias, dE/dx. x is [M] or [N, M], weights [M, K] (weights[j][k] from input j to ' +
    'output k), bias [K] (optional, zeros), targets [K] or [N, K]',
  // Shapes of one sample (x [M], targets [K]); a batch [N, M] / [N, K] is taken too.
  inputs: () => [
    { name: 'x', shape: [-1] },
    { name: 'weights', shape: [-1, -1] },
    { name: 'bias', shape: [-1], optional: true },
    { name: 'targets', shape: [-1] },
  ],
  outputs: [
    { name: 'loss', shape: [1] },
    { name: 'z', shape: [-1] },
    { name: 'a', shape: [-1] },
    { name: 'delta', shape: [-1] },
    { name: 'weightGradient', shape: [-1, -1] },
    { name: 'biasGradient', shape: [-1] },
    { name: 'inputGradient', shape: [-1] },
  ],
  options: ['activation', 'loss', 'reduction'],
  parameterText: () =>
    `request parameters: activation (required: an activation name), loss (${losses.join(' | ')}; default ` +
    `squared_error), reduction (${reductions.join(' | ')}; default sum), and the activation's own parameters`,
  prepare: (request) => {
    const at = request.pointers.options;
    const name = request.options.activation;
    if (typeof name !== 'string') throw invalidField(`${at}/activation`, 'is required: an activation name');
    const entry = findActivation(name);
    if (!entry) throw invalidField(`${at}/activation`, `must be one of: ${activationNames.join(', ')}`);
    const loss = oneOf<Loss>(request, 'loss', losses, 'squared_error');
    const reduction = oneOf<Reduction>(request, 'reduction', reductions, 'sum');

    const x = requireTensor(request.tensors, 'x');
    const weights = requireTensor(request.tensors, 'weights');
    const targets = requireTensor(request.tensors, 'targets');
    const bias = request.tensors.get('bias');
    if (weights.shape.length !== 2)
      throw mismatch(
        '/weights',
        `weights must be a matrix [M][K] (weights[j][k] from input j to output k), has shape ${shapeText(weights.shape)}`,
      );
    for (const [field, t] of [
      ['x', x],
      ['targets', targets],
    ] as const)
      if (t.shape.length > 2)
        throw mismatch(
          `/${field}`,
          `${field} must be [${field === 'x' ? 'M' : 'K'}] or a batch, has shape ${shapeText(t.shape)}`,
        );
    const [M, K] = weights.shape;
    if (perSample(x) !== M)
      throw mismatch(
        '/x',
        `x has ${perSample(x)} inputs per sample (M) but weights has ${M} rows (M): weights is M x K, weights[j][k] from input j to output k`,
      );
    if (x.shape.length !== targets.shape.length)
      throw mismatch(
        '/targets',
        `x has shape ${shapeText(x.shape)} but targets has shape ${shapeText(targets.shape)}: give both as one sample ([M] and [K]) or both as a batch ([N][M] and [N][K])`,
      );
    if (samples(targets) !== samples(x))
      throw mismatch('/targets', `x has ${samples(x)} samples (N) but targets has ${samples(targets)} (N)`);
    if (perSample(targets) !== K)
      throw mismatch(
        '/targets',
        `targets has ${perSample(targets)} outputs per sample (K) but weights has ${K} columns (K)`,
      );
    if (bias && (bias.shape.length !== 1 || bias.shape[0] !== K))
      throw mismatch('/bias', `bias has ${bias.data.length} entries (K) but weights has ${K} columns (K)`);
    return {
      operation: 'output-layer',
      activation: entry.name,
      params: paramsFor(entry, request),
      options: { loss, reduction },
      tensors: bias
        ? { x, weights, bias, targets }
        : ({ x, weights, targets } as Record<string, TensorValue>),
    };
  },
  results: (job) => {
    const { M, K } = sizes(job);
    const t = job.tensors.targets.shape;
    return [
      { name: 'z', dims: t },
      { name: 'a', dims: t },
      { name: 'delta', dims: t },
      { name: 'weightGradient', dims: [M, K] },
      { name: 'biasGradient', dims: [K] },
      { name: 'inputGradient', dims: job.tensors.x.shape },
    ];
  },
  // z = x W is N*M*K multiply-adds, the gradients twice that: count the work, not only the arrays.
  size: (job) => {
    const { N, M, K } = sizes(job);
    return 3 * N * M * K + 2 * job.tensors.x.data.length + job.tensors.weights.data.length;
  },
  run: (job) => {
    const { N, M, K } = sizes(job);
    const { x, weights, targets } = job.tensors;
    const bias: TensorValue | undefined = job.tensors.bias;
    const activation = findActivation(job.activation ?? '');
    if (!activation) throw new RangeError(`job: unknown activation ${job.activation}`);
    // outputLayer checks every quantity finite as it computes it (NonFiniteResultError naming it).
    const result = outputLayer({
      x: x.data,
      N,
      M,
      weights: weights.data,
      K,
      bias: bias?.data,
      targets: targets.data,
      activation,
      params: job.params,
      loss: job.options.loss as Loss,
      reduction: job.options.reduction as Reduction,
    });
    return [
      { name: 'loss', value: result.loss },
      { name: 'z', data: result.z, dims: targets.shape },
      { name: 'a', data: result.a, dims: targets.shape },
      { name: 'delta', data: result.delta, dims: targets.shape },
      { name: 'weightGradient', data: result.weightGradient, dims: [M, K] },
      { name: 'biasGradient', data: result.biasGradient, dims: [K] },
      { name: 'inputGradient', data: result.inputGradient, dims: x.shape },
    ];
  },
};

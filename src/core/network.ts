/**
 * Backpropagation through a feed-forward network of dense layers, batched over N samples (row-major):
 *
 *   h_0 = x;  z_l = h_(l-1) W_l + b_l;  a_l = h_l = g_l(z_l)
 *   delta_L = dE/dz_L (the loss table, last layer);  delta_l = (delta_(l+1) W_(l+1)^T) * g_l'(z_l)
 *   weightGradient_l = h_(l-1)^T delta_l;  biasGradient_l = column sums of delta_l;  inputGradient = delta_1 W_1^T
 *
 * g_l' comes from z_l through the activation table's derivative (the kernels of the elementwise routes), never
 * from the rounded a_l: a saturated unit keeps its small, nonzero slope (sigmoid'(40) = 4.2e-18 where
 * a(1 - a) with a = 1 gives 0). A vector activation (softmax, log_softmax) applies J_l^T per row through its
 * backwardRows, without building J. The output layer is this network with one layer.
 */
import { forwardTensor } from './activations/index.js';
import type { Activation, Params } from './activations/types.js';
import { assertFinite } from './errors.js';
import { type Loss, lossAndDelta, type Reduction, reduce } from './losses.js';
import { affine, columnSums, timesTranspose, transposeTimes } from './numeric/matrix-products.js';

export interface DenseLayer {
  /** M x K, weights[j][k] from input j to output k. */
  readonly weights: Float64Array;
  /** Inputs per sample (rows of weights): the previous layer's K, or the columns of x. */
  readonly M: number;
  /** Outputs (columns of weights). */
  readonly K: number;
  /** Length K; zeros when absent. */
  readonly bias?: Float64Array;
  readonly activation: Activation;
  /** Resolved params of the activation (resolveParams). */
  readonly params: Params;
}

export interface NetworkInput {
  /** N x M_1. */
  readonly x: Float64Array;
  /** Number of samples (rows of x and of targets). */
  readonly N: number;
  /** First to last; at least one. */
  readonly layers: readonly DenseLayer[];
  /** N x K_L. */
  readonly targets: Float64Array;
  readonly loss: Loss;
  readonly reduction: Reduction;
  /**
   * The name a NonFiniteResultError gives a layer's quantity ('z', 'a', 'delta', 'weightGradient',
   * 'biasGradient'); default `layers.<l>.<quantity>`, the layer counted from 0 as in the request.
   */
  readonly quantityName?: (layer: number, quantity: LayerQuantity) => string;
}

export const layerQuantities = ['z', 'a', 'delta', 'weightGradient', 'biasGradient'] as const;
export type LayerQuantity = (typeof layerQuantities)[number];

export type LayerResult = Readonly<Record<LayerQuantity, Float64Array>>;

export interface NetworkResult {
  readonly loss: number;
  /** First to last, as the request's layers. */
  readonly layers: readonly LayerResult[];
  /** N x M_1, dE/dx. */
  readonly inputGradient: Float64Array;
}

const defaultName = (layer: number, quantity: LayerQuantity) => `layers.${layer}.${quantity}`;

/**
 * Forward and backward pass. Throws NonFiniteResultError naming the quantity (and layer) when a result is not
 * finite (overflow, or a log of a <= 0 under a non-zero target weight), and RangeError when the sizes
 * disagree (routes check shapes first and name the layer; this is the last guard).
 */
export function network(input: NetworkInput): NetworkResult {
  checkSizes(input);
  const { x, N, layers, targets } = input;
  const name = input.quantityName ?? defaultName;

  // Forward: z and a of every layer; h_(l-1) is the previous a (x for the first layer).
  const z: Float64Array[] = [];
  const a: Float64Array[] = [];
  let h = x;
  for (const [l, layer] of layers.entries()) {
    z[l] = affine(h, layer.weights, layer.bias, N, layer.M, layer.K);
    assertFinite(name(l, 'z'), z[l]);
    a[l] = forwardTensor(layer.activation, z[l], layer.K, layer.params);
    assertFinite(name(l, 'a'), a[l]);
    h = a[l];
  }

  // The last layer: E and delta_L from the loss table.
  const last = layers.length - 1;
  const output = layers[last];
  const { loss, delta: deltaL } = reduce(
    lossAndDelta(input.loss, output.activation, output.params, z[last], a[last], targets, output.K),
    input.reduction,
    N,
  );
  assertFinite('loss', loss);
  assertFinite(name(last, 'delta'), deltaL);

  // Backward: each layer's gradients from its delta, then the delta of the layer below.
  const results: LayerResult[] = [];
  let delta = deltaL;
  for (let l = last; ; l--) {
    const layer = layers[l];
    const below = l > 0 ? a[l - 1] : x;
    const weightGradient = transposeTimes(below, delta, N, layer.M, layer.K);
    assertFinite(name(l, 'weightGradient'), weightGradient);
    const biasGradient = columnSums(delta, N, layer.K);
    assertFinite(name(l, 'biasGradient'), biasGradient);
    results[l] = { z: z[l], a: a[l], delta, weightGradient, biasGradient };
    // dE/dh_(l-1) = delta_l W_l^T: the input gradient below the first layer, dE/da of the layer below otherwise.
    const dEdh = timesTranspose(delta, layer.weights, N, layer.K, layer.M);
    if (l === 0) {
      assertFinite('inputGradient', dEdh);
      return { loss, layers: results, inputGradient: dEdh };
    }
    delta = backThroughActivation(layers[l - 1], z[l - 1], a[l - 1], dEdh);
    assertFinite(name(l - 1, 'delta'), delta);
  }
}

/** delta = dE/dz from dE/da: g'(z) elementwise (from z, never from a), or J^T per row for a vector g. */
function backThroughActivation(layer: DenseLayer, z: Float64Array, a: Float64Array, dEda: Float64Array) {
  const delta = new Float64Array(z.length);
  const { activation, params } = layer;
  if (activation.kind === 'vector') {
    activation.backwardRows(z, a, dEda, layer.K, delta);
    return delta;
  }
  const slope = activation.derivative;
  for (let i = 0; i < z.length; i++) delta[i] = dEda[i] * slope(z[i], params);
  return delta;
}

function checkSizes({ x, N, layers, targets }: NetworkInput): void {
  const positive = (what: string, n: number) => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`network: ${what} must be a positive integer`);
  };
  const expect = (what: string, length: number, wanted: number, shape: string) => {
    if (length !== wanted)
      throw new RangeError(`network: ${what} has ${length} entries, expected ${shape} = ${wanted}`);
  };
  positive('N', N);
  if (layers.length === 0) throw new RangeError('network: at least one layer');
  expect('x', x.length, N * layers[0].M, `N x M = ${N} x ${layers[0].M}`);
  for (const [l, { weights, M, K, bias }] of layers.entries()) {
    positive(`layers[${l}].M`, M);
    positive(`layers[${l}].K`, K);
    if (l > 0 && M !== layers[l - 1].K)
      throw new RangeError(
        `network: layer ${l} has ${M} inputs but layer ${l - 1} has ${layers[l - 1].K} outputs`,
      );
    expect(`layers[${l}].weights`, weights.length, M * K, `M x K = ${M} x ${K}`);
    if (bias) expect(`layers[${l}].bias`, bias.length, K, 'K');
  }
  const K = layers[layers.length - 1].K;
  expect('targets', targets.length, N * K, `N x K = ${N} x ${K}`);
}

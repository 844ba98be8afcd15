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
import { forwardTensor, mapElements } from './activations/index.js';
import type { Activation, Params } from './activations/types.js';
import { assertFinite } from './errors.js';
import { type Curvature, deltaDirection, type Loss, lossAndDelta, type Reduction, reduce } from './losses.js';
import { CompensatedSum } from './numeric/compensated-sum.js';
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
  const { loss, layers, inputGradient } = backpropagate(input, true);
  return { loss, layers, inputGradient: inputGradient as Float64Array };
}

/**
 * network() and, per layer below the last, dE/da_l (delta_(l+1) W_(l+1)^T, which the curvature product's
 * backward pass needs); the input gradient only when asked for.
 */
function backpropagate(input: NetworkInput, withInputGradient: boolean) {
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
  const dEda: Float64Array[] = [];
  let delta = deltaL;
  for (let l = last; ; l--) {
    const layer = layers[l];
    const below = l > 0 ? a[l - 1] : x;
    const weightGradient = transposeTimes(below, delta, N, layer.M, layer.K);
    assertFinite(name(l, 'weightGradient'), weightGradient);
    const biasGradient = columnSums(delta, N, layer.K);
    assertFinite(name(l, 'biasGradient'), biasGradient);
    results[l] = { z: z[l], a: a[l], delta, weightGradient, biasGradient };
    if (l === 0 && !withInputGradient) return { loss, layers: results, dEda };
    // dE/dh_(l-1) = delta_l W_l^T: the input gradient below the first layer, dE/da of the layer below otherwise.
    const dEdh = timesTranspose(delta, layer.weights, N, layer.K, layer.M);
    if (l === 0) {
      assertFinite('inputGradient', dEdh);
      return { loss, layers: results, dEda, inputGradient: dEdh };
    }
    dEda[l - 1] = dEdh;
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

/** A direction in parameter space for one layer: the shape of its weights (M x K) and bias (K; absent: 0). */
export interface LayerDirection {
  readonly weights: Float64Array;
  readonly bias?: Float64Array;
}

export interface CurvatureInput extends NetworkInput {
  /** The direction v, one entry per layer. */
  readonly vector: readonly LayerDirection[];
  readonly curvature: Curvature;
  /** Also dE/dx (the check compares it); default false, which saves the first layer's delta W^T. */
  readonly withInputGradient?: boolean;
}

export const productQuantities = ['weightGradient', 'biasGradient', 'weightProduct', 'biasProduct'] as const;
export type ProductQuantity = (typeof productQuantities)[number];

export type ProductLayerResult = Readonly<Record<ProductQuantity, Float64Array>>;

export interface ProductResult {
  readonly loss: number;
  /** sum over every weight and bias of dE/dtheta v_theta. */
  readonly directionalDerivative: number;
  /** First to last: the gradients (as network() gives them) and (C v) for W_l and b_l. */
  readonly layers: readonly ProductLayerResult[];
  /** dE/dx, with withInputGradient. */
  readonly inputGradient?: Float64Array;
}

/**
 * C v, the Hessian (or Gauss-Newton matrix) of E in the parameters times a direction v, by Pearlmutter's
 * R-operator (1994): R{f} = d/de f(theta + e v) at e = 0, carried through the network's own equations. One
 * forward pass of R{z_l} = R{h_(l-1)} W_l + h_(l-1) V_l + Vb_l and R{a_l} = g'(z_l) R{z_l} (J_l R{z_l} for a
 * vector g), R{delta_L} from the loss table, and one backward pass of
 *
 *   R{dE/dh_(l-1)} = R{delta_l} W_l^T + delta_l V_l^T
 *   R{delta_(l-1)} = R{dE/dh_(l-1)} g'(z) + dE/dh_(l-1) g''(z) R{z}   (vector g: J^T R{dE/dh} + its directional term)
 *   (C v)_W_l = R{h_(l-1)}^T delta_l + h_(l-1)^T R{delta_l},   (C v)_b_l = column sums of R{delta_l}
 *
 * Gauss-Newton keeps only J^T H_out J v: every term with delta, dE/dh or g'' beside an R{.} goes. No finite
 * difference and no matrix: about three passes' work over the gradient's. g'' comes from z, as g' does.
 */
export function curvatureProduct(input: CurvatureInput): ProductResult {
  checkDirection(input);
  const { x, N, layers, targets, vector } = input;
  const hessian = input.curvature === 'hessian';
  const {
    loss,
    layers: gradients,
    dEda,
    inputGradient,
  } = backpropagate(input, input.withInputGradient ?? false);
  const z = gradients.map((g) => g.z);
  const a = gradients.map((g) => g.a);
  const delta = gradients.map((g) => g.delta);

  // Forward: R{z_l} and R{a_l}; R{h_0} = R{x} = 0.
  const Rz: Float64Array[] = [];
  const Ra: Float64Array[] = [];
  const slopes: (Float64Array | undefined)[] = [];
  for (const [l, layer] of layers.entries()) {
    const h = l > 0 ? a[l - 1] : x;
    const rz = affine(h, vector[l].weights, vector[l].bias, N, layer.M, layer.K);
    if (l > 0) {
      const carried = affine(Ra[l - 1], layer.weights, undefined, N, layer.M, layer.K);
      for (let i = 0; i < rz.length; i++) rz[i] += carried[i];
    }
    assertFinite(`layers.${l}.Rz`, rz);
    Rz[l] = rz;
    const { activation, params } = layer;
    const ra = new Float64Array(rz.length);
    if (activation.kind === 'vector') activation.forwardDirectionalRows(z[l], a[l], rz, layer.K, ra);
    else {
      const slope = mapElements(activation.derivative, z[l], params);
      for (let i = 0; i < ra.length; i++) ra[i] = slope[i] * rz[i];
      slopes[l] = slope;
    }
    assertFinite(`layers.${l}.Ra`, ra);
    Ra[l] = ra;
  }

  // The last layer: R{delta_L}, reduced as delta_L is.
  const last = layers.length - 1;
  const output = layers[last];
  let Rdelta = deltaDirection(
    input.loss,
    output.activation,
    output.params,
    z[last],
    a[last],
    targets,
    output.K,
    Rz[last],
    Ra[last],
    input.curvature,
  );
  if (input.reduction === 'mean') for (let i = 0; i < Rdelta.length; i++) Rdelta[i] /= N;
  assertFinite(`layers.${last}.Rdelta`, Rdelta);

  const results: ProductLayerResult[] = [];
  const direction = new CompensatedSum();
  for (let l = last; l >= 0; l--) {
    const layer = layers[l];
    const { M, K } = layer;
    const below = l > 0 ? a[l - 1] : x;
    const weightProduct = transposeTimes(below, Rdelta, N, M, K);
    if (hessian && l > 0) {
      const carried = transposeTimes(Ra[l - 1], delta[l], N, M, K);
      for (let i = 0; i < weightProduct.length; i++) weightProduct[i] += carried[i];
    }
    assertFinite(`layers.${l}.weightProduct`, weightProduct);
    const biasProduct = columnSums(Rdelta, N, K);
    assertFinite(`layers.${l}.biasProduct`, biasProduct);
    const { weightGradient, biasGradient } = gradients[l];
    results[l] = { weightGradient, biasGradient, weightProduct, biasProduct };
    addProducts(direction, weightGradient, vector[l].weights);
    const biasDirection = vector[l].bias;
    if (biasDirection) addProducts(direction, biasGradient, biasDirection);
    if (l === 0) break;

    // R{dE/da_(l-1)}, then R{delta_(l-1)} through the layer below's activation.
    const RdEda = timesTranspose(Rdelta, layer.weights, N, K, M);
    if (hessian) {
      const carried = timesTranspose(delta[l], vector[l].weights, N, K, M);
      for (let i = 0; i < RdEda.length; i++) RdEda[i] += carried[i];
    }
    const { activation, params } = layers[l - 1];
    const next = new Float64Array(RdEda.length);
    if (activation.kind === 'vector') {
      activation.backwardRows(z[l - 1], a[l - 1], RdEda, M, next);
      if (hessian) {
        const term = new Float64Array(next.length);
        activation.backwardDirectionalRows(z[l - 1], a[l - 1], dEda[l - 1], Rz[l - 1], M, term);
        for (let i = 0; i < next.length; i++) next[i] += term[i];
      }
    } else {
      const slope = slopes[l - 1] as Float64Array;
      const upstream = dEda[l - 1];
      const rz = Rz[l - 1];
      const zBelow = z[l - 1];
      if (hessian) {
        const second = mapElements(activation.secondDerivative, zBelow, params);
        for (let i = 0; i < next.length; i++) next[i] = RdEda[i] * slope[i] + upstream[i] * second[i] * rz[i];
      } else for (let i = 0; i < next.length; i++) next[i] = RdEda[i] * slope[i];
    }
    assertFinite(`layers.${l - 1}.Rdelta`, next);
    Rdelta = next;
  }
  const directionalDerivative = direction.value;
  assertFinite('directionalDerivative', directionalDerivative);
  return { loss, directionalDerivative, layers: results, inputGradient };
}

function addProducts(total: CompensatedSum, u: Float64Array, v: Float64Array): void {
  for (let i = 0; i < u.length; i++) total.add(u[i] * v[i]);
}

/** The direction has one entry per layer, each the shape of that layer's parameters (routes name the path first). */
function checkDirection({ layers, vector }: CurvatureInput): void {
  if (vector.length !== layers.length)
    throw new RangeError(`curvature product: ${vector.length} directions for ${layers.length} layers`);
  for (const [l, { M, K }] of layers.entries()) {
    if (vector[l].weights.length !== M * K)
      throw new RangeError(
        `curvature product: vector.layers[${l}].weights has ${vector[l].weights.length} entries, expected ${M * K}`,
      );
    const bias = vector[l].bias;
    if (bias && bias.length !== K)
      throw new RangeError(
        `curvature product: vector.layers[${l}].bias has ${bias.length} entries, expected ${K}`,
      );
  }
}

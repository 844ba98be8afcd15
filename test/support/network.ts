/** The golden network cases (network.json) and their requests as core inputs, for tests and the accuracy report. */
import { findActivation, resolveParams } from '../../src/core/activations/index.js';
import type { Curvature, Loss, Reduction } from '../../src/core/losses.js';
import {
  curvatureProduct,
  type DenseLayer,
  type LayerQuantity,
  type NetworkResult,
  network,
  type ProductResult,
} from '../../src/core/network.js';
import { fromJson, type JsonTensor } from '../../src/core/tensor.js';
import { flat } from './compare.js';
import { loadGolden } from './golden.js';

export interface LayerRequest {
  weights: number[][];
  bias?: number[];
  activation: string;
  params?: Record<string, number>;
}

export interface NetworkRequest {
  x: JsonTensor;
  layers: LayerRequest[];
  targets: JsonTensor;
  loss?: Loss;
  reduction?: Reduction;
}

export interface NetworkFields {
  loss: number;
  layers: Record<LayerQuantity, JsonTensor>[];
  inputGradient: JsonTensor;
}

export interface NetworkCase {
  name: string;
  tags: string[];
  widths: number[];
  N: number;
  request: NetworkRequest;
  /** PyTorch float64 autograd. */
  expected: NetworkFields;
  /** mpmath, exact from the same float64 inputs, rounded. */
  mpmath: NetworkFields;
  torch_vs_mpmath_normwise_rel_dev: Record<string, number>;
}

export const goldenNetworks = (): NetworkCase[] => loadGolden<{ cases: NetworkCase[] }>('network.json').cases;

export function denseLayer(layer: LayerRequest): DenseLayer {
  const weights = fromJson(layer.weights);
  const activation = findActivation(layer.activation);
  if (!activation) throw new Error(`unknown activation ${layer.activation}`);
  const resolved = resolveParams(activation, layer.params);
  if ('errors' in resolved) throw new Error(JSON.stringify(resolved.errors));
  return {
    weights: weights.data,
    M: weights.rows,
    K: weights.cols,
    bias: layer.bias ? Float64Array.from(layer.bias) : undefined,
    activation,
    params: resolved.params,
  };
}

/** What a request body becomes on its way to core. */
export function runNetwork(request: NetworkRequest): NetworkResult {
  const x = fromJson(request.x);
  return network({
    x: x.data,
    N: x.rows,
    layers: request.layers.map(denseLayer),
    targets: fromJson(request.targets).data,
    loss: request.loss ?? 'squared_error',
    reduction: request.reduction ?? 'sum',
  });
}

const layerQuantityNames: readonly LayerQuantity[] = ['z', 'a', 'delta', 'weightGradient', 'biasGradient'];

/** Every quantity of a result (ours or a reference) by path, flattened: /loss, /layers/<l>/<q>, /inputGradient. */
export function quantities(result: NetworkResult | NetworkFields): Map<string, ArrayLike<number>> {
  const out = new Map<string, ArrayLike<number>>([['/loss', [result.loss]]]);
  result.layers.forEach((layer, l) => {
    for (const q of layerQuantityNames) {
      const value = layer[q];
      out.set(`/layers/${l}/${q}`, value instanceof Float64Array ? value : flat(value));
    }
  });
  const input = result.inputGradient;
  out.set('/inputGradient', input instanceof Float64Array ? input : flat(input));
  return out;
}

/** A direction in parameter space as a request's `vector` carries it. */
export interface VectorRequest {
  layers: { weights: number[][]; bias?: number[] }[];
}

/** A hessian-vector body on its way to core. */
export function runCurvature(
  request: NetworkRequest & { vector: VectorRequest },
  curvature: Curvature = 'hessian',
): ProductResult {
  const x = fromJson(request.x);
  return curvatureProduct({
    x: x.data,
    N: x.rows,
    layers: request.layers.map(denseLayer),
    targets: fromJson(request.targets).data,
    loss: request.loss ?? 'squared_error',
    reduction: request.reduction ?? 'sum',
    vector: request.vector.layers.map((v) => ({
      weights: fromJson(v.weights).data,
      bias: v.bias ? Float64Array.from(v.bias) : undefined,
    })),
    curvature,
  });
}

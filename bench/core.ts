/**
 * Core microbenchmarks (tinybench): the service's float64 kernels against @tensorflow/tfjs-backend-cpu and
 * @tensorflow/tfjs-backend-wasm (float32, SIMD; its .wasm files are loaded from node_modules, never
 * downloaded) on the same inputs. Also the reply writer against JSON.stringify(Array.from(...)).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { Bench } from 'tinybench';
import { findActivation, forwardTensor, mapElements } from '../src/core/activations/index.js';
import type { ElementwiseActivation } from '../src/core/activations/types.js';
import { transposeTimes } from '../src/core/numeric/matrix-products.js';
import { outputLayer } from '../src/core/output-layer.js';
import { tensorJson } from '../src/serialize/json-writer.js';
import { uniform } from './bodies.js';
import { median } from './http.js';

export interface CoreRow {
  readonly op: string;
  readonly elements: number;
  /** Millions of elements per second (or GFLOP/s for the products: see unit). */
  readonly ours: number;
  readonly tfjsCpu?: number;
  readonly tfjsWasm?: number;
  readonly unit: 'Melem/s' | 'GFLOP/s' | 'MB/s';
}

const require = createRequire(import.meta.url);

async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (name === 'wasm') {
    const wasm = require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
    setWasmPaths(path.dirname(wasm) + path.sep);
  }
  if (!(await tf.setBackend(name))) throw new Error(`tfjs backend ${name} did not start`);
  await tf.ready();
}

/** Median time in ms of fn under tinybench. */
async function timeOf(fn: () => unknown, time: number): Promise<number> {
  const bench = new Bench({ time, warmupTime: Math.min(100, time / 2) });
  bench.add('task', fn);
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state === 'errored') throw result.error;
  if (!('latency' in result)) throw new Error(`tinybench: task ${result.state}`);
  return result.latency.p50 ?? result.latency.mean;
}

interface TfOp {
  readonly op: string;
  /** Our kernel on a Float64Array. */
  readonly ours: (z: Float64Array) => unknown;
  /** The tfjs op on a tensor of the same values. */
  readonly tfjs: (z: tf.Tensor) => tf.Tensor;
  /** Rows of this length (softmax), else one vector. */
  readonly K?: number;
}

const elementwise = (name: string) => {
  const entry = findActivation(name) as ElementwiseActivation;
  const params = Object.fromEntries(entry.params.map((p) => [p.name, p.default]));
  return { entry, params };
};

function ops(): TfOp[] {
  const forward = (name: string, tfjs: (z: tf.Tensor) => tf.Tensor): TfOp => {
    const { entry, params } = elementwise(name);
    return { op: `${name} forward`, ours: (z) => mapElements(entry.forward, z, params), tfjs };
  };
  // tfjs's own gradient kernels are these compositions (dy * y * (1 - y), dy * (1 - y^2), dy * step(z)), run here
  // without the tape, which this build does not register for Node ESM.
  const derivative = (name: string, g: (z: tf.Tensor) => tf.Tensor): TfOp => {
    const { entry, params } = elementwise(name);
    return {
      op: `${name} derivative`,
      ours: (z) => mapElements(entry.derivative, z, params),
      tfjs: (z) => tf.tidy(() => g(z)),
    };
  };
  const rows = (name: string, tfjs: (z: tf.Tensor) => tf.Tensor): TfOp => {
    const entry = findActivation(name);
    if (!entry) throw new Error(name);
    return {
      op: `${name} forward (rows of 100)`,
      ours: (z) => forwardTensor(entry, z, 100, {}),
      tfjs,
      K: 100,
    };
  };
  return [
    forward('sigmoid', tf.sigmoid),
    forward('tanh', tf.tanh),
    forward('relu', tf.relu),
    forward('leaky_relu', (z) => tf.leakyRelu(z, 0.01)),
    forward('elu', tf.elu),
    forward('selu', tf.selu),
    forward('softplus', tf.softplus),
    forward('relu6', tf.relu6),
    forward('logsigmoid', tf.logSigmoid),
    derivative('sigmoid', (z) => {
      const y = tf.sigmoid(z);
      return tf.mul(y, tf.sub(1, y));
    }),
    derivative('tanh', (z) => {
      const y = tf.tanh(z);
      return tf.sub(1, tf.square(y));
    }),
    derivative('relu', (z) => tf.step(z)),
    rows('softmax', (z) => tf.softmax(z)),
    rows('log_softmax', (z) => tf.logSoftmax(z)),
  ];
}

export async function coreBenchmarks(options: { quick: boolean }): Promise<CoreRow[]> {
  const n = options.quick ? 10_000 : 100_000;
  const time = options.quick ? 15 : 400;
  const z = uniform(n, 7);
  const rows: CoreRow[] = [];
  const list = ops();
  // Ours and tfjs-backend-cpu alternate (A B A B A B, medians), so that a busy machine's drift hits both alike;
  // the wasm backend runs after, on its own.
  const rounds = 3;
  const mine: number[] = [];
  const theirs: Record<'cpu' | 'wasm', number[]> = { cpu: [], wasm: [] };
  for (const backend of ['cpu', 'wasm'] as const) {
    await useBackend(backend);
    for (const op of list) {
      const input = op.K
        ? tf.tensor2d(Float32Array.from(z), [n / op.K, op.K])
        : tf.tensor1d(Float32Array.from(z));
      // Include reading the result back, as our kernels hand back a usable array.
      const tfjsOp = () => {
        const out = op.tfjs(input);
        out.dataSync();
        out.dispose();
      };
      if (backend === 'cpu') {
        const ours: number[] = [];
        const cpu: number[] = [];
        for (let r = 0; r < rounds; r++) {
          ours.push(await timeOf(() => op.ours(z), time / rounds));
          cpu.push(await timeOf(tfjsOp, time / rounds));
        }
        mine.push(median(ours));
        theirs.cpu.push(median(cpu));
      } else theirs.wasm.push(await timeOf(tfjsOp, time));
      input.dispose();
    }
  }
  const rate = (ms: number) => n / ms / 1e3;
  for (const [i, op] of list.entries())
    rows.push({
      op: op.op,
      elements: n,
      ours: rate(mine[i]),
      tfjsCpu: rate(theirs.cpu[i]),
      tfjsWasm: rate(theirs.wasm[i]),
      unit: 'Melem/s',
    });

  // The weight gradient x^T delta and the whole output layer (3 products: 6 N M K flops), float64.
  const [N, M, K] = options.quick ? [64, 128, 64] : [256, 512, 256];
  const x = uniform(N * M, 8);
  const delta = uniform(N * K, 9);
  const weights = uniform(M * K, 10, 0.05);
  const targets = uniform(N * K, 11, 0.5);
  const flops = 2 * N * M * K;
  const product = await timeOf(() => transposeTimes(x, delta, N, M, K), time);
  const matmul: number[] = [];
  for (const backend of ['cpu', 'wasm'] as const) {
    await useBackend(backend);
    const xt = tf.tensor2d(Float32Array.from(x), [N, M]);
    const dt = tf.tensor2d(Float32Array.from(delta), [N, K]);
    matmul.push(
      await timeOf(() => {
        const out = tf.matMul(xt, dt, true, false);
        out.dataSync();
        out.dispose();
      }, time),
    );
    xt.dispose();
    dt.dispose();
  }
  const gflops = (ms: number, f = flops) => f / ms / 1e6;
  rows.push({
    op: `x^T delta ${N}x${M}x${K}`,
    elements: M * K,
    ours: gflops(product),
    tfjsCpu: gflops(matmul[0]),
    tfjsWasm: gflops(matmul[1]),
    unit: 'GFLOP/s',
  });
  const identity = findActivation('identity');
  if (!identity) throw new Error('identity');
  const layer = await timeOf(
    () =>
      outputLayer({
        x,
        N,
        M,
        weights,
        K,
        targets,
        activation: identity,
        params: {},
        loss: 'squared_error',
        reduction: 'sum',
      }),
    time,
  );
  rows.push({
    op: `output layer ${N}x${M}x${K} (3 products)`,
    elements: N * K,
    ours: gflops(layer, 3 * flops),
    unit: 'GFLOP/s',
  });

  // The reply writer against what the routes did before.
  const a = uniform(n, 12).map((v) => 1 / (1 + Math.exp(-v)));
  const bytes = JSON.stringify(Array.from(a)).length;
  const writer = await timeOf(() => tensorJson(a, [n]), time);
  const stringify = await timeOf(() => JSON.stringify(Array.from(a)), time);
  rows.push({
    op: 'JSON reply writer (vs JSON.stringify(Array.from))',
    elements: n,
    ours: bytes / writer / 1e3,
    tfjsCpu: bytes / stringify / 1e3,
    unit: 'MB/s',
  });
  return rows;
}

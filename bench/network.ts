/**
 * The network row of the benchmark: POST /v1/gradients/network on an MNIST-sized MLP (784-256-128-10, relu,
 * relu, softmax with cross-entropy, mean over a batch of 64), the whole request as JSON and as binary tensors
 * (each weight matrix the named tensor layers.<l>.weights). Server throughput (autocannon, alternating rounds,
 * medians) and end to end as a client does it: build the body from Float64Arrays, send, read every gradient
 * back into Float64Arrays. The reply holds the gradients only (intermediates: false), as a trainer asks.
 * Where the FastAPI + PyTorch peer runs (bench/peer), its POST /v1/gradients/network (float64 autograd, the same
 * JSON body and reply form) joins the alternation.
 *
 * The same network's curvature product, POST /v1/gradients/network/hessian-vector (the body plus a direction
 * `vector`, curvature hessian), joins the same alternation, JSON and binary, and on the peer (its
 * torch.autograd.functional.hvp): the ratio to the gradient route's time is the R-operator's cost. Every load
 * reports the serving process's CPU time per request beside requests per second.
 */
import { request } from 'undici';
import { decodeReply, encodeRequest, type TensorInput, tensorMediaType } from './binary-client.js';
import { nested, uniform } from './bodies.js';
import { alternate, failuresCell, median, type Server, type Summary } from './http.js';

export interface NetworkRow {
  readonly case: string;
  /** Numbers in the request (x, targets, weights, biases) and in the reply (gradients). */
  readonly requestNumbers: number;
  readonly replyNumbers: number;
  readonly requestBytesJson: number;
  readonly requestBytesBinary: number;
  readonly json: Summary;
  readonly binary: Summary;
  /** Median ms per request, client encoding and decoding included. */
  readonly endToEndJsonMs: number;
  readonly endToEndBinaryMs: number;
  /** The FastAPI + PyTorch peer on the JSON body, where it ran. */
  readonly peer?: Summary;
  readonly endToEndPeerMs?: number;
  /** POST /v1/gradients/network/hessian-vector on the same network (H v, JSON and binary; the peer's hvp). */
  readonly hessianVector?: { readonly json: Summary; readonly binary: Summary; readonly peer?: Summary };
}

interface Network {
  readonly id: string;
  readonly N: number;
  readonly widths: readonly number[];
  readonly x: Float64Array;
  readonly targets: Float64Array;
  readonly weights: readonly Float64Array[];
  readonly biases: readonly Float64Array[];
  readonly activations: readonly string[];
  /** A direction in parameter space for the hessian-vector route: per layer, the shapes of W_l and b_l. */
  readonly vector: { readonly weights: Float64Array; readonly bias: Float64Array }[];
}

const fields = { loss: 'cross_entropy', reduction: 'mean', intermediates: false };

export function mlp(N: number, widths: readonly number[]): Network {
  const L = widths.length - 1;
  const K = widths[L];
  const targets = new Float64Array(N * K);
  for (let n = 0; n < N; n++) targets[n * K + (n % K)] = 1; // one-hot labels
  return {
    id: `network/${widths.join('-')} N=${N}`,
    N,
    widths,
    x: uniform(N * widths[0], 21, 1),
    targets,
    // He-style scale, so relu layers neither die nor blow up.
    weights: widths.slice(0, -1).map((M, l) => uniform(M * widths[l + 1], 22 + l, Math.sqrt(6 / M))),
    biases: widths.slice(1).map((k, l) => uniform(k, 40 + l, 0.1)),
    activations: widths.slice(1).map((_, l) => (l === L - 1 ? 'softmax' : 'relu')),
    vector: widths.slice(0, -1).map((M, l) => ({
      weights: uniform(M * widths[l + 1], 60 + l, 1),
      bias: uniform(widths[l + 1], 80 + l, 1),
    })),
  };
}

function jsonBody(net: Network, withVector = false): string {
  const { N, widths } = net;
  return JSON.stringify({
    x: nested(net.x, N, widths[0]),
    layers: net.weights.map((w, l) => ({
      weights: nested(w, widths[l], widths[l + 1]),
      bias: Array.from(net.biases[l]),
      activation: net.activations[l],
    })),
    targets: nested(net.targets, N, widths[widths.length - 1]),
    ...fields,
    ...(withVector
      ? {
          vector: {
            layers: net.vector.map((v, l) => ({
              weights: nested(v.weights, widths[l], widths[l + 1]),
              bias: Array.from(v.bias),
            })),
          },
        }
      : {}),
  });
}

function binaryBody(net: Network, withVector = false) {
  const { N, widths } = net;
  const tensors: TensorInput[] = [
    { name: 'x', data: net.x, shape: [N, widths[0]] },
    { name: 'targets', data: net.targets, shape: [N, widths[widths.length - 1]] },
  ];
  for (const [l, w] of net.weights.entries()) {
    tensors.push({ name: `layers.${l}.weights`, data: w, shape: [widths[l], widths[l + 1]] });
    tensors.push({ name: `layers.${l}.bias`, data: net.biases[l], shape: [widths[l + 1]] });
    if (withVector) {
      const v = net.vector[l];
      tensors.push({
        name: `vector.layers.${l}.weights`,
        data: v.weights,
        shape: [widths[l], widths[l + 1]],
      });
      tensors.push({ name: `vector.layers.${l}.bias`, data: v.bias, shape: [widths[l + 1]] });
    }
  }
  return encodeRequest({ layers: net.activations.map((activation) => ({ activation })), ...fields }, tensors);
}

const path = '/v1/gradients/network';
const hessianVectorPath = '/v1/gradients/network/hessian-vector';
const replyNumbers = (net: Network) =>
  net.weights.reduce((n, w, l) => n + w.length + net.biases[l].length, 0) + net.x.length;

/** One request as a client does it; returns ms, after checking every gradient came back. */
async function roundTrip(url: string, net: Network, binary: boolean): Promise<number> {
  const start = performance.now();
  let numbers = 0;
  if (binary) {
    const { body, headerLength } = binaryBody(net);
    const res = await request(`${url}${path}`, {
      method: 'POST',
      body,
      headers: {
        'content-type': tensorMediaType,
        accept: tensorMediaType,
        'inference-header-content-length': String(headerLength),
      },
    });
    const bytes = new Uint8Array(await res.body.arrayBuffer());
    if (res.statusCode !== 200) throw new Error(`network binary round trip: ${res.statusCode}`);
    for (const t of decodeReply(
      bytes,
      Number(res.headers['inference-header-content-length']),
    ).tensors.values())
      numbers += t.data.length;
  } else {
    const res = await request(`${url}${path}`, {
      method: 'POST',
      body: jsonBody(net),
      headers: { 'content-type': 'application/json' },
    });
    const text = await res.body.text();
    if (res.statusCode !== 200)
      throw new Error(`network JSON round trip: ${res.statusCode} ${text.slice(0, 200)}`);
    const reply = JSON.parse(text) as {
      layers: { weightGradient: number[][]; biasGradient: number[] }[];
      inputGradient: number[][];
    };
    for (const layer of reply.layers) {
      numbers += Float64Array.from(layer.weightGradient.flat()).length;
      numbers += Float64Array.from(layer.biasGradient).length;
    }
    numbers += Float64Array.from(reply.inputGradient.flat()).length;
  }
  if (numbers !== replyNumbers(net)) throw new Error(`network round trip: ${numbers} numbers back`);
  return performance.now() - start;
}

export async function networkBench(
  service: Server,
  plan: { quick: boolean; rounds: number; warmup: number; seconds: number },
  peer?: Server,
): Promise<NetworkRow[]> {
  const net = plan.quick ? mlp(8, [16, 32, 32, 10]) : mlp(64, [784, 256, 128, 10]);
  const json = jsonBody(net);
  const binary = binaryBody(net);
  const jsonLoad = (server: Server, route: string, body: string) => ({
    url: `${server.url}${route}`,
    body,
    headers: { 'content-type': 'application/json' },
    connections: 2,
    seconds: plan.seconds,
    pid: server.pid,
  });
  const binaryLoad = (route: string, { body, headerLength }: ReturnType<typeof binaryBody>) => ({
    url: `${service.url}${route}`,
    body,
    headers: {
      'content-type': tensorMediaType,
      accept: tensorMediaType,
      'inference-header-content-length': String(headerLength),
    },
    connections: 2,
    seconds: plan.seconds,
    pid: service.pid,
  });
  const hvJson = jsonBody(net, true);
  const [jsonStats, binaryStats, hvJsonStats, hvBinaryStats, peerStats, hvPeerStats] = await alternate(
    [
      jsonLoad(service, path, json),
      binaryLoad(path, binary),
      jsonLoad(service, hessianVectorPath, hvJson),
      binaryLoad(hessianVectorPath, binaryBody(net, true)),
      ...(peer ? [jsonLoad(peer, path, json), jsonLoad(peer, hessianVectorPath, hvJson)] : []),
    ],
    plan.rounds,
    plan.warmup,
  );
  const jsonMs: number[] = [];
  const binaryMs: number[] = [];
  const peerMs: number[] = [];
  for (let r = 0; r < (plan.quick ? 2 : 7); r++) {
    jsonMs.push(await roundTrip(service.url, net, false));
    binaryMs.push(await roundTrip(service.url, net, true));
    // The JSON round trip is the same for the peer: it replies { loss, layers, inputGradient } too.
    if (peer) peerMs.push(await roundTrip(peer.url, net, false));
  }
  return [
    {
      case: net.id,
      requestNumbers: net.x.length + net.targets.length + replyNumbers(net) - net.x.length,
      replyNumbers: replyNumbers(net),
      requestBytesJson: Buffer.byteLength(json),
      requestBytesBinary: binary.body.length,
      json: jsonStats,
      binary: binaryStats,
      endToEndJsonMs: median(jsonMs),
      endToEndBinaryMs: median(binaryMs),
      ...(peerStats ? { peer: peerStats, endToEndPeerMs: median(peerMs) } : {}),
      hessianVector: {
        json: hvJsonStats,
        binary: hvBinaryStats,
        ...(hvPeerStats ? { peer: hvPeerStats } : {}),
      },
    },
  ];
}

const f = (x: number, digits = 1) => x.toFixed(digits);

export function networkMarkdown(rows: readonly NetworkRow[]): string[] {
  const out = [
    '| case | request MB JSON / binary | JSON req/s | binary req/s | PyTorch peer req/s (JSON) | JSON p50 ms | binary p50 ms | end to end JSON / binary / peer ms | failed |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows)
    out.push(
      `| ${r.case} | ${f(r.requestBytesJson / 1e6, 2)} / ${f(r.requestBytesBinary / 1e6, 2)} | ${f(r.json.rps, 2)} | ` +
        `${f(r.binary.rps, 2)} | ${r.peer ? f(r.peer.rps, 2) : 'not run'} | ${f(r.json.p50)} | ${f(r.binary.p50)} | ` +
        `${f(r.endToEndJsonMs)} / ${f(r.endToEndBinaryMs)} / ${r.endToEndPeerMs === undefined ? '-' : f(r.endToEndPeerMs)} | ` +
        `${failuresCell(r.json, r.binary, ...(r.peer ? [r.peer] : []))} |`,
    );
  out.push('');
  const hv = rows.filter((r) => r.hessianVector);
  if (hv.length) {
    const cpu = (x: Summary | undefined) =>
      x?.cpuUsPerRequest === undefined ? '-' : f(x.cpuUsPerRequest / 1000, 2);
    const ratio = (a: Summary | undefined, b: Summary | undefined) =>
      a?.cpuUsPerRequest === undefined || b?.cpuUsPerRequest === undefined
        ? '-'
        : f(a.cpuUsPerRequest / b.cpuUsPerRequest, 2);
    out.push(
      '| case | route | JSON req/s | binary req/s | peer req/s (JSON) | server CPU ms/request JSON / binary / peer | hessian-vector / gradient by CPU: JSON / binary / peer |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const r of hv) {
      const h = r.hessianVector as NonNullable<NetworkRow['hessianVector']>;
      out.push(
        `| ${r.case} | gradient | ${f(r.json.rps, 2)} | ${f(r.binary.rps, 2)} | ${r.peer ? f(r.peer.rps, 2) : 'not run'} | ` +
          `${cpu(r.json)} / ${cpu(r.binary)} / ${cpu(r.peer)} | |`,
        `| ${r.case} | hessian-vector | ${f(h.json.rps, 2)} | ${f(h.binary.rps, 2)} | ${h.peer ? f(h.peer.rps, 2) : 'not run'} | ` +
          `${cpu(h.json)} / ${cpu(h.binary)} / ${cpu(h.peer)} | ${ratio(h.json, r.json)} / ${ratio(h.binary, r.binary)} / ${ratio(h.peer, r.peer)} |`,
      );
    }
    out.push('');
  }
  return out;
}

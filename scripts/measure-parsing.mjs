#!/usr/bin/env node
/**
 * Hostile-parsing measurements for issue 8 (not a test: figures for the closing note's before/after table).
 * Starts a fresh server from the checkout given (default: this one) for each case, sends one hostile request
 * while probing GET /healthz, and prints per case: status, response bytes, time to the answer, the slowest
 * /healthz seen meanwhile, the server's RSS before and its peak (VmHWM) after, and the start of the answer.
 *
 *   node scripts/measure-parsing.mjs [checkout] [case ...]
 *
 * Linux only (reads /proc/<pid>/status). Uses port 18000 + case index.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const checkout = process.argv[2] ?? process.cwd();
const only = process.argv.slice(3);

const json = { 'content-type': 'application/json' };
const tensorType = 'application/vnd.gradient-service.tensor+octet-stream';

function nested(depth, inner = '0') {
  const body = Buffer.alloc(2 * depth + inner.length);
  body.fill('[', 0, depth);
  body.write(inner, depth);
  body.fill(']', depth + inner.length);
  return body;
}
const v2Body = (input, extra = '') =>
  Buffer.concat([
    Buffer.from(`{${extra}"inputs":[{"name":"z","datatype":"FP64",`),
    input,
    Buffer.from('}]}'),
  ]);

const cases = {
  'depth-4e6': () => ({
    url: '/v1/activations/sigmoid/forward',
    headers: json,
    body: Buffer.concat([Buffer.from('{"z":'), nested(4_000_000, ''), Buffer.from('}')]),
  }),
  'depth-8e6': () => ({
    url: '/v1/activations/sigmoid/forward',
    headers: json,
    body: Buffer.concat([Buffer.from('{"z":'), nested(8_000_000, ''), Buffer.from('}')]),
  }),
  'v1-empty-arrays-30MB': () => ({
    url: '/v1/activations/sigmoid/forward',
    headers: json,
    body: Buffer.from(`{"z":[${'[],'.repeat(10_000_000)}[]]}`),
  }),
  'v1-16M-numbers-32MB': () => ({
    url: '/v1/activations/sigmoid/forward',
    headers: json,
    body: Buffer.from(`{"z":[${'0,'.repeat(16_000_000)}0]}`),
  }),
  'v1-one-element-rows-30MB': () => ({
    url: '/v1/activations/sigmoid/forward',
    headers: json,
    body: Buffer.from(`{"z":[${'[0],'.repeat(7_500_000)}[0]]}`),
  }),
  'v2-data-10000-deep': () => ({
    url: '/v2/models/sigmoid/infer',
    headers: json,
    body: v2Body(Buffer.concat([Buffer.from('"shape":[1],"data":'), nested(10_000)])),
  }),
  'v2-data-0-then-5000-deep': () => ({
    url: '/v2/models/sigmoid/infer',
    headers: json,
    body: v2Body(Buffer.concat([Buffer.from('"shape":[2],"data":[0,'), nested(5_000), Buffer.from(']')])),
  }),
  'v2-shape-5000-dims': () => ({
    url: '/v2/models/sigmoid/infer',
    headers: json,
    body: v2Body(Buffer.from(`"shape":[${Array(5000).fill(1).join(',')}],"data":[0]`)),
  }),
  'v1-params-200k-keys': () => ({
    url: '/v1/activations/elu/forward',
    headers: json,
    body: Buffer.from(
      `{"z":[1],"params":{${Array.from({ length: 200_000 }, (_, i) => `"k${i}":1`).join(',')}}}`,
    ),
  }),
  'v2-parameters-100k-keys': () => ({
    url: '/v2/models/sigmoid/infer',
    headers: json,
    body: v2Body(
      Buffer.from('"shape":[1],"data":[0]'),
      `"parameters":{${Array.from({ length: 100_000 }, (_, i) => `"p${i}":1`).join(',')}},`,
    ),
  }),
  'malformed-trailing-comma': () => ({
    url: '/v1/activations/sigmoid/forward',
    headers: json,
    body: Buffer.from('{"z": [1, 2,]}'),
  }),
  'v1-binary-fp32-inline-1e300': () => {
    const header = Buffer.from('{"inputs":[{"name":"z","shape":[1],"datatype":"FP32","data":[1e300]}]}');
    return {
      url: '/v1/activations/sigmoid/forward',
      headers: { 'content-type': tensorType, 'inference-header-content-length': String(header.length) },
      body: header,
    };
  },
  'v1-binary-accept-q0': () => {
    const header = Buffer.from('{"inputs":[{"name":"z","shape":[1],"datatype":"FP64","data":[0]}]}');
    return {
      url: '/v1/activations/sigmoid/forward',
      headers: {
        'content-type': tensorType,
        'inference-header-content-length': String(header.length),
        accept: `${tensorType};q=0`,
      },
      body: header,
    };
  },
  'pool-params-3000-deep-then-normal': () => ({
    url: '/v1/activations/elu/forward',
    headers: json,
    body: Buffer.from(
      `{"z":[0.5],"params":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}${' '.repeat(800_000)}}`,
    ),
    followedBy: {
      url: '/v1/activations/sigmoid/forward',
      headers: json,
      body: Buffer.from(JSON.stringify({ z: Array.from({ length: 150_000 }, (_, i) => (i % 7) - 3) })),
    },
  }),
};

function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024 };
}

const mb = (bytes) => `${(bytes / 1048576).toFixed(0)} MB`;

async function send(base, { url, headers, body }) {
  const started = performance.now();
  try {
    const res = await fetch(base + url, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(30_000),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      bytes: bytes.length,
      ms: performance.now() - started,
      text: bytes.toString('utf8', 0, 160),
    };
  } catch (error) {
    return {
      status: `${error.name}: ${error.cause?.code ?? error.message}`,
      ms: performance.now() - started,
    };
  }
}

async function measure(name, index) {
  const port = 18000 + index;
  const server = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: checkout,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) break;
      } catch {}
      if (i > 100) throw new Error('server did not start');
      await sleep(100);
    }
    // Let the overload plugin take its first event-loop sample: start-up work would read as overload (503).
    await sleep(1500);
    const request = cases[name]();
    const before = memory(server.pid);
    let slowestHealth = 0;
    let done = false;
    const probe = (async () => {
      while (!done) {
        const t = performance.now();
        try {
          await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(30_000) });
        } catch {}
        slowestHealth = Math.max(slowestHealth, performance.now() - t);
        await sleep(50);
      }
    })();
    const result = await send(base, request);
    const followUp = request.followedBy ? await send(base, request.followedBy) : undefined;
    done = true;
    await probe;
    const after = memory(server.pid);
    console.log(
      JSON.stringify({
        case: name,
        status: result.status,
        contentType: result.type,
        responseBytes: result.bytes,
        ms: Math.round(result.ms),
        slowestHealthMs: Math.round(slowestHealth),
        rssBefore: mb(before.rss),
        peakRssAfter: mb(after.peak),
        answer: result.text,
        ...(followUp ? { followedBy: { status: followUp.status, ms: Math.round(followUp.ms) } } : {}),
      }),
    );
  } finally {
    server.kill('SIGKILL');
  }
}

const names = only.length ? only : Object.keys(cases);
for (const name of names) await measure(name, Object.keys(cases).indexOf(name));

#!/usr/bin/env bash
# A client generated from the OpenAPI document, the usual way another TypeScript service calls this API:
# openapi-typescript (7, the document's types; binary bodies as Blob by its documented transform) and
# openapi-fetch (0.17), both pinned devDependencies. Builds the server, starts it on a free port, generates the
# types from its /openapi.json, type-checks a program that calls every operation (strict, skipLibCheck off), checks
# that the types refuse what the service refuses (a body with neither or both of z and a), and runs the program
# against the server, which fails unless every operation of the document was called and answered as typed.
# Called from .ci/run after the client package test; runnable by hand. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

mkdir -p .tmp
# Inside the repository, so that the program resolves openapi-fetch and typescript from its node_modules.
work="$(mktemp -d "$root/.tmp/generated-client.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== build and start the server"
npm run -s build
port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
PORT="$port" HOST=127.0.0.1 LOG_LEVEL=warn node dist/server.js >"$work/server.log" 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  if curl -fsS "$base/readyz" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
curl -fsS "$base/openapi.json" -o "$work/openapi.json"

echo "== generate the types (openapi-typescript $(node -p 'require("openapi-typescript/package.json").version'))"
cat >"$work/generate.mjs" <<'JS'
// openapi-typescript's Node API with the transform its documentation gives for binary data: Blob, which fetch
// sends as it is, instead of string.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';

const blob = ts.factory.createTypeReferenceNode(ts.factory.createIdentifier('Blob'));
const ast = await openapiTS(pathToFileURL(process.argv[2]), {
  transform: (schema) => (schema.format === 'binary' ? blob : undefined),
});
writeFileSync(process.argv[3], astToString(ast));
JS
node "$work/generate.mjs" "$work/openapi.json" "$work/api.d.ts"
echo "api.d.ts: $(wc -l <"$work/api.d.ts") lines"

cat >"$work/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "lib": ["ES2022", "DOM"],
    "types": ["node"],
    "strict": true,
    "skipLibCheck": false,
    "outDir": "out"
  },
  "files": ["program.ts", "api.d.ts"]
}
JSON
cat >"$work/program.ts" <<'TS'
import createClient from 'openapi-fetch';
import type { paths } from './api.js';

const base = process.argv[2];
// Replies typed as their JSON form (openapi-fetch's media type parameter); binaryClient types every form.
const client = createClient<paths, 'application/json'>({ baseUrl: base });
const binaryClient = createClient<paths>({ baseUrl: base });
const check = (ok: boolean, what: string) => {
  if (!ok) throw new Error(`program: ${what}`);
};

// Every call goes through here: its answer must be a 2xx, and its operation is noted.
const called = new Set<string>();
async function call<T extends { response: Response; error?: unknown }>(op: string, request: Promise<T>) {
  const result = await request;
  check(result.response.ok, `${op}: ${result.response.status} ${JSON.stringify(result.error)}`);
  called.add(op);
  return result;
}

// The types refuse what the service refuses; never run, only compiled.
export const refused = () => [
  // @ts-expect-error exactly one of z and a: neither is refused
  client.POST('/v1/softmax/jacobian', { body: {} }),
  // @ts-expect-error exactly one of z and a: both are refused
  client.POST('/v1/activations/{name}/derivative', { params: { path: { name: 'tanh' } }, body: { z: [0], a: [0] } }),
];

await call('GET /healthz', client.GET('/healthz'));
await call('GET /readyz', client.GET('/readyz'));
const list = await call('GET /v1/activations', client.GET('/v1/activations'));
check((list.data?.activations.length ?? 0) > 10, 'the catalog');
const sigmoid = { params: { path: { name: 'sigmoid' } } } as const;
await call('GET /v1/activations/{name}', client.GET('/v1/activations/{name}', sigmoid));
const forward = await call(
  'POST /v1/activations/{name}/forward',
  client.POST('/v1/activations/{name}/forward', { ...sigmoid, body: { z: [-2, 0, 2] } }),
);
check(JSON.stringify(forward.data?.a) === '[0.11920292202211756,0.5,0.8807970779778824]', 'forward');

// A binary body (the tensor media type): the JSON header, then float64 bytes; sent as a Blob.
const header = JSON.stringify({ inputs: [{ name: 'z', shape: [2], datatype: 'FP64', parameters: { binary_data_size: 16 } }] });
const tensorType = 'application/vnd.gradient-service.tensor+octet-stream';
const binary = await binaryClient.POST('/v1/activations/{name}/forward', {
  ...sigmoid,
  body: new Blob([header, new Float64Array([0, 0])]),
  bodySerializer: (body) => body,
  headers: { 'content-type': tensorType, 'inference-header-content-length': String(header.length) },
  parseAs: 'arrayBuffer',
});
check(binary.response.ok, `binary forward: ${binary.response.status}`);
const replyHeader = Number(binary.response.headers.get('inference-header-content-length'));
check(new Float64Array((binary.data as ArrayBuffer).slice(replyHeader))[1] === 0.5, 'binary forward');

const derivative = await call(
  'POST /v1/activations/{name}/derivative',
  client.POST('/v1/activations/{name}/derivative', { params: { path: { name: 'tanh' } }, body: { z: [0] } }),
);
check(JSON.stringify(derivative.data?.derivative) === '[1]', 'derivative');
const second = await call(
  'POST /v1/activations/{name}/second-derivative',
  client.POST('/v1/activations/{name}/second-derivative', { params: { path: { name: 'tanh' } }, body: { z: [0] } }),
);
check(JSON.stringify(second.data?.secondDerivative) === '[0]', 'second derivative');
const logSoftmax = { params: { path: { name: 'log_softmax' } } } as const;
await call(
  'POST /v1/activations/{name}/jacobian',
  client.POST('/v1/activations/{name}/jacobian', { ...logSoftmax, body: { z: [1, 2, 3] } }),
);
await call(
  'POST /v1/activations/{name}/vjp',
  client.POST('/v1/activations/{name}/vjp', { ...logSoftmax, body: { z: [1, 2, 3], v: [1, 0, 0] } }),
);
const jacobian = await call('POST /v1/softmax/jacobian', client.POST('/v1/softmax/jacobian', { body: { z: [0, 0] } }));
check(JSON.stringify(jacobian.data?.jacobian) === '[[0.25,-0.25],[-0.25,0.25]]', 'softmax jacobian');
await call('POST /v1/softmax/vjp', client.POST('/v1/softmax/vjp', { body: { a: [0.5, 0.5], v: [1, 0] } }));
const layer = await call(
  'POST /v1/gradients/output-layer',
  client.POST('/v1/gradients/output-layer', {
    body: { x: [1], weights: [[0]], targets: [1], activation: 'sigmoid' },
  }),
);
check(layer.data?.loss === 0.125, 'output layer');
type JsonBody<P extends keyof paths> = paths[P] extends { post: { requestBody?: { content: { 'application/json': infer B } } } }
  ? B
  : never;
const network: JsonBody<'/v1/gradients/network'> = {
  x: [0.5, -1],
  layers: [
    { weights: [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], bias: [0, 0.1, -0.1], activation: 'sigmoid' },
    { weights: [[0.7, -0.8], [0.9, 0.1], [-0.2, 0.3]], activation: 'sigmoid' },
  ],
  targets: [1, 0],
};
const gradients = await call('POST /v1/gradients/network', client.POST('/v1/gradients/network', { body: network }));
check(typeof gradients.data?.loss === 'number', 'network');
const hv: JsonBody<'/v1/gradients/network/hessian-vector'> = {
  ...network,
  vector: {
    layers: [
      { weights: [[1, 0, 0], [0, 0, 0]], bias: [0, 0, 0] },
      { weights: [[0, 0], [0, 0], [0, 0]] },
    ],
  },
  curvature: 'hessian',
};
const product = await call(
  'POST /v1/gradients/network/hessian-vector',
  client.POST('/v1/gradients/network/hessian-vector', { body: hv }),
);
check(typeof product.data?.loss === 'number', 'hessian-vector product');
const claimed: JsonBody<'/v1/gradients/check'> = {
  ...network,
  gradients: { layers: [null, { biasGradient: [-0.0889, 0.1187] }] },
  rtol: 0.001,
};
const verdict = await call('POST /v1/gradients/check', client.POST('/v1/gradients/check', { body: claimed }));
check(verdict.data?.passed === true, 'gradient check');
const plot = await call(
  'GET /v1/activations/{name}/plot.svg',
  client.GET('/v1/activations/{name}/plot.svg', { ...sigmoid, parseAs: 'text' }),
);
check(String(plot.data).startsWith('<svg'), 'plot');

const server = await call('GET /v2', client.GET('/v2'));
check(server.data?.extensions.includes('statistics') === true, 'server metadata');
await call('GET /v2/health/live', client.GET('/v2/health/live', { parseAs: 'text' }));
await call('GET /v2/health/ready', client.GET('/v2/health/ready', { parseAs: 'text' }));
const model = { params: { path: { name: 'sigmoid' } } } as const;
const version = { params: { path: { name: 'sigmoid', version: '1' } } } as const;
const meta = await call('GET /v2/models/{name}', client.GET('/v2/models/{name}', model));
check(JSON.stringify(meta.data?.inputs[0].shape) === '[-1]', 'model metadata');
await call('GET /v2/models/{name}/versions/{version}', client.GET('/v2/models/{name}/versions/{version}', version));
await call('GET /v2/models/{name}/ready', client.GET('/v2/models/{name}/ready', { ...model, parseAs: 'text' }));
await call(
  'GET /v2/models/{name}/versions/{version}/ready',
  client.GET('/v2/models/{name}/versions/{version}/ready', { ...version, parseAs: 'text' }),
);
const inference = { inputs: [{ name: 'z', shape: [3], datatype: 'FP32', data: [-2, 0, 2] }] };
const infer = await call('POST /v2/models/{name}/infer', client.POST('/v2/models/{name}/infer', { ...model, body: inference }));
check(infer.data?.outputs[0].datatype === 'FP32' && infer.data.outputs[0].data?.[1] === 0.5, 'infer');
await call(
  'POST /v2/models/{name}/versions/{version}/infer',
  client.POST('/v2/models/{name}/versions/{version}/infer', { ...version, body: inference }),
);
const index = await call('POST /v2/repository/index', client.POST('/v2/repository/index', { body: { ready: true } }));
check(index.data?.some((m) => m.name === 'sigmoid') === true, 'repository index');
const stats = await call('GET /v2/models/{name}/stats', client.GET('/v2/models/{name}/stats', model));
check((stats.data?.model_stats[0].inference_count ?? 0) >= 2, 'statistics');
await call(
  'GET /v2/models/{name}/versions/{version}/stats',
  client.GET('/v2/models/{name}/versions/{version}/stats', version),
);
await call('GET /v2/models/stats', client.GET('/v2/models/stats'));

// A refusal comes back typed as the error body.
const refusal = await binaryClient.POST('/v1/softmax/jacobian', { body: { z: [[1, 2], [3]] } });
check(refusal.response.status === 400 && refusal.error?.errors?.[0]?.path === '/z/1', 'a ragged batch is a 400');

// Every operation of the served document was called.
const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
  Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
);
const missed = operations.filter((op) => !called.has(op));
check(missed.length === 0, `operations never called: ${missed.join(', ')}`);
console.log(`program: ${called.size} operations called, every one answered as typed`);
TS

echo "== the program type-checks (strict, skipLibCheck off)"
tsc="$root/node_modules/.bin/tsc"
(cd "$work" && "$tsc" -p .)

echo "== the types refuse a body with neither or both of z and a"
sed -e 's|^  // @ts-expect-error exactly one.*$||' "$work/program.ts" >"$work/refused.ts"
sed -e 's|"program.ts"|"refused.ts"|' "$work/tsconfig.json" >"$work/tsconfig.refused.json"
if (cd "$work" && "$tsc" -p tsconfig.refused.json --noEmit) >"$work/refused.log" 2>&1; then
  echo "a body with neither or both of z and a compiled" >&2
  exit 1
fi
if [[ "$(grep -c 'refused.ts(' "$work/refused.log")" != 2 ]]; then
  cat "$work/refused.log" >&2
  exit 1
fi
grep -o 'error TS[0-9]*: No overload matches this call\|error TS[0-9]*: Type .*' "$work/refused.log" | sed 's/^/tsc: /'

echo "== the program calls the server"
node "$work/out/program.js" "$base" || {
  cat "$work/server.log" >&2
  exit 1
}
echo "generated client test: ok"

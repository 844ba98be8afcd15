#!/usr/bin/env bash
# The client package as another service gets it: `npm pack` the workspace package (prepack builds it), install
# the tarball into a brand-new project (its dependencies from the npm registry), type-check a consumer against
# it without skipLibCheck (a misspelt activation must not compile, a 1-D request must give number[]), then run
# the consumer against a live server on 127.0.0.1. Called from .ci/run after `npm ci`; runnable by hand.
# Prints the tarball's size and the consumer's installed runtime packages. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== npm pack @gradient-service/client"
npm pack --workspace @gradient-service/client --pack-destination "$work" >"$work/pack.log" 2>&1 || {
  cat "$work/pack.log"
  exit 1
}
grep -E 'Tarball Contents|notice [0-9.]+k?B |package size|unpacked size|total files' "$work/pack.log"
tarball="$(ls "$work"/gradient-service-client-*.tgz)"
if tar -tzf "$tarball" | grep -vE '^package/(dist/[a-z-]+\.(js|d\.ts)|package\.json|README\.md|LICENSE)$'; then
  echo "the tarball carries files beyond dist/*.js, dist/*.d.ts, package.json, README.md and LICENSE" >&2
  exit 1
fi

echo "== a new project installs the tarball"
consumer="$work/consumer"
mkdir "$consumer"
cd "$consumer"
cat >package.json <<'JSON'
{ "name": "consumer", "version": "0.0.0", "private": true, "type": "module" }
JSON
# The consumer's own tools come from the registry like any project's; the client comes from the tarball.
npm install --no-audit --no-fund --loglevel=error "$tarball" >/dev/null
npm install --no-audit --no-fund --loglevel=error --save-dev typescript@5.9.3 @types/node@20.19.43 >/dev/null
runtime="$(npm ls --omit=dev --all --parseable | tail -n +2 | sed 's|.*/node_modules/||' | sort)"
echo "runtime packages installed: $(echo "$runtime" | tr '\n' ' ')"
if [[ "$runtime" != $'@gradient-service/client\nundici' ]]; then
  echo "expected the client and undici alone at run time" >&2
  exit 1
fi

cat >tsconfig.json <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "types": ["node"],
    "strict": true,
    "skipLibCheck": false,
    "outDir": "out"
  },
  "files": ["consumer.ts"]
}
JSON
cat >consumer.ts <<'TS'
import { createClient, GradientServiceError, type ActivationName } from '@gradient-service/client';

const check = (ok: boolean, what: string) => {
  if (!ok) throw new Error(`consumer: ${what}`);
};
const client = createClient({ baseUrl: process.argv[2], timeout: 10_000 });

const { a } = await client.activationForward('sigmoid', { z: [-2, 0, 2] });
const oneSample: number[] = a; // 1-D in, number[] out
check(oneSample[1] === 0.5 && Math.abs(oneSample[0] - 0.11920292202211755) < 1e-15, `sigmoid ${a}`);

const batch = await client.activationForward('tanh', { z: [[0, 1], [2, 3]] });
const rows: number[][] = batch.a; // batch in, number[][] out
// @ts-expect-error a batch reply is not one sample
const notOneSample: number[] = batch.a;
check(rows.length === 2 && rows[0][0] === 0 && notOneSample.length === 2, `tanh ${JSON.stringify(rows)}`);

const alias: ActivationName = 'logistic';
// @ts-expect-error a misspelt activation name does not compile
const misspelt: ActivationName = 'sigmoyd';
// @ts-expect-error a misspelt activation name does not compile as a method argument either
const misspeltCall = () => client.activationForward('sigmoyd', { z: [0] });
check((await client.getActivation(alias)).name === 'sigmoid' && misspelt.length > 0, 'alias');
check(typeof misspeltCall === 'function', 'misspelt call');

const { derivative } = await client.activationDerivative('sigmoid', { a: oneSample });
check(derivative.length === 3 && derivative[1] === 0.25, `derivative ${derivative}`);
const { jacobian } = await client.softmaxJacobian({ z: [0, 0] });
const matrix: number[][] = jacobian;
check(JSON.stringify(matrix) === '[[0.25,-0.25],[-0.25,0.25]]', `jacobian ${JSON.stringify(matrix)}`);
const { gradient } = await client.softmaxVjp({ z: [0, 0], v: [1, 0] });
check(JSON.stringify(gradient) === '[0.25,-0.25]', `vjp ${gradient}`);
const layer = await client.outputLayerGradients({ x: [1], weights: [[0]], targets: [1], activation: 'sigmoid' });
check(layer.loss === 0.125 && layer.a[0] === 0.5, `output layer ${JSON.stringify(layer)}`);

try {
  await client.activationForward('sigmoid', { z: [[1, 2], [3]] });
  check(false, 'a ragged batch was accepted');
} catch (e) {
  check(e instanceof GradientServiceError && e.status === 400 && e.errors[0]?.path === '/z/1', `400: ${e}`);
}
await client.close();
console.log('consumer: every call answered as typed');
TS

echo "== the consumer type-checks (skipLibCheck off)"
tsc_started=$(date +%s%N)
"$consumer/node_modules/.bin/tsc" -p .
tsc_ms=$((($(date +%s%N) - tsc_started) / 1000000))
files="$("$consumer/node_modules/.bin/tsc" -p . --listFilesOnly)"
# Informational (never asserted as a time): the whole consumer compile, Node's and TypeScript's own
# declarations included.
echo "consumer tsc: ${tsc_ms} ms for $(echo "$files" | wc -l) files, $(echo "$files" | grep -c '@gradient-service/client') of them the client's"
# The same compile without the client, for scale: what the consumer pays for TypeScript's and Node's own types.
echo 'console.log(process.version);' >baseline.ts
baseline_started=$(date +%s%N)
"$consumer/node_modules/.bin/tsc" --noEmit --strict --module nodenext --moduleResolution nodenext --types node baseline.ts
echo "baseline tsc without the client: $((($(date +%s%N) - baseline_started) / 1000000)) ms"
if echo "$files" | grep -qi typebox; then
  echo "TypeBox declarations reach the consumer" >&2
  exit 1
fi

echo "== a misspelt activation name fails to compile"
sed -e 's|^// @ts-expect-error a misspelt.*$||' consumer.ts >misspelt.ts
if "$consumer/node_modules/.bin/tsc" --noEmit --strict --module nodenext --moduleResolution nodenext \
  --types node misspelt.ts >"$work/misspelt.log" 2>&1; then
  echo "'sigmoyd' compiled" >&2
  exit 1
fi
# Both the assignment and the method argument are refused.
if [[ "$(grep -c "'\"sigmoyd\"' is not assignable" "$work/misspelt.log")" != 2 ]]; then
  cat "$work/misspelt.log" >&2
  exit 1
fi
grep -o "error TS[0-9]*: [A-Za-z]* of type '\"sigmoyd\"' is not assignable\|error TS[0-9]*: Type '\"sigmoyd\"' is not assignable" \
  "$work/misspelt.log" | sed 's/^/tsc: /'

echo "== the consumer calls a live server"
cd "$root"
port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
PORT="$port" HOST=127.0.0.1 LOG_LEVEL=warn node --import tsx src/server.ts >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
node "$consumer/out/consumer.js" "http://127.0.0.1:$port" || {
  cat "$work/server.log" >&2
  exit 1
}
echo "client package test: ok"

#!/usr/bin/env bash
# Prints the README's "Routes, with real output" block: starts the service from the sources on a spare local
# port, runs each curl, and prints markdown. test/scripts/readme-examples.test.ts runs it and fails when the
# README's block (between its readme-examples markers) is not this output (request ids aside: they are random).
#   bash scripts/readme-examples.sh            prints the block
#   bash scripts/readme-examples.sh --write    replaces the README's block with it
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--write" ]; then
  out=$(mktemp)
  bash "$0" >"$out"
  EXAMPLES="$out" node -e '
    const fs = require("node:fs");
    const readme = fs.readFileSync("README.md", "utf8");
    const block = fs.readFileSync(process.env.EXAMPLES, "utf8");
    const re = /(<!-- readme-examples:start[^>]*-->\n)[\s\S]*?(<!-- readme-examples:end -->)/;
    if (!re.test(readme)) throw new Error("README.md has no readme-examples markers");
    fs.writeFileSync("README.md", readme.replace(re, (_, start, end) => start + block + end));
  '
  rm -f "$out"
  echo "readme-examples: README.md updated" >&2
  exit 0
fi
PORT=${PORT:-18080}
if curl -sf -o /dev/null "127.0.0.1:$PORT/healthz"; then
  echo "readme-examples: port $PORT already answers; set PORT to a free one" >&2
  exit 1
fi
# node itself, with tsx as a loader: `npx tsx` would be a launcher whose node child outlives a kill of it (the
# server stayed up after the script). The EXIT trap stops the server and waits for it; INT and TERM exit
# through it too.
LOG_LEVEL=warn PORT=$PORT HOST=127.0.0.1 node --import tsx src/server.ts >/dev/null 2>&1 &
pid=$!
stop_server() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
trap stop_server EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
for _ in $(seq 1 100); do curl -sf -o /dev/null "127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
if ! curl -sf -o /dev/null "127.0.0.1:$PORT/healthz"; then
  echo "readme-examples: the server did not come up on port $PORT" >&2
  exit 1
fi

show() { # title, display command, real command, optional byte cut
  local title=$1 shown=$2 real=$3 cut=${4:-}
  echo "$title"
  echo
  echo '```console'
  echo "\$ $shown"
  if [ -n "$cut" ]; then
    out=$(eval "$real")
    printf '%s' "${out:0:$cut}"
    [ ${#out} -gt "$cut" ] && printf ' …(%d bytes in all)' "${#out}"
    echo
  else
    eval "$real"
    echo
  fi
  echo '```'
  echo
}
J="-H 'content-type: application/json'"
h=localhost:8080
r=127.0.0.1:$PORT
post() { curl -s "$r$1" -H 'content-type: application/json' -d "$2"; }

show "Forward (one sample in, one out; a batch [N][K] gives a batch):" \
  "curl -s $h/v1/activations/sigmoid/forward $J -d '{\"z\": [-2, 0, 2]}'" \
  "post /v1/activations/sigmoid/forward '{\"z\": [-2, 0, 2]}'"
show "Derivative from z (with a); sigmoid'(40), which PyTorch's float64 autograd returns as 0:" \
  "curl -s $h/v1/activations/sigmoid/derivative $J -d '{\"z\": [0, 2, 40]}'" \
  "post /v1/activations/sigmoid/derivative '{\"z\": [0, 2, 40]}'"
show "Derivative from the output a, as backpropagation has it (tanh' = 1 - a^2):" \
  "curl -s $h/v1/activations/tanh/derivative $J -d '{\"a\": [0, 0.5, -0.9]}'" \
  "post /v1/activations/tanh/derivative '{\"a\": [0, 0.5, -0.9]}'"
show "Second derivative (g'', g' and a); at z = 1e-300 and 40 PyTorch's double backward returns 0:" \
  "curl -s $h/v1/activations/sigmoid/second-derivative $J -d '{\"z\": [0, 1e-300, 2, 40]}'" \
  "post /v1/activations/sigmoid/second-derivative '{\"z\": [0, 1e-300, 2, 40]}'"
show "Softmax vector-Jacobian product v^T J, without building J:" \
  "curl -s $h/v1/softmax/vjp $J -d '{\"z\": [1, 2, 3], \"v\": [1, 0, 0]}'" \
  "post /v1/softmax/vjp '{\"z\": [1, 2, 3], \"v\": [1, 0, 0]}'"
NET='{"x": [0.5, -1], "layers": [{"weights": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], "bias": [0, 0.1, -0.1], "activation": "tanh"}, {"weights": [[0.7, -0.8], [0.9, 0.1], [-0.2, 0.3]], "activation": "sigmoid"}], "targets": [1, 0], "intermediates": false}'
show "Whole-network gradients (a hidden tanh layer of 3, a sigmoid output layer of 2, squared error):" \
  "curl -s $h/v1/gradients/network $J -d '$NET'" \
  "post /v1/gradients/network '$NET'"
HVP="${NET%\}}"', "vector": {"layers": [{"weights": [[1, 0, 0], [0, 0, 0]]}, {"weights": [[0, 0], [0, 0], [0, 0]]}]}, "curvature": "hessian"}'
show "Hessian-vector product H v of the same network (v: 1 on the first weight, 0 elsewhere; gradients cut):" \
  "curl -s $h/v1/gradients/network/hessian-vector $J -d '{...the network above..., \"vector\": {\"layers\": [{\"weights\": [[1, 0, 0], [0, 0, 0]]}, {\"weights\": [[0, 0], [0, 0], [0, 0]]}]}}'" \
  "post /v1/gradients/network/hessian-vector '$HVP' | node -e 'let s=\"\";process.stdin.on(\"data\",(d)=>(s+=d)).on(\"end\",()=>{const r=JSON.parse(s);process.stdout.write(JSON.stringify({loss:r.loss,directionalDerivative:r.directionalDerivative,layers:r.layers.map((l)=>({weightProduct:l.weightProduct,biasProduct:l.biasProduct}))}))})'"
CHECK='{"x": [0.5, -1], "layers": [{"weights": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], "bias": [0, 0.1, -0.1], "activation": "sigmoid"}, {"weights": [[0.7, -0.8], [0.9, 0.1], [-0.2, 0.3]], "activation": "sigmoid"}], "targets": [1, 0], "gradients": {"layers": [null, {"weightGradient": [[-0.03675, 0.04909], [-0.03356, 0.04483], [-0.05841, -0.07801]], "biasGradient": [-0.0889, 0.1187]}]}, "rtol": 1e-3}'
show "Checking gradients computed elsewhere (a sign error in weightGradient[2][1]):" \
  "curl -s $h/v1/gradients/check $J -d '{...a network..., \"gradients\": {\"layers\": [null, {\"weightGradient\": [...], \"biasGradient\": [...]}]}, \"rtol\": 1e-3}'" \
  "post /v1/gradients/check '$CHECK'"
show "Bad input is a 400 problem+json naming the field:" \
  "curl -s $h/v1/activations/tanh/forward $J -d '{\"z\": [[1, 2], [3]]}'" \
  "post /v1/activations/tanh/forward '{\"z\": [[1, 2], [3]]}'"
show "Open Inference Protocol (Triton, KServe): every operation is a model:" \
  "curl -s $h/v2/models/tanh.second_derivative/infer $J -d '{\"inputs\": [{\"name\": \"z\", \"shape\": [2], \"datatype\": \"FP32\", \"data\": [0.5, 3]}]}'" \
  "post /v2/models/tanh.second_derivative/infer '{\"inputs\": [{\"name\": \"z\", \"shape\": [2], \"datatype\": \"FP32\", \"data\": [0.5, 3]}]}'"

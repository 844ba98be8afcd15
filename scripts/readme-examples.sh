#!/usr/bin/env bash
# Regenerates the "Routes, with real output" examples of the README: starts the service from the sources
# on a spare local port, runs each curl, and prints markdown (paste it into README.md).
#   bash scripts/readme-examples.sh > /tmp/examples.md
set -euo pipefail
cd "$(dirname "$0")/.."
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

show "Liveness and readiness:" "curl -s $h/healthz; curl -s $h/readyz" "curl -s $r/healthz; echo; curl -s $r/readyz"
show "The catalog (every activation, with params, LaTeX and whether g' and g'' can be computed from a):" \
  "curl -s $h/v1/activations" "curl -s $r/v1/activations" 400
show "One activation (aliases resolve: \`logistic\` is sigmoid):" "curl -s $h/v1/activations/logistic" "curl -s $r/v1/activations/logistic"
show "Forward, one sample (vector in, vector out):" \
  "curl -s $h/v1/activations/sigmoid/forward $J -d '{\"z\": [-2, 0, 2]}'" \
  "post /v1/activations/sigmoid/forward '{\"z\": [-2, 0, 2]}'"
show "Forward, a batch with params (batch in, batch out):" \
  "curl -s $h/v1/activations/leaky_relu/forward $J -d '{\"z\": [[-2, 3], [0.5, -1]], \"params\": {\"alpha\": 0.2}}'" \
  "post /v1/activations/leaky_relu/forward '{\"z\": [[-2, 3], [0.5, -1]], \"params\": {\"alpha\": 0.2}}'"
show "Derivative from z (returns a too); note sigmoid'(40), which PyTorch float64 returns as 0:" \
  "curl -s $h/v1/activations/sigmoid/derivative $J -d '{\"z\": [0, 2, 40]}'" \
  "post /v1/activations/sigmoid/derivative '{\"z\": [0, 2, 40]}'"
show "Derivative from the output a, as backpropagation has it (tanh' = 1 - a^2):" \
  "curl -s $h/v1/activations/tanh/derivative $J -d '{\"a\": [0, 0.5, -0.9]}'" \
  "post /v1/activations/tanh/derivative '{\"a\": [0, 0.5, -0.9]}'"
show "Softmax Jacobian, J[i][j] = a_i (delta_ij - a_j):" \
  "curl -s $h/v1/softmax/jacobian $J -d '{\"z\": [1, 2, 3]}'" \
  "post /v1/softmax/jacobian '{\"z\": [1, 2, 3]}'"
show "Softmax vector-Jacobian product v^T J, in O(K) without building J:" \
  "curl -s $h/v1/softmax/vjp $J -d '{\"z\": [1, 2, 3], \"v\": [1, 0, 0]}'" \
  "post /v1/softmax/vjp '{\"z\": [1, 2, 3], \"v\": [1, 0, 0]}'"
OL='{"x": [[0.5, -1], [1, 2]], "weights": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], "bias": [0, 0.1, -0.1], "targets": [[0, 1, 0], [1, 0, 0]], "activation": "softmax", "loss": "cross_entropy", "reduction": "mean"}'
show "Output-layer gradients (here softmax with cross-entropy, mean over the batch):" \
  "curl -s $h/v1/gradients/output-layer $J -d '$OL'" \
  "post /v1/gradients/output-layer '$OL'"
NET='{"x": [0.5, -1], "layers": [{"weights": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], "bias": [0, 0.1, -0.1], "activation": "sigmoid"}, {"weights": [[0.7, -0.8], [0.9, 0.1], [-0.2, 0.3]], "activation": "sigmoid"}], "targets": [1, 0]}'
show "Whole-network gradients (a hidden sigmoid layer of 3, a sigmoid output layer of 2):" \
  "curl -s $h/v1/gradients/network $J -d '$NET'" \
  "post /v1/gradients/network '$NET'"
SAT='{"x": [1], "layers": [{"weights": [[40]], "activation": "sigmoid"}, {"weights": [[1]], "activation": "identity"}], "targets": [0], "intermediates": false}'
show "A saturated unit keeps its slope (g' from z):" \
  "curl -s $h/v1/gradients/network $J -d '$SAT'" \
  "post /v1/gradients/network '$SAT'"
BAD='{"x": [0.5, -1], "layers": [{"weights": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], "activation": "tanh"}, {"weights": [[0.7, -0.8], [0.9, 0.1]], "activation": "sigmoid"}], "targets": [1, 0]}'
show "A layer that does not fit the one before is a 400 naming both:" \
  "curl -s $h/v1/gradients/network $J -d '$BAD'" \
  "post /v1/gradients/network '$BAD'"
CHECK='{"x": [0.5, -1], "layers": [{"weights": [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]], "bias": [0, 0.1, -0.1], "activation": "sigmoid"}, {"weights": [[0.7, -0.8], [0.9, 0.1], [-0.2, 0.3]], "activation": "sigmoid"}], "targets": [1, 0], "gradients": {"layers": [null, {"weightGradient": [[-0.03675, 0.04909], [-0.03356, 0.04483], [-0.05841, -0.07801]], "biasGradient": [-0.0889, 0.1187]}]}, "rtol": 1e-3}'
show "Checking gradients computed elsewhere (a deliberate sign error in weightGradient[2][1]):" \
  "curl -s $h/v1/gradients/check $J -d '$CHECK'" \
  "post /v1/gradients/check '$CHECK'"
show "Errors are problem+json; an unknown activation lists the known names:" \
  "curl -s $h/v1/activations/sigmoyd/forward $J -d '{\"z\": [1]}'" \
  "post /v1/activations/sigmoyd/forward '{\"z\": [1]}'" 300
show "A ragged batch names the row:" \
  "curl -s $h/v1/activations/tanh/forward $J -d '{\"z\": [[1, 2], [3]]}'" \
  "post /v1/activations/tanh/forward '{\"z\": [[1, 2], [3]]}'"
show "A plot of g and g' (SVG):" "curl -s '$h/v1/activations/gelu/plot.svg?from=-4&to=4'" "curl -s '$r/v1/activations/gelu/plot.svg?from=-4&to=4'" 160
show "The OpenAPI document:" "curl -s $h/openapi.json" "curl -s $r/openapi.json" 120
show "Open Inference Protocol v2 (KServe, Triton clients):" \
  "curl -s $h/v2/models/sigmoid/infer $J -d '{\"id\": \"1\", \"inputs\": [{\"name\": \"z\", \"shape\": [1, 3], \"datatype\": \"FP64\", \"data\": [-2, 0, 2]}]}'" \
  "post /v2/models/sigmoid/infer '{\"id\": \"1\", \"inputs\": [{\"name\": \"z\", \"shape\": [1, 3], \"datatype\": \"FP64\", \"data\": [-2, 0, 2]}]}'"
show "Prometheus metrics:" "curl -s $h/metrics | grep -m3 '^http_request'" "curl -s $r/metrics | grep -m3 '^http_request' || true"
echo '### Second derivatives'
echo
echo "g''(z) for every elementwise activation, with g' and a, within 4 ulp of the exact value (PyTorch's float64"
echo 'double backward beside it in the golden file, `test/fixtures/golden/second.json`). At z = 1e-300 the exact'
echo "sigmoid'' is -1.25e-301 and PyTorch returns 0 (a rounds to 1/2, so 1 - 2a is 0); at z = 40 the exact value is"
echo '-4.248354255291589e-18 and PyTorch returns -0.0 (a rounds to 1):'
echo
show "Second derivative from z (g'', g' and a):" \
  "curl -s $h/v1/activations/sigmoid/second-derivative $J -d '{\"z\": [0, 1e-300, 2, 40]}'" \
  "post /v1/activations/sigmoid/second-derivative '{\"z\": [0, 1e-300, 2, 40]}'"
show "From the output a where g'' is a closed form of a (tanh'' = -2a(1 - a^2), secondDerivativeFromOutput in the catalog):" \
  "curl -s $h/v1/activations/tanh/second-derivative $J -d '{\"a\": [0.5, -0.999999]}'" \
  "post /v1/activations/tanh/second-derivative '{\"a\": [0.5, -0.999999]}'"
show "softmax and log_softmax have a K x K x K second derivative per row: a 400 pointing to the network's curvature products:" \
  "curl -s $h/v1/activations/softmax/second-derivative $J -d '{\"z\": [1, 2]}'" \
  "post /v1/activations/softmax/second-derivative '{\"z\": [1, 2]}'"

#!/usr/bin/env bash
# Builds the container image with podman and runs it for real: /healthz, a sigmoid request, the uid it runs
# as, the image's HEALTHCHECK, a clean SIGTERM stop while a load generator runs (no request lost, exit 0),
# and a second run with a read-only root filesystem and the Kubernetes securityContext's restrictions. Called as the last step of .ci/run; runnable by hand as root.
#
# No Docker engine and no image registry here: rootful podman from Debian's packages, runc (crun fails on
# this host's hybrid cgroups), and a locally made stand-in for the base image (scripts/make-base-image.sh).
# Every wait is bounded; all traffic goes to 127.0.0.1. Exits non-zero when any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

script_started=$SECONDS
IMAGE="${IMAGE:-localhost/gradient-service:container-test}"
export CONTAINERS_CONF="$PWD/scripts/podman/containers.conf"
log_dir="$PWD/.tmp/container-test"
mkdir -p "$log_dir"

passed=0
failed=0
failures=()
containers=()
summary=()

pass() {
  passed=$((passed + 1))
  echo "  ok   $1"
}
fail() {
  failed=$((failed + 1))
  failures+=("$1")
  echo "  FAIL $1" >&2
}
finish() {
  local status=$?
  local c
  for c in "${containers[@]}"; do
    timeout 30 podman rm -f -t 0 "$c" >/dev/null 2>&1 || true
  done
  echo "== container test took $((SECONDS - script_started)) s"
  if ((failed == 0 && status == 0)); then
    echo "container-test: PASS ${summary[*]}"
  else
    ((failed > 0)) || failed=1
    echo "container-test: FAIL (${failures[*]:-aborted, exit $status})" >&2
  fi
  echo "container-test: $passed passed, $failed failed"
  ((failed == 0 && status == 0)) || exit 1
}
trap finish EXIT
# A check that the rest cannot go on without: record it and stop here (the trap prints the summary).
die() {
  fail "$1"
  exit 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
seconds_since() { awk -v ms=$(($(now_ms) - $1)) 'BEGIN { printf "%.2f", ms / 1000 }'; }

echo "== tools"
missing=()
for tool in podman buildah runc debootstrap curl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt run (the chromium install in .ci/run, or a person) may hold the dpkg lock: wait for it.
  timeout 600 apt-get -o DPkg::Lock::Timeout=300 update -qq
  timeout 900 apt-get -o DPkg::Lock::Timeout=300 install -y -qq podman buildah runc debootstrap curl >/dev/null
fi
podman --version

echo "== base image"
base_image="$(sed -n 's/^ARG NODE_IMAGE=//p' Dockerfile | head -n 1)"
timeout 600 bash scripts/make-base-image.sh "$base_image" || die "base image $base_image"

echo "== build $IMAGE"
build_started=$(now_ms)
# --format docker: the OCI image config has no HEALTHCHECK field and podman would drop it.
if timeout 1200 podman build --pull=never --format docker -t "$IMAGE" . >"$log_dir/build.log" 2>&1; then
  pass "image builds ($(seconds_since "$build_started") s)"
else
  tail -n 40 "$log_dir/build.log" >&2
  die "image builds (log: $log_dir/build.log)"
fi
size_bytes="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
size_mb="$(awk -v b="$size_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')"
echo "image size: $size_mb MB ($size_bytes bytes, uncompressed; base $(podman image inspect --format '{{.Size}}' "$base_image" | awk '{ printf "%.0f", $1 / 1e6 }') MB)"
summary+=("image=${size_mb}MB")

image_user="$(podman image inspect --format '{{.Config.User}}' "$IMAGE")"
if [[ "$image_user" =~ ^[0-9]+(:[0-9]+)?$ && "${image_user%%:*}" != 0 ]]; then
  pass "image USER is a numeric non-root uid ($image_user)"
else
  fail "image USER is a numeric non-root uid (got '$image_user')"
fi
healthcheck_test="$(podman image inspect --format '{{json .Config.Healthcheck.Test}}' "$IMAGE" 2>/dev/null || true)"
if [[ "$healthcheck_test" == *'"CMD"'*healthcheck.js* ]]; then
  pass "image keeps the exec-form HEALTHCHECK ($healthcheck_test)"
else
  fail "image keeps the exec-form HEALTHCHECK (got '$healthcheck_test')"
fi

# The runtime stage is meant to hold production dependencies and the compiled output only.
dev_check="$(timeout 60 podman run --rm --no-healthcheck "$IMAGE" node -e '
  const fs = require("node:fs");
  const dev = Object.keys(require("/app/package.json").devDependencies ?? {});
  const present = dev.filter((name) => fs.existsSync(`/app/node_modules/${name}`));
  const out = ["/app/dist/server.js", "/app/dist/healthcheck.js"].filter((f) => !fs.existsSync(f));
  console.log(JSON.stringify({ present, out, src: fs.existsSync("/app/src") }));' 2>/dev/null || true)"
if [[ "$dev_check" == '{"present":[],"out":[],"src":false}' ]]; then
  pass "runtime image: dist/ present, no src/, none of the devDependencies installed"
else
  fail "runtime image: compiled output and production dependencies only (got '$dev_check')"
fi

free_port() {
  node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}

# Polls /healthz until it answers 200 or the bound passes; prints the seconds it took.
wait_healthy() {
  local port=$1 started=$2 deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    if curl -fsS --max-time 2 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
      seconds_since "$started"
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# Starts a container, waits for /healthz, then checks the answers; $1 is a label, the rest go to podman run.
run_and_probe() {
  local label=$1
  shift
  local name port started healthy_after
  name="gradient-container-test-$label-$$"
  port="$(free_port)"
  containers+=("$name")
  started=$(now_ms)
  # stderr to a log: without systemd, podman complains on every run that it cannot set up the healthcheck
  # timer (harmless: the test runs the healthcheck by hand).
  timeout 60 podman run -d --name "$name" -p "127.0.0.1:$port:8080" "$@" "$IMAGE" \
    >/dev/null 2>"$log_dir/run-$label.log" || {
    cat "$log_dir/run-$label.log" >&2
    die "[$label] container starts"
  }
  if healthy_after="$(wait_healthy "$port" "$started")"; then
    pass "[$label] /healthz answers 200 ($healthy_after s after podman run)"
  else
    timeout 30 podman logs --tail 40 "$name" >&2 || true
    die "[$label] /healthz answers within 30 s"
  fi
  probe_port=$port
  probe_name=$name
  probe_healthy_after=$healthy_after

  local body
  body="$(curl -sS --max-time 5 "http://127.0.0.1:$port/healthz")"
  if node -e 'const b = JSON.parse(process.argv[1]); process.exit(b.status === "ok" ? 0 : 1)' "$body"; then
    pass "[$label] /healthz body is {\"status\":\"ok\"}"
  else
    fail "[$label] /healthz body (got $body)"
  fi

  # sigmoid(0) = 1/2 exactly; sigmoid(2) = 1/(1+e^-2); sigmoid(-1000) underflows to 0 without NaN.
  body="$(curl -sS --max-time 5 -H 'content-type: application/json' -d '{"z":[0,2,-1000]}' \
    "http://127.0.0.1:$port/v1/activations/sigmoid/forward" || true)"
  if node -e '
    const { a } = JSON.parse(process.argv[1]);
    const want = [0.5, 1 / (1 + Math.exp(-2)), 0];
    const ok = Array.isArray(a) && a.length === 3 && a.every((v, i) => Math.abs(v - want[i]) <= 1e-15);
    process.exit(ok ? 0 : 1);' "$body" 2>/dev/null; then
    pass "[$label] POST sigmoid/forward {\"z\":[0,2,-1000]} -> $body"
  else
    fail "[$label] POST sigmoid/forward {\"z\":[0,2,-1000]} (got $body)"
  fi

  local uid
  uid="$(timeout 30 podman exec "$name" node -e 'console.log(process.getuid())' 2>/dev/null || true)"
  if [[ "$uid" =~ ^[0-9]+$ && "$uid" != 0 ]]; then
    pass "[$label] process runs as uid $uid inside the container"
  else
    fail "[$label] process runs as a non-root uid (podman exec said '$uid')"
  fi
  # From the host's side too: the pid-1 node process is not root there either (rootful podman, no userns).
  local host_pid host_uid
  host_pid="$(timeout 30 podman top "$name" hpid args | awk 'NR > 1 && /server\.js/ { print $1; exit }')"
  host_uid="$(awk '/^Uid:/ { print $2 }' "/proc/$host_pid/status" 2>/dev/null || true)"
  if [[ "$host_uid" =~ ^[0-9]+$ && "$host_uid" != 0 ]]; then
    pass "[$label] podman top: node dist/server.js is host pid $host_pid, uid $host_uid"
  else
    fail "[$label] podman top: the server runs as a non-root host uid (pid '$host_pid', uid '$host_uid')"
  fi

  if timeout 30 podman healthcheck run "$name" >"$log_dir/healthcheck-$label.log" 2>&1; then
    pass "[$label] podman healthcheck run passes (the image's HEALTHCHECK, by hand: no systemd timers here)"
  else
    fail "[$label] podman healthcheck run ($(cat "$log_dir/healthcheck-$label.log"))"
  fi
}

# podman stop sends the image's stop signal (SIGTERM) and waits up to -t seconds before SIGKILL.
# After SIGTERM the server keeps its listener open for SHUTDOWN_DELAY_MS (default 5 s: balancers see /readyz
# turn 503 first), so every bound below starts from that delay.
shutdown_delay_s=5
# $3: most seconds the stop may take beyond the delay (default 5; under load in-flight requests finish first,
# so more: the exit code tells a drain from a kill).
stop_and_check() {
  local label=$1 name=$2 max_seconds=$((shutdown_delay_s + ${3:-5})) started stop_seconds exit_code
  started=$(now_ms)
  timeout 60 podman stop -t 30 "$name" >/dev/null 2>"$log_dir/stop-$label.log" || {
    cat "$log_dir/stop-$label.log" >&2
    fail "[$label] podman stop returns"
  }
  stop_seconds="$(seconds_since "$started")"
  exit_code="$(podman inspect --format '{{.State.ExitCode}}' "$name")"
  # 0: node handled SIGTERM and exited by itself; 143 = 128+15: killed by SIGTERM itself. 137 is SIGKILL
  # after the 30 s grace: SIGTERM was ignored (node as PID 1 with no handler ignores it).
  if [[ "$exit_code" == 0 || "$exit_code" == 143 ]] && awk -v s="$stop_seconds" -v max="$max_seconds" 'BEGIN { exit !(s < max) }'; then
    pass "[$label] podman stop (SIGTERM) ends it in $stop_seconds s with exit code $exit_code"
  else
    timeout 30 podman logs --tail 20 "$name" >&2 || true
    fail "[$label] podman stop (SIGTERM) ends it cleanly within $max_seconds s (took $stop_seconds s, exit code $exit_code)"
  fi
  stop_summary="stop=${stop_seconds}s exit=$exit_code"
}

echo "== run (defaults)"
run_and_probe default
summary+=("healthy=${probe_healthy_after}s")

# podman stop while a load generator runs: 8 keep-alive connections of POSTs (every 10th one large enough for
# the worker pool) until the server is gone. Every request the server accepted (its "incoming request" log
# line, matched by x-request-id) must have been answered in full; the container must exit 0 by itself.
echo "== podman stop under load"
load_out="$log_dir/load.json"
rm -f "$load_out" "$log_dir/load.log"
node scripts/load-until-stopped.mjs "http://127.0.0.1:$probe_port" "$load_out" 60 >"$log_dir/load.log" 2>&1 &
load_pid=$!
flowing=0
for _ in $(seq 1 300); do
  if grep -q 'load: flowing' "$log_dir/load.log" 2>/dev/null; then
    flowing=1
    break
  fi
  kill -0 "$load_pid" 2>/dev/null || break
  sleep 0.1
done
if ((flowing)); then
  pass "[load] the load generator gets answers (50 x 200 before the stop)"
else
  cat "$log_dir/load.log" >&2 || true
  fail "[load] the load generator gets answers within 30 s"
fi
stop_and_check default "$probe_name" 10
summary+=("$stop_summary")
load_status=0
timeout 90 tail --pid="$load_pid" -f /dev/null || load_status=$?
wait "$load_pid" 2>/dev/null || load_status=$?
cat "$log_dir/load.log"
timeout 30 podman logs "$probe_name" >"$log_dir/server-under-load.log" 2>&1 || true
if [[ "$(podman inspect --format '{{.State.ExitCode}}' "$probe_name")" == 0 ]]; then
  pass "[load] the container exits 0 (node drained and exited by itself, not killed)"
else
  fail "[load] the container exits 0 (exit code $(podman inspect --format '{{.State.ExitCode}}' "$probe_name"))"
fi
if ((load_status == 0)) && load_verdict="$(node -e '
  const fs = require("node:fs");
  const results = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const accepted = new Set();
  for (const line of fs.readFileSync(process.argv[2], "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    const entry = JSON.parse(line);
    if (entry.msg === "incoming request" && typeof entry.requestId === "string") accepted.add(entry.requestId);
  }
  const lost = [];
  let answered = 0, refusedLater = 0, unavailable = 0;
  for (const r of results) {
    const wasAccepted = accepted.has(r.id);
    if (r.status === 200 && r.complete) answered++;
    else if (r.status === 503 && !r.error) unavailable++;
    else if (r.error && !wasAccepted) refusedLater++;
    else lost.push(r);
  }
  const summary = `${results.length} sent, ${answered} answered 200 in full, ${unavailable} answered 503 (full queue or stopping: retry), ` +
    `${refusedLater} refused before the server accepted them (listener closed), ${lost.length} lost`;
  if (lost.length || answered < 50) { console.log(`${summary}: ${JSON.stringify(lost.slice(0, 5))}`); process.exit(1); }
  console.log(summary);
' "$load_out" "$log_dir/server-under-load.log")"; then
  pass "[load] no request lost: $load_verdict"
  summary+=("load-stop=no-loss")
else
  fail "[load] no request lost (${load_verdict:-load generator exit $load_status}; logs: $log_dir/load.log, $log_dir/server-under-load.log)"
fi

echo "== run (read-only root, no tmpfs, all capabilities dropped, no-new-privileges, as in deploy/k8s)"
run_and_probe read-only --read-only --read-only-tmpfs=false --cap-drop=ALL \
  --security-opt=no-new-privileges --user 1000:1000
summary+=("read-only-healthy=${probe_healthy_after}s")
stop_and_check read-only "$probe_name"

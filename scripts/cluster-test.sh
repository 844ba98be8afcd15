#!/usr/bin/env bash
# The service as it is deployed: three containers of the image at the manifest's limits (deploy/k8s:
# --cpus=1, --memory=512m and its env) behind Debian's HAProxy (deploy/haproxy/haproxy.cfg, health-checking
# /readyz), with mixed load through the client package (scripts/cluster-load.ts) for at least 60 s:
#   - a rolling restart (podman stop each replica in turn, start it again), each stop while three slow
#     readers (~1.6 MB/s) hold ~23 MB answers, then a SIGKILL of the replica serving most slow readers;
#   - then the memory test: 16 concurrent 1e6-number JSON and 16 binary calls to one replica at 512 MiB.
# Goals: zero failed client calls, every answer complete (slow readers too, except those the SIGKILLed
# replica was serving: they are cut by design and reported apart), zero OOM kills (the kernel log and the
# containers' cgroup counters: podman's OOMKilled reads false on this host even after a kill), every refusal
# of the service a 503 with Retry-After, every replica ready afterwards. Prints a summary table; exits
# non-zero when a goal is missed. Runs after scripts/container-test.sh in .ci/run (it reuses its image);
# runnable by hand as root. All traffic on 127.0.0.1; every wait bounded.
set -euo pipefail
cd "$(dirname "$0")/.."

script_started=$SECONDS
IMAGE="${IMAGE:-localhost/gradient-service:container-test}"
# The load runs until the restart and kill phases are over (at least MIN_LOAD_SECONDS) or MAX_LOAD_SECONDS.
MIN_LOAD_SECONDS="${MIN_LOAD_SECONDS:-60}"
MAX_LOAD_SECONDS="${MAX_LOAD_SECONDS:-180}"
export CONTAINERS_CONF="$PWD/scripts/podman/containers.conf"
out="$PWD/.tmp/cluster-test"
rm -rf "$out"
mkdir -p "$out"

containers=()
haproxy_pid=""
failures=()
rows=()

cleanup() {
  local c
  [[ -n "$haproxy_pid" ]] && kill "$haproxy_pid" 2>/dev/null || true
  for c in "${containers[@]}"; do timeout 30 podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

row() { rows+=("$(printf '%-58s %-12s %s' "$1" "$2" "$3")"); }
check() { # check LABEL VALUE GOAL(=VALUE wanted) [DETAIL]
  if [[ "$2" == "$3" ]]; then row "$1" "$2" "ok${4:+ ($4)}"; else
    row "$1" "$2" "FAIL: want $3${4:+ ($4)}"
    failures+=("$1")
  fi
}

echo "== tools"
missing=()
for tool in podman runc haproxy curl; do command -v "$tool" >/dev/null 2>&1 || missing+=("$tool"); done
if ((${#missing[@]} > 0)); then
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get -o DPkg::Lock::Timeout=300 update -qq
  timeout 900 apt-get -o DPkg::Lock::Timeout=300 install -y -qq podman runc haproxy curl >/dev/null
fi
haproxy -v | sed -n 1p

if ! podman image exists "$IMAGE"; then
  echo "== image $IMAGE (not built yet: building)"
  timeout 600 bash scripts/make-base-image.sh
  timeout 1200 podman build --pull=never --format docker -t "$IMAGE" . >"$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log" >&2
    exit 1
  }
fi

# The manifest's env and limits, read from deploy/k8s/deployment.yaml (the yaml package is a dev dependency).
manifest="$(node --input-type=module -e '
  import { readFileSync } from "node:fs";
  import { parseAllDocuments } from "yaml";
  const docs = parseAllDocuments(readFileSync("deploy/k8s/deployment.yaml", "utf8")).map((d) => d.toJS());
  const c = docs.find((d) => d?.kind === "Deployment").spec.template.spec.containers[0];
  const env = (c.env ?? []).map((e) => `-e ${e.name}=${e.value}`).join(" ");
  console.log(`${c.resources.limits.cpu}|${c.resources.limits.memory.replace(/Mi$/, "m")}|${env}`);
')"
IFS='|' read -r cpus memory manifest_env <<<"$manifest"
# The manifest's SHUTDOWN_DELAY_MS is 0 because its preStop sleep does the waiting; HAProxy has no preStop,
# so the server's own delay stands in for it.
read -r -a env_args <<<"$manifest_env"
env_args+=(-e SHUTDOWN_DELAY_MS=5000)
echo "replicas: --cpus=$cpus --memory=$memory ${env_args[*]}"

free_port() {
  node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}
ready() { curl -fsS --max-time 2 "http://127.0.0.1:$1/readyz" >/dev/null 2>&1; }
wait_ready() {
  local deadline=$((SECONDS + 60))
  until ready "$1"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# OOM kills: the kernel log's count, and each container's cgroup counter (v1 memory.oom_control, v2
# memory.events), read through the container's PID.
# One "Killed process" line per kill (the kill also logs "invoked oom-killer" and "oom-kill:" lines).
kernel_ooms() { dmesg 2>/dev/null | grep -ci 'killed process' || true; }
cgroup_ooms() {
  local pid path
  pid="$(podman inspect --format '{{.State.Pid}}' "$1" 2>/dev/null || echo 0)"
  [[ "$pid" != 0 ]] || { echo 0; return; }
  path="$(sed -n 's/^[0-9]*:memory:\(.*\)$/\1/p' "/proc/$pid/cgroup")"
  if [[ -n "$path" && -f "/sys/fs/cgroup/memory$path/memory.oom_control" ]]; then
    sed -n 's/^oom_kill //p' "/sys/fs/cgroup/memory$path/memory.oom_control"
  else
    path="$(sed -n 's/^0::\(.*\)$/\1/p' "/proc/$pid/cgroup")"
    sed -n 's/^oom_kill //p' "/sys/fs/cgroup$path/memory.events" 2>/dev/null || echo 0
  fi
}
ooms_before="$(kernel_ooms)"

echo "== three replicas and HAProxy"
ports=()
for i in 1 2 3; do
  name="gs-cluster-r$i-$$"
  port="$(free_port)"
  containers+=("$name")
  ports+=("$port")
  timeout 60 podman run -d --name "$name" --cpus="$cpus" --memory="$memory" --memory-swap="$memory" \
    -p "127.0.0.1:$port:8080" "${env_args[@]}" "$IMAGE" >/dev/null 2>"$out/run-r$i.log"
done
for port in "${ports[@]}"; do wait_ready "$port" || { echo "a replica did not get ready" >&2; exit 1; }; done
podman logs "${containers[0]}" 2>/dev/null | grep -m 1 "\"msg\":\"resources\"" | tee "$out/resources.json" || true
front="$(free_port)"
one="$(free_port)"
GS_FRONT="127.0.0.1:$front" GS_ONE="127.0.0.1:$one" GS_R1="127.0.0.1:${ports[0]}" GS_R2="127.0.0.1:${ports[1]}" \
  GS_R3="127.0.0.1:${ports[2]}" haproxy -db -f deploy/haproxy/haproxy.cfg >"$out/haproxy.log" 2>&1 &
haproxy_pid=$!
deadline=$((SECONDS + 30))
until ready "$front"; do
  ((SECONDS < deadline)) || { echo "HAProxy did not answer" >&2; exit 1; }
  sleep 0.2
done
sleep 3 # every server through `rise 2` of its checks
base="http://127.0.0.1:$front"

echo "== mixed load through the client; rolling restart and SIGKILL under slow readers"
load_started=$SECONDS
npx tsx scripts/cluster-load.ts load "$base" "$MAX_LOAD_SECONDS" "$out/load.json" >"$out/load.log" 2>&1 &
load_pid=$!
sleep 5

# Which replica serves most of the slow readers that arrived in the last few seconds (its request log).
busiest() {
  local i best=0 most=-1 n
  for i in 0 1 2; do
    n="$(podman logs --since 4s "${containers[$i]}" 2>/dev/null | grep -c 'softmax/jacobian' || true)"
    if ((n > most)); then most=$n; best=$i; fi
  done
  echo "$best"
}

# Rolling restart: before each stop, three slow readers, so that the stop lands while answers are read.
stop_codes=()
for i in 0 1 2; do
  npx tsx scripts/cluster-load.ts slow "$base" 3 "$out/slow-restart-r$((i + 1)).json" >"$out/slow-restart-r$((i + 1)).log" 2>&1 &
  slow_pids[$i]=$!
  sleep 3
  started=$SECONDS
  timeout 60 podman stop -t 40 "${containers[$i]}" >/dev/null 2>>"$out/podman.log"
  stop_codes+=("$(podman inspect --format '{{.State.ExitCode}}' "${containers[$i]}")")
  echo "stopped r$((i + 1)) in $((SECONDS - started)) s (exit ${stop_codes[-1]})"
  timeout 60 podman start "${containers[$i]}" >/dev/null 2>>"$out/podman.log"
  wait_ready "${ports[$i]}" || { echo "r$((i + 1)) did not get ready again" >&2; exit 1; }
  sleep 3 # HAProxy's rise 2
done
for pid in "${slow_pids[@]}"; do timeout 120 tail --pid="$pid" -f /dev/null || true; done
node -e '
  const fs = require("node:fs");
  const readers = [1, 2, 3].flatMap((i) => JSON.parse(fs.readFileSync(`${process.argv[1]}/slow-restart-r${i}.json`, "utf8")).readers);
  fs.writeFileSync(`${process.argv[1]}/slow-restart.json`, JSON.stringify({ readers }));
' "$out" || true

# SIGKILL the replica serving most slow readers while they read.
npx tsx scripts/cluster-load.ts slow "$base" 6 "$out/slow-kill.json" >"$out/slow-kill.log" 2>&1 &
slow_pid=$!
sleep 3
victim="$(busiest)"
timeout 30 podman kill -s KILL "${containers[$victim]}" >/dev/null 2>>"$out/podman.log"
echo "SIGKILLed r$((victim + 1))"
timeout 120 tail --pid="$slow_pid" -f /dev/null || true
timeout 60 podman start "${containers[$victim]}" >/dev/null 2>>"$out/podman.log"
wait_ready "${ports[$victim]}" || { echo "r$((victim + 1)) did not get ready again" >&2; exit 1; }
sleep 3
while ((SECONDS - load_started < MIN_LOAD_SECONDS)); do sleep 1; done
touch "$out/load.json.stop"
timeout 180 tail --pid="$load_pid" -f /dev/null || true
tail -n 1 "$out/load.log"

echo "== memory: 16 concurrent 1e6-number JSON and 16 binary calls to one replica at $memory"
npx tsx scripts/cluster-load.ts memory "http://127.0.0.1:$one" "$out/memory.json" >"$out/memory.log" 2>&1 || true
tail -n 1 "$out/memory.log"
memory_ooms="$(cgroup_ooms "${containers[0]}")"
running="$(podman inspect --format '{{.State.Running}}' "${containers[0]}")"

# Every replica's log, for the refusals each answered.
for c in "${containers[@]}"; do podman logs "$c" >"$out/$c.log" 2>&1 || true; done

echo "== summary"
summary="$(node --input-type=module -e '
  import { readFileSync } from "node:fs";
  const dir = process.argv[1];
  const read = (f) => { try { return JSON.parse(readFileSync(`${dir}/${f}`, "utf8")); } catch { return undefined; } };
  const load = read("load.json") ?? { counts: {}, failures: {} };
  const sum = (k) => Object.values(load.counts).reduce((n, c) => n + c[k], 0);
  const restart = read("slow-restart.json")?.readers ?? [];
  const kill = read("slow-kill.json")?.readers ?? [];
  const memory = read("memory.json") ?? { json: { ok: 0, failed: 16 }, binary: { ok: 0, failed: 16 } };
  // HAProxy: status, server, retry-after per request; the service refusals are 503s from a server.
  const lines = readFileSync(`${dir}/haproxy.log`, "utf8").split("\n").filter((l) => / retry-after=/.test(l));
  const parsed = lines.map((l) => { const m = / (-1|\d{3}) \S+\/(\S+) .* retry-after=(\S*) /.exec(l); return m && { status: +m[1], server: m[2], retryAfter: m[3] }; }).filter(Boolean);
  // 502 (and -1, a cut answer) always come from HAProxy itself; a 504 may be either (the service
  // computation-timeout, or the HAProxy server timeout): counted with the proxy errors.
  const fromService = parsed.filter((p) => p.server !== "<NOSRV>" && (p.status === 500 || p.status === 503));
  const refusals = fromService.filter((p) => p.status === 503);
  const proxyErrors = parsed.filter((p) => p.status === 502 || p.status === 504 || p.status === -1 || p.server === "<NOSRV>");
  const victim = `r${Number(process.argv[2]) + 1}`;
  const killed = kill.filter((r) => r.servedBy === victim);
  console.log([
    sum("ok") + sum("failed") + sum("incomplete"), sum("failed"), sum("incomplete"), JSON.stringify(load.failures),
    JSON.stringify(load.counts),
    restart.length, restart.filter((r) => r.complete).length,
    kill.length - killed.length, kill.filter((r) => r.servedBy !== victim && r.complete).length, killed.length,
    memory.json.ok, memory.json.failed, memory.binary.ok, memory.binary.failed, JSON.stringify(memory.errors ?? {}),
    refusals.length, refusals.filter((p) => p.retryAfter !== "-" && p.retryAfter !== "").length,
    fromService.filter((p) => p.status !== 503).length, proxyErrors.length,
  ].join("|"));
' "$out" "$victim")"
IFS='|' read -r calls failed incomplete failure_kinds counts restart_n restart_ok kill_n kill_ok kill_cut \
  mem_json_ok mem_json_failed mem_bin_ok mem_bin_failed mem_errors refusals refusals_ra other_5xx proxy_5xx <<<"$summary"
ooms_after="$(kernel_ooms)"
healthy=0
for port in "${ports[@]}"; do ready "$port" && healthy=$((healthy + 1)); done

row "case" "figure" "goal"
row "client calls through HAProxy, by kind" "$calls" "$counts"
check "client calls failed" "$failed" 0 "kinds: $failure_kinds"
check "client answers incomplete or wrong" "$incomplete" 0
check "rolling restart: podman stop exit codes" "${stop_codes[*]}" "0 0 0"
check "rolling restart: slow readers (~20 MB) complete" "$restart_ok/$restart_n" "$restart_n/$restart_n"
check "SIGKILL: slow readers on the other replicas complete" "$kill_ok/$kill_n" "$kill_n/$kill_n" "$kill_cut on r$((victim + 1)), cut by the kill"
check "memory: 1e6-number JSON calls complete" "$mem_json_ok/16" "16/16" "$mem_errors"
check "memory: 1e6-number binary calls complete" "$mem_bin_ok/16" "16/16"
check "memory: replica still running, its cgroup OOM kills" "$running/$memory_ooms" "true/0"
check "OOM kills in the kernel log" "$((ooms_after - ooms_before))" 0
check "service refusals (503) with Retry-After" "$refusals_ra/$refusals" "$refusals/$refusals"
check "500s from the service" "$other_5xx" 0
row "proxy 5xx or cut answers (502, 504, no server, -1)" "$proxy_5xx" "- (the client retries them)"
check "replicas ready afterwards" "$healthy/3" "3/3"
printf '%s\n' "${rows[@]}"
echo "== cluster test took $((SECONDS - script_started)) s"
if ((${#failures[@]} > 0)); then
  echo "cluster-test: FAIL (${failures[*]})" >&2
  exit 1
fi
echo "cluster-test: PASS"

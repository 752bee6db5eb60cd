#!/usr/bin/env bash
# One solo chain grown in batches against the same node, as issue 7's growth bar measures it
# (ten batches of 100,000 transfers): each batch's throughput, latency, bytes written and the
# node's CPU and memory.
#
#   bench/growth.sh BATCHES TRANSACTIONS PORT [RESTART_BEFORE] [REPOSITORY]
#
# Creates a fresh solo network (intl, P-256) in a temporary folder, starts its node on PORT (gRPC)
# and PORT+1 (HTTP), and runs `causeway bench --workload ledger-transfer --transactions
# TRANSACTIONS` BATCHES times against it. RESTART_BEFORE (a batch number; 0, the default, for
# none) restarts the node on its store before that batch: what a restart gives back is the share
# of the fall that is the process's state rather than the store's size. REPOSITORY (default:
# this one) picks the checkout whose .venv runs; CAUSEWAY, if set, is the command to run instead.
# NODE_ENVIRONMENT, if set, is NAME=VALUE words given to the node process alone (for example
# "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 PYTHONMALLOC=malloc").
# TMPDIR picks where the network's folder (and so the node's store) is made: TMPDIR=/dev/shm
# keeps the store in memory, to tell what the disk costs from what the process does.
#
# One line per batch: throughput, p50 and p99 latency, transactions committed, the throughput
# against the machine's signature verification rate measured in the same run, bytes written per
# committed transaction by the node (its write_bytes) and by the disk (the bench's figures), the
# node's CPU time (user + system) per 1,000 committed transactions and its anonymous memory at
# the end; then the last batch's throughput against the first's, as measured and as a share of
# the verify rate measured just before each batch. Run it on a quiet machine: the disk's figure
# counts every process's writes.
set -euo pipefail
batches=$1
transactions=$2
port=$3
restart_before=${4:-0}
repository=${5:-$(cd "$(dirname "$0")/.." && pwd)}
read -r -a causeway <<<"${CAUSEWAY:-$repository/.venv/bin/causeway}"
folder=$(mktemp -d)
network="$folder/net"
node=""
stop_node() {
  if [[ -n "$node" ]]; then kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; fi
  node=""
}
trap 'stop_node; [[ -n "${KEEP:-}" ]] || rm -rf "$folder"' EXIT
start_node() {
  env ${NODE_ENVIRONMENT:-} "${causeway[@]}" node start --home "$home" >>"$folder/node.log" 2>&1 &
  node=$!
  for _ in $(seq 300); do
    if "${causeway[@]}" status --node "127.0.0.1:$port" >/dev/null 2>&1; then return; fi
    kill -0 "$node" 2>/dev/null || { cat "$folder/node.log" >&2; exit 1; }
    sleep 0.2
  done
  echo "the node did not answer on 127.0.0.1:$port" >&2
  exit 1
}
"${causeway[@]}" init "$network" --orgs 2 --crypto intl --consensus solo >/dev/null
home="$network/nodes/node1"
sed -i "s/^grpc_address = .*/grpc_address = \"127.0.0.1:$port\"/" "$home/config.toml"
sed -i "s/^http_address = .*/http_address = \"127.0.0.1:$((port + 1))\"/" "$home/config.toml"
start_node
ticks_per_s=$(getconf CLK_TCK)
for batch in $(seq "$batches"); do
  if [[ "$batch" == "$restart_before" ]]; then
    stop_node
    start_node
    echo "restarted the node before batch $batch"
  fi
  cpu_before=$(awk '{print $14 + $15}' "/proc/$node/stat")
  "${causeway[@]}" bench --network "$network" --node "127.0.0.1:$port" \
    --workload ledger-transfer --transactions "$transactions" --json \
    --out "$folder/batch-$batch.json" >/dev/null
  cpu_after=$(awk '{print $14 + $15}' "/proc/$node/stat")
  anonymous_kib=$(awk '/^RssAnon:/ {print $2}' "/proc/$node/status")
  python3 - "$folder/batch-$batch.json" "$batch" "$((cpu_after - cpu_before))" \
    "$ticks_per_s" "$anonymous_kib" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1]))
batch, cpu_ticks, ticks_per_s, anonymous_kib = (int(value) for value in sys.argv[2:6])
committed = report["committed"]
latency = report["latency"]
verify_ratio = report["throughput_to_verify_rate"]
ratio = "-" if verify_ratio is None else f"{verify_ratio:.2f}"


def per_transaction(name: str) -> str:
    value = report[name]
    return "-" if value is None else f"{value:,.0f}"


print(
    f"batch {batch}: {report['throughput_tps']:,.0f} tx/s, p50 {latency['p50_s']:.2f} s, "
    f"p99 {latency['p99_s']:.2f} s, committed {committed}, {ratio} of the verify rate; "
    "written per tx "
    f"{per_transaction('bytes_written_per_committed_transaction')} B (node), "
    f"{per_transaction('device_bytes_written_per_committed_transaction')} B (disk); "
    f"node CPU {1000 * cpu_ticks / ticks_per_s / committed * 1000:.0f} ms per 1,000 tx; "
    f"anonymous memory {anonymous_kib / 1024:,.0f} MiB"
)
PY
done
python3 - "$folder" "$batches" <<'PY'
import json
import sys
from pathlib import Path

reports = [json.loads((Path(sys.argv[1]) / f"batch-{n}.json").read_text()) for n in (1, int(sys.argv[2]))]
first, last = (report["throughput_tps"] for report in reports)
# The same against the verify rate measured just before each batch: the machine's own speed at
# that moment, which on a shared machine can move more than the chain's growth does.
first_ratio, last_ratio = (report["throughput_to_verify_rate"] for report in reports)
against_verify_rate = (
    "-"
    if first_ratio is None or last_ratio is None
    else f"{100 * (last_ratio - first_ratio) / first_ratio:+.1f}%"
)
print(
    f"last batch against the first: {100 * (last - first) / first:+.1f}%; "
    f"as a share of each batch's verify rate: {against_verify_rate}"
)
PY

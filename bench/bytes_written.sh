#!/usr/bin/env bash
# Bytes a solo node writes to storage per committed transaction, from its own I/O counters.
#
#   bench/bytes_written.sh TRANSACTIONS PORT [BLOCK_TRANSACTIONS_MAX] [REPOSITORY]
#
# Creates a fresh solo network (intl, P-256) in a temporary folder, starts its node on PORT (gRPC)
# and PORT+1 (HTTP), runs `causeway bench --workload ledger-transfer`, and prints the node's
# write_bytes (/proc/PID/io) over the run divided by the transactions committed.
# BLOCK_TRANSACTIONS_MAX fixes the block size in the genesis: the bytes a commit writes depend on
# how many transactions share its page writes, so two builds are compared at the same block size.
# REPOSITORY (default: this one) lets the same script measure another checkout with its own .venv.
set -euo pipefail
transactions=$1
port=$2
block_transactions_max=${3:-}
repository=${4:-$(cd "$(dirname "$0")/.." && pwd)}
causeway="$repository/.venv/bin/causeway"
network=$(mktemp -d)/net
node=""
cleanup() {
  if [[ -n "$node" ]]; then kill "$node" 2>/dev/null || true; wait "$node" 2>/dev/null || true; fi
  rm -rf "$(dirname "$network")"
}
trap cleanup EXIT
"$causeway" init "$network" --orgs 2 --crypto intl --consensus solo >/dev/null
home="$network/nodes/node1"
sed -i "s/^grpc_address = .*/grpc_address = \"127.0.0.1:$port\"/" "$home/config.toml"
sed -i "s/^http_address = .*/http_address = \"127.0.0.1:$((port + 1))\"/" "$home/config.toml"
if [[ -n "$block_transactions_max" ]]; then
  sed -i "s/\"block_transactions_max\": [0-9]*/\"block_transactions_max\": $block_transactions_max/" \
    "$home/genesis.json"
fi
"$causeway" node start --home "$home" >"$network/node.log" 2>&1 &
node=$!
for _ in $(seq 150); do
  (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.2
done
before=$(awk '/^write_bytes/ {print $2}' "/proc/$node/io")
"$causeway" bench --network "$network" --node "127.0.0.1:$port" --workload ledger-transfer \
  --transactions "$transactions" --json --out "$network/bench.json" >/dev/null
after=$(awk '/^write_bytes/ {print $2}' "/proc/$node/io")
python3 - "$network/bench.json" "$before" "$after" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1]))
written = int(sys.argv[3]) - int(sys.argv[2])
committed = report["succeeded"]
print(
    f"committed {committed} transactions at {report['throughput_tps']:.0f}/s; node wrote "
    f"{written:,} bytes, {written / committed:,.0f} per committed transaction"
)
PY

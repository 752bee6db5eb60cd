#!/usr/bin/env bash
# `make demo`: a two-organisation chain, a node, a batch of transactions, a block and a verified proof.
set -euo pipefail
NETWORK=${NETWORK:-demo-network}
BIN=${BIN:-.venv/bin}
causeway="$BIN/causeway"
node_home="$NETWORK/nodes/node1"
client="$NETWORK/organisations/org1/members/client"

if [ -f "$NETWORK/node1.pid" ] && kill -0 "$(cat "$NETWORK/node1.pid")" 2>/dev/null; then
  echo "A demo node is already running (PID $(cat "$NETWORK/node1.pid")); stop it with: make stop"
  exit 1
fi

echo "==> causeway init $NETWORK --orgs 2 --crypto intl --consensus solo"
"$causeway" init "$NETWORK" --orgs 2 --crypto intl --consensus solo --force

echo "==> causeway node start --home $node_home   (logs: $NETWORK/node1.log)"
nohup "$causeway" node start --home "$node_home" >"$NETWORK/node1.log" 2>&1 &
echo $! >"$NETWORK/node1.pid"
for _ in $(seq 1 100); do
  "$causeway" status --node 127.0.0.1:7050 --json >/dev/null 2>&1 && break
  sleep 0.2
done
"$causeway" status --node 127.0.0.1:7050

echo "==> causeway tx send: kv put greeting=hello"
"$causeway" tx send --identity "$client" --node 127.0.0.1:7050 \
  --contract kv --method put --args '{"key": "greeting", "value": "hello"}'

echo "==> causeway bench: a batch of 2,000 signed ledger transfers"
"$causeway" bench --workload ledger-transfer --transactions 2000 --network "$NETWORK" \
  --node 127.0.0.1:7050

echo "==> causeway block get latest   (first rows; the whole block is in $NETWORK/latest-block.txt)"
COLUMNS=${COLUMNS:-120} "$causeway" block get latest --node 127.0.0.1:7050 --identity "$client" \
  >"$NETWORK/latest-block.txt"
head -n 24 "$NETWORK/latest-block.txt"

echo "==> causeway state get --kv greeting --proof, then verified offline"
"$causeway" state get --kv greeting --proof --out "$NETWORK/greeting-proof.json" \
  --node 127.0.0.1:7050 --identity "$client"
"$causeway" proof verify "$NETWORK/greeting-proof.json"

echo
echo "The node is still running (PID $(cat "$NETWORK/node1.pid"), HTTP on 127.0.0.1:8050,"
echo "metrics at http://127.0.0.1:8050/metrics). Stop it with: make stop"

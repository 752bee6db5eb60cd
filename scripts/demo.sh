#!/usr/bin/env bash
# `make demo`: four validators (tbft) run by four organisations, as separate processes on loopback;
# a transaction, a batch of transfers, a block and a state proof verified offline.
set -euo pipefail
NETWORK=${NETWORK:-demo-network}
BIN=${BIN:-.venv/bin}
causeway="$BIN/causeway"
client="$NETWORK/organisations/org1/members/client"

echo "==> causeway devnet up --validators 4 --consensus tbft --dir $NETWORK"
"$causeway" devnet up --validators 4 --consensus tbft --dir "$NETWORK"

echo "==> causeway tx send: kv put greeting=hello (to node1)"
"$causeway" tx send --identity "$client" --node 127.0.0.1:7050 \
  --contract kv --method put --args '{"key": "greeting", "value": "hello"}'

echo "==> causeway bench: 2,000 signed ledger transfers"
"$causeway" bench --workload ledger-transfer --transactions 2000 --network "$NETWORK" \
  --node 127.0.0.1:7050

echo "==> causeway block get latest from node3   (first rows; all of it in $NETWORK/latest-block.txt)"
COLUMNS=${COLUMNS:-120} "$causeway" block get latest --node 127.0.0.1:7052 --identity "$client" \
  >"$NETWORK/latest-block.txt"
head -n 24 "$NETWORK/latest-block.txt"

echo "==> causeway state get --kv greeting --proof from node4, then verified offline"
"$causeway" state get --kv greeting --proof --out "$NETWORK/greeting-proof.json" \
  --node 127.0.0.1:7053 --identity "$client"
"$causeway" proof verify "$NETWORK/greeting-proof.json" --genesis "$NETWORK/genesis.json"

"$causeway" devnet status --dir "$NETWORK"
echo
echo "The four validators keep running (logs in $NETWORK/nodes/*/node.log; HTTP and metrics on"
echo "127.0.0.1:8050-8053). Stop them with: make stop"

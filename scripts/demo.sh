#!/usr/bin/env bash
# `make demo`: three chains on this machine, each run by its own organisations as separate
# processes on loopback, joined through a hub; a cross-chain transfer shown step by step.
#   hub      tbft, 4 validators, intl (ECDSA P-256, SHA-256)
#   chain-a  tbft, 4 validators, intl
#   chain-b  raft, 3 validators, gm (SM2, SM3)
# and a relayer carrying packets on the links hub <-> chain-a and hub <-> chain-b; then two atomic
# cross-chain transactions over chain-a and chain-b (one commits, one aborts and moves nothing);
# then a user contract (the token template, built with `make toolchains`' compiler) deployed on
# chain-a.
set -euo pipefail
NETWORK=${NETWORK:-demo-network}
BIN=${BIN:-.venv/bin}
causeway="$BIN/causeway"

# The manifest's ports (from 7200) unless PORT_BASE moves them: `make demo PORT_BASE=24000`.
# `devnet up` refuses ports another process holds, naming them, before it starts a node.
port_base=()
if [[ -n "${PORT_BASE:-}" ]]; then
  port_base=(--port-base "$PORT_BASE")
fi

echo "==> causeway devnet up --manifest examples/devnet-three-chains.toml --dir $NETWORK ${port_base[*]}"
"$causeway" devnet up --manifest examples/devnet-three-chains.toml --dir "$NETWORK" "${port_base[@]}"

echo
echo "==> a transfer from chain-a to chain-b through the hub (scripts/demo_transfer.py)"
"$BIN/python" scripts/demo_transfer.py "$NETWORK"

echo
echo "==> atomic transactions across chain-a and chain-b through the hub: one commits, one aborts (scripts/demo_atomic.py)"
"$BIN/python" scripts/demo_atomic.py "$NETWORK"

echo
echo "==> a user contract on chain-a: the token template built, deployed and used (scripts/demo_contract.py)"
"$BIN/python" scripts/demo_contract.py "$NETWORK"

echo
"$causeway" devnet status --dir "$NETWORK"
echo
echo "The chains and the relayer keep running (logs in $NETWORK/chains/*/nodes/*/node.log and"
echo "$NETWORK/relayers/*.log; the ports are in \`causeway devnet status --dir $NETWORK\`). Stop them with: make stop"

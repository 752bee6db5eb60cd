#!/usr/bin/env bash
# `make directory-demo`: the government data directory on chains of its own (examples/
# devnet-directory.toml: a hub, the city chain "beijing" with 41 organisations, the district
# chains "haidian" and "chaoyang"), the directory contract deployed and loaded with a generated
# catalogue, the districts rolled up into the city's directory, and the directory service with
# its web interface, left running (stop it all with `make stop NETWORK=directory-network`).
set -euo pipefail
NETWORK=${NETWORK:-directory-network}
BIN=${BIN:-.venv/bin}
LISTEN=${LISTEN:-127.0.0.1:7390}
causeway="$BIN/causeway"

port_base=()
if [[ -n "${PORT_BASE:-}" ]]; then
  port_base=(--port-base "$PORT_BASE")
fi

echo "==> causeway devnet up --manifest examples/devnet-directory.toml --dir $NETWORK ${port_base[*]}"
"$causeway" devnet up --manifest examples/devnet-directory.toml --dir "$NETWORK" "${port_base[@]}"

echo
echo "==> the directory (scripts/demo_directory.py)"
"$BIN/python" scripts/demo_directory.py "$NETWORK" --listen "$LISTEN"

echo
"$causeway" devnet status --dir "$NETWORK"
echo
echo "Everything keeps running. Stop it with: make stop NETWORK=$NETWORK"

#!/usr/bin/env bash
# The test suite (pytest -W error) as two workers at once, for `make test` and CI:
#
# - worker 1 runs everything that starts no node process (not marked e2e: CPU in one process,
#   mostly), then takes end-to-end units from the queue;
# - worker 2 takes end-to-end units (the tests that start node processes) from the queue from
#   the start.
#
# An end-to-end unit is one file of tests/e2e, or one other folder's e2e tests (they share
# session fixtures there: the explorer's browser and nodes). Each unit is its own pytest run,
# taken by whichever worker is free, longest first (HEAVY_UNITS, measured on the 2-core CI
# machine), so that the two cores stay busy to the end: with the end-to-end tests one after
# another beside the rest, they alone took longer than the rest and CI's 20 minutes were nearly
# spent. At most two pytest processes run at once, as before (the timing of elections, catch-up
# and relay rounds depends on the load).
#
# Worker 1's output comes as it runs, the end-to-end units' at the end, each under its name; the
# exit status is non-zero when any run failed. Arguments narrow every run (a -k, a path).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
# Bytecode is written and kept, whatever the environment says (PYTHONDONTWRITEBYTECODE): without
# it every pytest run compiles again each test module it collects (the whole suite's collection
# took 18 s against 5 s with the bytecode kept), and every node and CLI process the tests start
# compiles again the package's modules it imports (0.4 s of CPU for `causeway devnet status`).
# The package is compiled once here, before two workers could both compile a module.
unset PYTHONDONTWRITEBYTECODE
"$BIN/python" -m compileall -q src
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# Longest first (as a CI run on 2026-12-06 timed them); any unit not named here comes after
# them, in name order.
HEAVY_UNITS=(
  tests/cli
  tests/learn
  tests/docs
  tests/e2e/test_e2e_interchain.py
  tests/e2e/test_e2e_node_join.py
  tests/e2e/test_e2e_atomic.py
  tests/e2e/test_e2e_devnet_governance.py
  tests/e2e/test_e2e_devnet_tbft.py
  tests/e2e/test_e2e_devnet_raft.py
  tests/e2e/test_e2e_gateway.py
  tests/e2e/test_e2e_directory_demo.py
  tests/e2e/test_e2e_snapshots.py
  tests/bench
  tests/e2e/test_e2e_crash.py
  tests/explorer
  tests/apps/directory
  tests/e2e/test_e2e_consortium_walk.py
  tests/e2e/test_e2e_devnet_manifest.py
  tests/e2e/test_e2e_devnet_peers.py
  tests/e2e/test_e2e_bad_input.py
)

# What narrows every run: the arguments, less the paths (a unit's run names its own path; the
# collection below gives only the units under the paths given).
options=()
for argument in "$@"; do
  if [[ ! -e "${argument%%::*}" ]]; then
    options+=("$argument")
  fi
done

units=$("$BIN/pytest" -q --collect-only -m e2e -p no:cacheprovider "$@" 2>/dev/null |
  grep '::' | cut -d: -f1 | sort -u |
  awk '{ if ($0 ~ /^tests\/e2e\//) print $0; else { sub(/\/[^\/]*$/, ""); print $0 } }' | sort -u)

queue="$scratch/queue"
mkdir -p "$queue" "$scratch/taken" "$scratch/logs"
index=0
enqueue() {
  index=$((index + 1))
  printf '%s\n' "$1" > "$queue/$(printf '%04d' "$index")"
}
for unit in "${HEAVY_UNITS[@]}"; do
  if grep -qxF "$unit" <<< "$units"; then
    enqueue "$unit"
  fi
done
while IFS= read -r unit; do
  if [[ -n "$unit" ]] && ! printf '%s\n' "${HEAVY_UNITS[@]}" | grep -qxF "$unit"; then
    enqueue "$unit"
  fi
done <<< "$units"

# Takes queued units one at a time (a rename is atomic: one worker gets each) until none is left.
drain() {
  local worker=$1 status=0 entry unit name unit_status
  shift
  for entry in "$queue"/*; do
    [[ -e "$entry" ]] || continue
    mv "$entry" "$scratch/taken/" 2>/dev/null || continue
    unit=$(cat "$scratch/taken/$(basename "$entry")")
    name=$(basename "$entry")
    echo "$unit" > "$scratch/logs/$name.unit"
    "$BIN/pytest" -W error -q -m e2e -p no:cacheprovider --basetemp "$scratch/e2e-$name" \
      "$unit" "$@" > "$scratch/logs/$name.log" 2>&1
    unit_status=$?
    # 5: the arguments selected no test of this unit.
    if [[ $unit_status -ne 0 && $unit_status -ne 5 ]]; then
      status=1
      echo "$unit" >> "$scratch/failed"
    fi
  done
  echo "$status" > "$scratch/worker-$worker.status"
}

drain 2 "${options[@]}" &
worker2=$!

"$BIN/pytest" -W error -q -m "not e2e" --basetemp "$scratch/rest" "$@"
rest_status=$?
# 5: no test selected (arguments naming only end-to-end tests).
[ "$rest_status" -eq 5 ] && rest_status=0
drain 1 "${options[@]}"
wait "$worker2"

echo
echo "==== the end-to-end tests (pytest -m e2e), unit by unit, run beside the others ===="
for log in "$scratch"/logs/*.log; do
  [[ -e "$log" ]] || continue
  echo "---- $(cat "${log%.log}.unit")"
  cat "$log"
done
echo
e2e_status=0
if [[ -s "$scratch/failed" ]]; then
  e2e_status=1
  echo "end-to-end units that failed:"
  sed 's/^/  /' "$scratch/failed"
fi
echo "other tests: exit $rest_status; end-to-end tests: exit $e2e_status"
if [ "$rest_status" -ne 0 ] || [ "$e2e_status" -ne 0 ]; then
  exit 1
fi

#!/usr/bin/env bash
# The test suite (pytest -W error) as two pytest processes at once, for `make test` and CI:
#
# - the tests that start node processes (marked e2e), one after another: each may load both
#   cores, and two at once would make each one's timing (elections, catch-up, relay rounds)
#   depend on the other;
# - beside them, everything else (CPU in one process, mostly), which would otherwise leave the
#   second core idle while an end-to-end test waits for its nodes.
#
# Each has its own temporary folder. The second's output comes as it runs, the first's at the
# end; the exit status is non-zero when either failed. Arguments go to both runs.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$BIN/pytest" -W error -q -m e2e -p no:cacheprovider --basetemp "$scratch/e2e" "$@" \
  > "$scratch/e2e.log" 2>&1 &
e2e_pid=$!

"$BIN/pytest" -W error -q -m "not e2e" --basetemp "$scratch/rest" "$@"
rest_status=$?
wait "$e2e_pid"
e2e_status=$?
# 5: no test selected on that side (arguments naming only one kind of test).
no_tests=5
if [ "$rest_status" -eq "$no_tests" ] && [ "$e2e_status" -eq "$no_tests" ]; then
  echo "no test selected"
  exit "$no_tests"
fi
[ "$rest_status" -eq "$no_tests" ] && rest_status=0
[ "$e2e_status" -eq "$no_tests" ] && e2e_status=0

echo
echo "==== the end-to-end tests (pytest -m e2e), run beside the others ===="
cat "$scratch/e2e.log"
echo
echo "other tests: exit $rest_status; end-to-end tests: exit $e2e_status"
if [ "$rest_status" -ne 0 ] || [ "$e2e_status" -ne 0 ]; then
  exit 1
fi

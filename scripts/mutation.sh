#!/usr/bin/env bash
# Mutation testing with cosmic-ray (docs/testing.md): mutate the packages that carry the chain's
# rules, run the matching tests against each mutant, report the mutants no test killed.
#
#   bash scripts/mutation.sh                       # every default target (hours: a spare machine)
#   bash scripts/mutation.sh consensus/tbft/votes.py state/proof.py   # some files or folders
#   MUTATION_BUDGET_S=300 bash scripts/mutation.sh identity/policy.py # at most 300 s per target
#   MUTATION_SAMPLE=200 bash scripts/mutation.sh consensus/tbft/core.py # 200 mutants, seed 1
#
# MUTATION_SAMPLE=N keeps N of a target's mutants (after the operator filter), drawn with the
# seed MUTATION_SEED (default 1) from the mutants in a fixed order, so that the same sample runs
# again after a change; without it every mutant runs. MUTATION_SURVIVORS=1 runs only the mutants
# that survived in the target's last report (mutation-report/<target>.txt), to check that new
# tests kill them (tests are only added, so the mutants killed before stay killed). The
# survivors are then type-checked one by one (mypy --strict, as CI does); those it refuses count
# as killed (MUTATION_TYPECHECK=0 skips this).
# Targets are paths below src/causeway/; one that does not exist on this branch is skipped. The
# tests of a target are those that mirror it: tests/<its folder>/test_*<file name>*.py when
# there are such files, else the whole mirrored folder. Reports (survivors with their diffs) go
# to mutation-report/<target>.txt. cosmic-ray mutates files in place, so it runs on a copy of
# src/ and tests/ (put first on PYTHONPATH): a run stopped midway leaves no mutant behind.
# pytest starts once per mutant, so the pytest plugins of schemathesis and hypothesis are not
# loaded (1.3 of its 2.3 s start; the targets' tests do not need them: @given runs without it).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${VENV_BIN:-$root/.venv/bin}"
budget_s="${MUTATION_BUDGET_S:-1800}"
sample="${MUTATION_SAMPLE:-}"
seed="${MUTATION_SEED:-1}"
survivors_only="${MUTATION_SURVIVORS:-}"
test_timeout_s="${MUTATION_TEST_TIMEOUT_S:-120}"
typecheck="${MUTATION_TYPECHECK:-1}"
reports="$root/mutation-report"
default_targets=(consensus state light mempool identity execution/contracts)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=("${default_targets[@]}")
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$root/src" "$root/tests" "$root/pyproject.toml" "$work/"
mkdir -p "$reports"

tests_for() {
  # The tests that mirror one target (a path below src/causeway/).
  local target="${1%/}" folder stem matches
  if [ -d "$root/src/causeway/$target" ]; then
    folder="$target"
    stem=""
  else
    folder="$(dirname "$target")"
    stem="$(basename "$target" .py)"
  fi
  while [ "$folder" != "." ] && [ ! -d "$root/tests/$folder" ]; do
    folder="$(dirname "$folder")"
  done
  if [ "$folder" = "." ]; then
    return 1
  fi
  if [ -n "$stem" ]; then
    matches="$(cd "$root" && find "tests/$folder" -maxdepth 1 -name "test_*${stem}*.py" | sort)"
    if [ -n "$matches" ]; then
      echo "$matches" | tr '\n' ' '
      return 0
    fi
  fi
  echo "tests/$folder"
}

for target in "${targets[@]}"; do
  target="${target%/}"
  if [ ! -e "$root/src/causeway/$target" ]; then
    echo "skipped $target: src/causeway/$target does not exist on this branch"
    continue
  fi
  if ! tests="$(tests_for "$target")"; then
    echo "skipped $target: no tests mirror it"
    continue
  fi
  name="${target//\//.}"
  # A run stopped by the budget leaves its last mutant in the copy: start each target afresh.
  rm -rf "$work/src"
  cp -r "$root/src" "$work/"
  config="$work/$name.toml"
  session="$work/$name.sqlite"
  cat >"$config" <<EOF
[cosmic-ray]
module-path = "src/causeway/$target"
timeout = $test_timeout_s
excluded-modules = ["**/v1/*"]
test-command = "$bin/python -m pytest -x -q -p no:cacheprovider -p no:schemathesis -p no:hypothesispytest -W error $tests"

[cosmic-ray.distributor]
name = "local"

[cosmic-ray.filters.operators-filter]
# Mutants a person could plausibly write: comparisons, boolean logic, constants, +/-,
# loops and exceptions. Not: every arithmetic operator for every other (x ** y, x >> y),
# ints compared by identity, or inserted variables.
exclude-operators = [
  "core/ReplaceBinaryOperator_.*_(Div|FloorDiv|Mod|Pow|RShift|LShift|BitOr|BitAnd|BitXor)",
  "core/ReplaceBinaryOperator_(Div|FloorDiv|Mod|Pow|RShift|LShift|BitOr|BitAnd|BitXor)_.*",
  "core/ReplaceComparisonOperator_(Eq|NotEq|Lt|LtE|Gt|GtE)_(Is|IsNot|In|NotIn)",
  "core/ReplaceComparisonOperator_(Is|IsNot|In|NotIn)_(Eq|NotEq|Lt|LtE|Gt|GtE)",
  "core/ReplaceUnaryOperator_.*",
  "core/VariableInserter",
  "core/VariableReplacer",
]
EOF
  previous=""
  if [ -n "$survivors_only" ]; then
    previous="$reports/$name.txt"
    if [ ! -f "$previous" ]; then
      echo "skipped $target: MUTATION_SURVIVORS=1 needs its last report, $previous"
      continue
    fi
  fi
  echo "== $target: tests $tests (budget ${budget_s}s)"
  (
    cd "$work"
    export PYTHONPATH="$work/src"
    "$bin/cosmic-ray" init "$config" "$session" >/dev/null
    "$bin/cr-filter-operators" "$session" "$config" >/dev/null
    # The filter marks the mutants it leaves out as done (skipped); drop those, and with a sample
    # every mutant outside it, so that the report counts only what runs. The job ids are random
    # (uuid4), so the draw is over the mutants sorted by what they change, not by id.
    "$bin/python" - "$session" "$sample" "$seed" "$previous" <<'PYTHON'
import random
import re
import sqlite3
import sys
from pathlib import Path

session, sample, seed, previous = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
with sqlite3.connect(session) as database:
    (filtered,) = database.execute("SELECT count(*) FROM work_results").fetchone()
    database.execute(
        "DELETE FROM mutation_specs WHERE job_id IN (SELECT job_id FROM work_results)"
    )
    database.execute("DELETE FROM work_items WHERE job_id IN (SELECT job_id FROM work_results)")
    database.execute("DELETE FROM work_results")
    rows = database.execute(
        "SELECT job_id FROM mutation_specs ORDER BY module_path, operator_name, occurrence,"
        " start_pos_row, start_pos_col, end_pos_row, end_pos_col"
    ).fetchall()
    mutants = [job_id for (job_id,) in rows]
    kept = set(mutants)
    if previous:
        # cr-report names each mutant by "module operator occurrence" on its own line.
        survived = set(re.findall(r"^(\S+\.py) (\S+) (\d+)$", Path(previous).read_text(), re.M))
        kept = {
            job_id
            for job_id, module, operator, occurrence in database.execute(
                "SELECT job_id, module_path, operator_name, occurrence FROM mutation_specs"
            )
            if (module, operator, str(occurrence)) in survived
        }
    elif sample:
        kept = set(random.Random(seed).sample(mutants, min(int(sample), len(mutants))))
    if previous or sample:
        dropped = [(job_id,) for job_id in mutants if job_id not in kept]
        database.executemany("DELETE FROM mutation_specs WHERE job_id = ?", dropped)
        database.executemany("DELETE FROM work_items WHERE job_id = ?", dropped)
left_out = f"{filtered} left out by the operator filter"
if previous:
    print(f"   the {len(kept)} survivors of {previous} (of {len(mutants)} mutants; {left_out})")
elif sample:
    print(f"   sampled {len(kept)} of {len(mutants)} mutants (seed {seed}; {left_out})")
else:
    print(f"   {len(mutants)} mutants ({left_out})")
PYTHON
    if ! timeout "$budget_s" "$bin/cosmic-ray" exec "$config" "$session"; then
      echo "   stopped by the time budget: the report lists what was done"
      # cosmic-ray starts each test run in a session of its own, which the timeout does not
      # reach: stop the one left running here (by its working directory, this copy).
      for process in /proc/[0-9]*; do
        if [ "${process#/proc/}" != "$BASHPID" ] && [ "$(readlink "$process/cwd" 2>/dev/null)" = "$work" ]; then
          kill "${process#/proc/}" 2>/dev/null || true
        fi
      done
    fi
    if [ "$typecheck" != "0" ]; then
      # CI runs mypy --strict beside the tests: a survivor it refuses (a property made a method,
      # a frozen dataclass made mutable, a wrong type) is killed by CI too. Each survivor is
      # applied alone to a fresh copy (a run the budget stopped leaves its mutant behind),
      # type-checked, and the file put back.
      rm -rf "$work/src"
      cp -r "$root/src" "$work/"
      "$bin/python" - "$session" "$bin" "$root" <<'PYTHON'
import sqlite3
import subprocess
import sys
from pathlib import Path

session, bin_path, root = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
with sqlite3.connect(session) as database:
    survivors = database.execute(
        "SELECT s.job_id, s.module_path, s.operator_name, s.occurrence FROM mutation_specs s"
        " JOIN work_results r ON r.job_id = s.job_id WHERE r.test_outcome = 'SURVIVED'"
    ).fetchall()
    killed = 0
    mypy = [bin_path / "mypy", "--cache-dir", ".mypy_cache"]
    if survivors and subprocess.run(mypy, capture_output=True).returncode != 0:
        print("   mypy --strict fails without a mutant: survivors not type-checked")
        raise SystemExit(0)
    for job_id, module_path, operator, occurrence in survivors:
        pristine = (root / module_path).read_bytes()
        subprocess.run(
            [bin_path / "cosmic-ray", "apply", module_path, operator, str(occurrence)],
            check=True,
            capture_output=True,
        )
        try:
            checked = subprocess.run(mypy, capture_output=True, text=True)
        finally:
            Path(module_path).write_bytes(pristine)
        if checked.returncode == 1:  # type errors (2 would be mypy itself failing)
            killed += 1
            first_error = next(
                (line for line in checked.stdout.splitlines() if ": error:" in line), ""
            )
            database.execute(
                "UPDATE work_results SET test_outcome = 'KILLED', output = ? WHERE job_id = ?",
                (f"killed by mypy --strict: {first_error}", job_id),
            )
print(f"   {killed} of {len(survivors)} survivors killed by mypy --strict")
PYTHON
    fi
    "$bin/cr-report" --show-diff --surviving-only "$session" >"$reports/$name.txt"
  )
  tail -n 3 "$reports/$name.txt" | sed 's/^/   /'
done

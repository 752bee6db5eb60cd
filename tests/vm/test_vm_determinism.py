"""The same calls in two separate processes give byte-identical results, state, events and gas:
nothing in a call's outcome may depend on the process (hash seeds, addresses, timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Run in a fresh interpreter: a sequence of calls touching every kind of outcome, printed as JSON.
SCRIPT = r"""
import hashlib
import json
import sys

sys.path.insert(0, sys.argv[1])
from vm_support import DictHost, invoke, module, new_runtime

CODE = module('''
  (data (i32.const 0) "counter")
  (data (i32.const 16) "event")
  (data (i32.const 32) "no funds")
  (func (export "increment") (local $value i32)
    (drop (call $state_get (i32.const 0) (i32.const 7) (i32.const 64) (i32.const 4)))
    (local.set $value (i32.add (i32.load (i32.const 64)) (i32.const 1)))
    (i32.store (i32.const 64) (local.get $value))
    (call $state_put (i32.const 0) (i32.const 7) (i32.const 64) (i32.const 4))
    (call $emit (i32.const 16) (i32.const 5) (i32.const 64) (i32.const 4))
    (call $hash (i32.const 64) (i32.const 4) (i32.const 128))
    (call $return_data (i32.const 128) (i32.const 32)))
  (func (export "write_forever") (local $index i32)
    (loop $again
      (i32.store (i32.const 256) (local.get $index))
      (call $state_put (i32.const 256) (i32.const 4) (i32.const 256) (i32.const 4))
      (local.set $index (i32.add (local.get $index) (i32.const 1)))
      (br $again)))
  (func (export "nan")
    (f64.store (i32.const 512) (f64.div (f64.const 0) (f64.const 0)))
    (f32.store (i32.const 520) (f32.sqrt (f32.const -1)))
    (call $return_data (i32.const 512) (i32.const 12)))
  (func (export "refuse") (call $revert (i32.const 32) (i32.const 8)))
  (func (export "divide") (drop (i32.div_s (i32.const 1) (i32.const 0))))
  (func $deeper (call $deeper))
  (func (export "recurse") (call $deeper))
''', memory='(memory (export "memory") 1)')

runtime = new_runtime()
host = DictHost()
calls = [
    ("increment", 1_000_000), ("increment", 1_000_000), ("increment", 1_700),
    ("write_forever", 30_000), ("nan", 1_000_000), ("refuse", 1_000_000),
    ("divide", 1_000_000), ("recurse", 2_000_000), ("increment", 1_000_000),
]
outcomes = []
for export, gas in calls:
    outcome = invoke(runtime, CODE, export, host, gas=gas)
    outcomes.append([export, outcome.status, outcome.return_data.hex(), outcome.message,
                     outcome.gas_used, outcome.fuel_used])
print(json.dumps({
    "outcomes": outcomes,
    "state": sorted([key.hex(), value.hex()] for key, value in host.state.items()),
    "events": [[name, data.hex()] for name, data in host.events],
    "charged": host.charged,
}, sort_keys=True))
"""


def run_in_a_process(hash_seed: str) -> bytes:
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    finished = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(Path(__file__).resolve().parent)],
        capture_output=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr.decode()
    return finished.stdout


def test_two_processes_give_byte_identical_outcomes() -> None:
    first = run_in_a_process("1")
    second = run_in_a_process("2")
    assert first == second
    report = json.loads(first)
    statuses = [outcome[1] for outcome in report["outcomes"]]
    # Every kind of outcome is in the sequence, so each is compared.
    assert set(statuses) == {"ok", "out_of_gas", "reverted", "trapped"}
    assert report["events"]
    assert report["state"]

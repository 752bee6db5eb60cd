"""The runtime end to end on small WAT modules: results, reverts, traps, gas, fresh instances."""

from __future__ import annotations

import math

import pytest
from vm_support import PRICES, WRITE_GAS, DictHost, module, new_runtime, run

from causeway.errors import RequestError
from causeway.vm import Runtime

STORE = module(
    """
  (data (i32.const 0) "key")
  (data (i32.const 16) "value")
  (global $calls (mut i32) (i32.const 0))
  (func (export "put") (call $state_put (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 5)))
  (func (export "get") (local $length i32)
    (local.set $length
      (call $state_get (i32.const 0) (i32.const 3) (i32.const 100) (i32.const 64)))
    (call $return_data (i32.const 100) (local.get $length)))
  (func (export "count")
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (i32.store (i32.const 200) (global.get $calls))
    (call $return_data (i32.const 200) (i32.const 4)))
  (func (export "spin") (loop $forever (br $forever)))
  (func (export "outside") (call $return_data (i32.const 65530) (i32.const 100)))
  (func (export "refuse") (call $revert (i32.const 16) (i32.const 5)))
  (func (export "divide") (drop (i32.div_u (i32.const 1) (i32.const 0))))
"""
)


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return new_runtime()


def test_a_write_then_a_read_in_later_calls(runtime: Runtime) -> None:
    host = DictHost()
    written = run(runtime, STORE, "put", host)
    assert written.status == "ok"
    assert host.state == {b"key": b"value"}
    read = run(runtime, STORE, "get", host)
    assert (read.status, read.return_data) == ("ok", b"value")


def test_every_call_gets_a_fresh_instance(runtime: Runtime) -> None:
    host = DictHost()
    first = run(runtime, STORE, "count", host)
    second = run(runtime, STORE, "count", host)
    assert first.return_data == second.return_data == (1).to_bytes(4, "little")


def test_an_endless_loop_runs_out_of_gas_and_is_charged_everything(runtime: Runtime) -> None:
    outcome = run(runtime, STORE, "spin", DictHost(), gas=50_000)
    assert outcome.status == "out_of_gas"
    assert outcome.gas_used == 50_000


def test_a_revert_carries_its_message(runtime: Runtime) -> None:
    outcome = run(runtime, STORE, "refuse", DictHost())
    assert (outcome.status, outcome.message) == ("reverted", "value")


def test_a_range_outside_memory_traps(runtime: Runtime) -> None:
    outcome = run(runtime, STORE, "outside", DictHost())
    assert outcome.status == "trapped"
    assert outcome.message == "memory out of bounds: 100 bytes at 65530"


def test_a_trap_is_named_by_its_code(runtime: Runtime) -> None:
    outcome = run(runtime, STORE, "divide", DictHost())
    assert (outcome.status, outcome.message) == ("trapped", "integer division by zero")


def test_host_charges_come_out_of_the_same_counter(runtime: Runtime) -> None:
    host = DictHost()
    outcome = run(runtime, STORE, "put", host)
    # The host charged the write itself; the vm's own gas is its base, one host call, the
    # 8 bytes that crossed (3 of key, 5 of value) and the operators.
    assert host.charged == WRITE_GAS
    operators = outcome.gas_used - PRICES.call_base - PRICES.host_call - 8 * PRICES.boundary_byte
    assert 0 < operators <= 1
    # The fuel burnt holds the host's own charge too; the vm reports only what is its own.
    assert outcome.gas_used == PRICES.call_base + math.ceil(outcome.fuel_used / 100) - host.charged


def test_a_read_only_call_cannot_write(runtime: Runtime) -> None:
    host = DictHost()
    with pytest.raises(RequestError, match="read-only call: a query cannot write state"):
        run(runtime, STORE, "put", host, read_only=True)
    assert host.state == {}


def test_too_little_gas_to_start_is_out_of_gas(runtime: Runtime) -> None:
    outcome = run(runtime, STORE, "get", DictHost(), gas=PRICES.call_base - 1)
    assert outcome.status == "out_of_gas"
    assert outcome.gas_used == PRICES.call_base - 1

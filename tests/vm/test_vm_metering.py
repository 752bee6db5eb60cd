"""Gas: the fuel of small functions (golden numbers), the one counter shared by operators and
host prices, running out at the same point every time, bulk memory per byte, the call's base.

The golden fuel numbers were measured once on wasmtime 50.0.1 with this suite's own runtime
(`invoke(...).fuel_used` of each function below, PRICES of vm_support) and written down here.
They are consensus: a change in any of them is a change in the gas of every contract, so it must
come with a chain upgrade (docs/adr/0003), never silently."""

from __future__ import annotations

import math

import pytest
from vm_support import PRICES, READ_GAS, DictHost, invoke, module, new_runtime

from causeway.vm import Runtime, VmLimits

FUEL_PER_GAS = 100

SMALL = module(
    """
  (func (export "empty"))
  (func (export "one_constant") (drop (i32.const 1)))
  (func (export "two_additions")
    (drop (i32.add (i32.add (i32.const 1) (i32.const 2)) (i32.const 3))))
  (func (export "loop_10") (local $index i32)
    (loop $again
      (local.set $index (i32.add (local.get $index) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $index) (i32.const 10)))))
  (func (export "loop_20") (local $index i32)
    (loop $again
      (local.set $index (i32.add (local.get $index) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $index) (i32.const 20)))))
  (func (export "input_length") (drop (call $input_length)))
  (func (export "fill")
    (memory.fill (i32.const 0) (i32.const 7) (call $input_length)))
  (func (export "copy")
    (memory.copy (i32.const 0) (i32.const 1024) (call $input_length)))
"""
)

# export: fuel measured once (see the module's docstring).
GOLDEN_FUEL = {
    "empty": 1,
    "one_constant": 2,
    "two_additions": 6,
    # 1 to enter, then 8 per iteration (local.get, i32.const, i32.add, local.set, local.get,
    # i32.const, i32.lt_u, br_if).
    "loop_10": 81,
    "loop_20": 161,
    # 2 of operators and the host call's price: host_call (300 gas) at 100 fuel a gas.
    "input_length": 2 + PRICES.host_call * FUEL_PER_GAS,
}


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return new_runtime()


@pytest.mark.parametrize("export", sorted(GOLDEN_FUEL))
def test_the_fuel_of_small_functions_is_the_measured_one(runtime: Runtime, export: str) -> None:
    outcome = invoke(runtime, SMALL, export, DictHost())
    assert outcome.status == "ok"
    assert outcome.fuel_used == GOLDEN_FUEL[export]
    assert outcome.gas_used == PRICES.call_base + math.ceil(GOLDEN_FUEL[export] / FUEL_PER_GAS)


def test_a_loop_costs_the_same_per_iteration(runtime: Runtime) -> None:
    ten = invoke(runtime, SMALL, "loop_10", DictHost()).fuel_used
    twenty = invoke(runtime, SMALL, "loop_20", DictHost()).fuel_used
    assert twenty - ten == 10 * 8


@pytest.mark.parametrize("export", ["fill", "copy"])
def test_bulk_memory_is_charged_per_byte(runtime: Runtime, export: str) -> None:
    # The length comes from input_length: the same operators whatever the length.
    fuels = {
        length: invoke(runtime, SMALL, export, DictHost(), input_data=b"x" * length).fuel_used
        for length in (0, 1, 1_000, 60_000)
    }
    # input_length copies nothing, so it costs only its host call and no byte price.
    assert fuels[0] == 5 + PRICES.host_call * FUEL_PER_GAS
    for length, fuel in fuels.items():
        assert fuel - fuels[0] == length


def test_a_call_with_exactly_the_base_price_has_no_fuel_and_one_gas_more_runs(
    runtime: Runtime,
) -> None:
    base = PRICES.call_base
    exactly = invoke(runtime, SMALL, "empty", DictHost(), gas=base)
    # The call starts (the base is paid) but its one fuel of operators is not there.
    assert (exactly.status, exactly.gas_used, exactly.fuel_used) == ("out_of_gas", base, 0)
    assert exactly.message == f"the contract ran out of gas (it had {base})"
    below = invoke(runtime, SMALL, "empty", DictHost(), gas=base - 1)
    assert (below.status, below.gas_used, below.fuel_used) == ("out_of_gas", base - 1, 0)
    assert below.message == f"a call needs {base} gas to start, {base - 1} are left"
    enough = invoke(runtime, SMALL, "empty", DictHost(), gas=base + 1)
    assert (enough.status, enough.gas_used, enough.fuel_used) == ("ok", base + 1, 1)


@pytest.mark.parametrize("gas", [0, -5])
def test_no_gas_at_all_is_out_of_gas_charging_nothing_negative(runtime: Runtime, gas: int) -> None:
    outcome = invoke(runtime, SMALL, "empty", DictHost(), gas=gas)
    assert (outcome.status, outcome.gas_used) == ("out_of_gas", 0)


# -- running out at the same point --------------------------------------------------------------

# Writes key i (4 bytes, little-endian) = i for i = 0, 1, 2, ... until the gas runs out.
WRITER = module(
    """
  (func (export "write_forever") (local $index i32)
    (loop $again
      (i32.store (i32.const 0) (local.get $index))
      (call $state_put (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 4))
      (local.set $index (i32.add (local.get $index) (i32.const 1)))
      (br $again)))
"""
)


def test_out_of_gas_stops_at_the_same_write_every_time() -> None:
    budget = 20_000
    results = []
    for runtime in (new_runtime(), new_runtime()):
        for _attempt in range(2):
            host = DictHost()
            outcome = invoke(runtime, WRITER, "write_forever", host, gas=budget)
            results.append((outcome, dict(host.state), host.charged))
    first_outcome, first_state, first_charged = results[0]
    assert first_outcome.status == "out_of_gas"
    # Everything the call was given is charged, the host's part and the vm's part together.
    assert first_outcome.gas_used + first_charged == budget
    assert len(first_state) > 1
    assert sorted(first_state) == [index.to_bytes(4, "little") for index in range(len(first_state))]
    for outcome, state, charged in results[1:]:
        assert (outcome, state, charged) == (first_outcome, first_state, first_charged)


# -- host prices come from the same counter -----------------------------------------------------


class CountingHost(DictHost):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    def state_get(self, key: bytes) -> bytes | None:
        self.reads += 1
        return super().state_get(key)


READER = module(
    """
  (func (export "read_forever")
    (loop $again
      (drop (call $state_get (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0)))
      (br $again)))
"""
)

# With one fuel a gas, so that every fuel shows. Measured once (how: the least budget at which
# the host is called k times, for k = 1 to 3): each turn of the loop costs 6 fuel of operators,
# and wasmtime charges a block's operators when the block starts, so at the first host call the
# fuel has gone down by the whole first turn.
TURN_FUEL = 6
FIRST_CALL_FUEL = 6
# The price of one state_get of a 1-byte key whose value is absent, from the prices alone: the
# host call, the one byte crossing, and the host's own charge for the read.
READ_PRICE = PRICES.host_call + PRICES.boundary_byte * 1 + READ_GAS


def expected_reads(fuel: int, fuel_per_gas: int = 1) -> int:
    """How many times the host is called before the fuel runs out. A call reaches the host only
    when the fuel left can pay the price of a host call; the last one made may then be found
    short of its whole price (the bytes and the read): the call runs out of gas and the chain
    undoes what it did."""
    call_fuel = PRICES.host_call * fuel_per_gas
    if fuel < FIRST_CALL_FUEL + call_fuel:
        return 0
    return 1 + (fuel - FIRST_CALL_FUEL - call_fuel) // (READ_PRICE * fuel_per_gas + TURN_FUEL)


def test_a_loop_on_a_host_function_runs_out_after_a_predictable_number_of_calls() -> None:
    runtime = new_runtime(VmLimits(fuel_per_gas=1))
    turn = READ_PRICE + TURN_FUEL
    for calls in range(1, 12):
        threshold = FIRST_CALL_FUEL + PRICES.host_call + (calls - 1) * turn
        for fuel in (threshold - 1, threshold, threshold + turn // 2):
            host = CountingHost()
            outcome = invoke(runtime, READER, "read_forever", host, gas=PRICES.call_base + fuel)
            assert outcome.status == "out_of_gas"
            assert host.reads == expected_reads(fuel)
            assert outcome.gas_used + host.charged == PRICES.call_base + fuel
    assert expected_reads(FIRST_CALL_FUEL + PRICES.host_call - 1) == 0


def test_host_prices_scale_the_number_of_calls_at_the_default_fuel_per_gas(
    runtime: Runtime,
) -> None:
    # At 100 fuel a gas the operators of a turn (6 fuel) are under a gas: with a gas to spare,
    # n calls are paid for with n times READ_PRICE; the (n+1)th cannot pay for a host call
    # and never reaches the host.
    for paid in (0, 1, 5, 16, 17, 40):
        host = CountingHost()
        gas = PRICES.call_base + paid * READ_PRICE + 1
        outcome = invoke(runtime, READER, "read_forever", host, gas=gas)
        assert outcome.status == "out_of_gas"
        assert host.reads == expected_reads((gas - PRICES.call_base) * FUEL_PER_GAS, FUEL_PER_GAS)
        assert host.reads == paid


def test_the_host_charge_shows_in_fuel_but_not_twice_in_gas(runtime: Runtime) -> None:
    reader = module(
        """
  (func (export "read_once")
    (drop (call $state_get (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0))))
"""
    )
    host = DictHost()
    outcome = invoke(runtime, reader, "read_once", host)
    assert outcome.status == "ok"
    assert host.charged == READ_GAS
    operators = outcome.fuel_used - READ_PRICE * FUEL_PER_GAS
    assert 0 < operators < FUEL_PER_GAS
    assert outcome.gas_used == PRICES.call_base + READ_PRICE + 1 - READ_GAS

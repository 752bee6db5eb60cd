"""The limits a call lives within (vm.config.VmLimits): memory growth, the WebAssembly stack, how
deep calls between contracts nest, and this node's wall-clock watchdog."""

from __future__ import annotations

import struct
import threading

import pytest
from vm_support import PRICES, DictHost, code_hash, invoke, module, new_runtime

from causeway.errors import ContractInterruptedError, InvariantError, RequestError
from causeway.vm import DEFAULT_LIMITS, Runtime, VmLimits
from causeway.vm import runtime as runtime_module

GROW = module(
    """
  (func (export "grow")
    ;; grow by the input's length in pages, then by one more page; the sizes and results
    (i32.store (i32.const 0) (memory.grow (call $input_length)))
    (i32.store (i32.const 4) (memory.size))
    (i32.store (i32.const 8) (memory.grow (i32.const 1)))
    (i32.store (i32.const 12) (memory.size))
    (call $return_data (i32.const 0) (i32.const 16)))
""",
    memory='(memory (export "memory") 1 65536)',
)


def grown(runtime: Runtime, pages: int) -> tuple[int, ...]:
    outcome = invoke(runtime, GROW, "grow", DictHost(), input_data=b"x" * pages)
    assert outcome.status == "ok"
    return struct.unpack("<4i", outcome.return_data)


def test_memory_grows_to_the_limit_and_one_page_more_fails() -> None:
    limit = DEFAULT_LIMITS.memory_pages_max
    # From 1 page to the limit: memory.grow returns the old size; one more page returns -1.
    assert grown(new_runtime(), limit - 1) == (1, limit, -1, limit)


def test_memory_below_the_limit_can_still_grow() -> None:
    limit = DEFAULT_LIMITS.memory_pages_max
    assert grown(new_runtime(), limit - 2) == (1, limit - 1, limit - 1, limit)


def test_memory_growth_beyond_the_limit_at_once_fails_and_changes_nothing() -> None:
    limit = DEFAULT_LIMITS.memory_pages_max
    assert grown(new_runtime(), limit) == (-1, 1, 1, 2)


def test_a_smaller_memory_limit_is_enforced() -> None:
    runtime = new_runtime(VmLimits(memory_pages_max=20))
    assert grown(runtime, 19) == (1, 20, -1, 20)


# -- the stack ----------------------------------------------------------------------------------

RECURSION = module(
    """
  (func $deeper (param $depth i32) (call $deeper (i32.add (local.get $depth) (i32.const 1))))
  (func (export "recurse") (call $deeper (i32.const 0)))
  (func $with_reads
    (drop (call $state_get (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0)))
    (call $with_reads))
  (func (export "recurse_reading") (call $with_reads))
"""
)


def test_a_deep_recursion_is_a_stack_overflow_charged_all_the_gas() -> None:
    runtime = new_runtime()
    gas = 50_000_000
    outcome = invoke(runtime, RECURSION, "recurse", DictHost(), gas=gas)
    assert (outcome.status, outcome.message) == ("trapped", "stack overflow")
    assert outcome.gas_used == gas
    assert outcome.fuel_used == (gas - PRICES.call_base) * DEFAULT_LIMITS.fuel_per_gas


def test_a_stack_overflow_charges_all_the_gas_less_what_the_host_charged() -> None:
    # Host charges are the chain's own: charged once, by the host (vm.runtime's docstring).
    runtime = new_runtime()
    gas = 500_000_000
    host = DictHost()
    outcome = invoke(runtime, RECURSION, "recurse_reading", host, gas=gas)
    assert (outcome.status, outcome.message) == ("trapped", "stack overflow")
    assert host.charged > 0
    assert outcome.gas_used + host.charged == gas


def test_a_smaller_stack_still_overflows_cleanly() -> None:
    runtime = new_runtime(VmLimits(stack_bytes_max=64 * 1024))
    outcome = invoke(runtime, RECURSION, "recurse", DictHost(), gas=50_000_000)
    assert (outcome.status, outcome.message, outcome.gas_used) == (
        "trapped",
        "stack overflow",
        50_000_000,
    )


# -- calls between contracts nest to call_depth_max ---------------------------------------------

NESTING = module(
    """
  (data (i32.const 0) "self")
  (data (i32.const 16) "nest")
  (func (export "nest") (local $status i32)
    (local.set $status
      (call $call (i32.const 0) (i32.const 4) (i32.const 16) (i32.const 4)
        (i32.const 0) (i32.const 0) (i64.const 0)))
    (i32.store (i32.const 32) (local.get $status))
    (call $return_data (i32.const 32) (i32.const 4)))
"""
)


class NestingHost(DictHost):
    """A host whose `call` runs the same contract again through the runtime, `nested` times."""

    def __init__(self, runtime: Runtime, nested: int) -> None:
        super().__init__()
        self.runtime = runtime
        self.remaining = nested
        self.depths: list[int] = []

    def call(self, contract: str, method: str, input_data: bytes, gas: int) -> tuple[int, bytes]:
        self.depths.append(self.runtime.engine.depth)
        if self.remaining == 0:
            return (1, b"")
        self.remaining -= 1
        outcome = self.runtime.call(
            code_hash(NESTING),
            lambda: NESTING,
            method,
            input_data=input_data,
            host=self,
            gas_available=gas,
        )
        return (1 if outcome.status == "ok" else 2, outcome.return_data)


def test_calls_nest_up_to_the_depth_limit() -> None:
    runtime = new_runtime()
    limit = DEFAULT_LIMITS.call_depth_max
    # The transaction's call is depth 1: limit - 1 nested calls reach the limit.
    host = NestingHost(runtime, nested=limit - 1)
    outcome = invoke(runtime, NESTING, "nest", host, gas=10_000_000)
    assert (outcome.status, outcome.return_data) == ("ok", (1).to_bytes(4, "little"))
    assert host.depths == list(range(1, limit + 1))


def test_one_call_deeper_than_the_limit_is_refused() -> None:
    runtime = new_runtime()
    limit = DEFAULT_LIMITS.call_depth_max
    host = NestingHost(runtime, nested=limit)
    with pytest.raises(RequestError, match=f"contract calls nest deeper than the limit of {limit}"):
        invoke(runtime, NESTING, "nest", host, gas=10_000_000)
    # Every frame is gone: the runtime is usable again at depth 0.
    assert runtime.engine.depth == 0
    again = NestingHost(runtime, nested=0)
    assert invoke(runtime, NESTING, "nest", again).status == "ok"


def test_a_smaller_depth_limit_is_enforced() -> None:
    runtime = new_runtime(VmLimits(call_depth_max=1))
    host = NestingHost(runtime, nested=1)
    with pytest.raises(RequestError, match="nest deeper than the limit of 1"):
        invoke(runtime, NESTING, "nest", host)
    assert invoke(runtime, NESTING, "nest", NestingHost(runtime, nested=0)).status == "ok"


# -- the watchdog (node-local) ------------------------------------------------------------------

SPIN = module(
    """
  (func (export "spin") (loop $forever (br $forever)))
  (func (export "quick"))
"""
)


def watchdog_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == "causeway-vm-watchdog")


def test_the_watchdog_interrupts_an_endless_loop_with_a_node_local_error() -> None:
    before = watchdog_threads()
    runtime = Runtime(PRICES, watchdog_ms=100)
    try:
        assert watchdog_threads() == before + 1
        # Gas enough for hours: only the watchdog can stop this.
        with pytest.raises(ContractInterruptedError, match="past this node's watchdog"):
            invoke(runtime, SPIN, "spin", DictHost(), gas=1 << 40)
        assert runtime.engine.depth == 0
        assert invoke(runtime, SPIN, "quick", DictHost()).status == "ok"
    finally:
        runtime.close()
    assert watchdog_threads() == before


def test_close_without_a_watchdog_does_nothing() -> None:
    before = watchdog_threads()
    runtime = new_runtime()
    assert watchdog_threads() == before
    runtime.close()
    assert invoke(runtime, SPIN, "quick", DictHost()).status == "ok"


class _BlockingHost(DictHost):
    """A host whose first state_get waits for `release`, signalling `entered` first."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def state_get(self, key: bytes) -> bytes | None:
        self.entered.set()
        assert self.release.wait(30), "the test never released the host"
        return super().state_get(key)


READ_ONCE = module(
    """
  (func (export "read")
    (drop (call $state_get (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 0))))
"""
)


def test_queries_beyond_their_slots_wait_for_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "QUERY_CALLS_MAX", 1)
    runtime = new_runtime()
    first, second = _BlockingHost(), _BlockingHost()
    second.release.set()
    threads = [
        threading.Thread(
            target=invoke, args=(runtime, READ_ONCE, "read", host), kwargs={"read_only": True}
        )
        for host in (first, second)
    ]
    threads[0].start()
    assert first.entered.wait(30)
    threads[1].start()
    # The second query waits for the one slot: it has not reached its host.
    assert not second.entered.wait(0.5)
    first.release.set()
    assert second.entered.wait(30)
    for thread in threads:
        thread.join(30)
    # A transaction's call never waits for a query's slot.
    assert invoke(runtime, READ_ONCE, "read", DictHost()).status == "ok"


def test_the_query_slots_leave_half_the_pool_to_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime_module, "QUERY_CALLS_MAX", 1_000)
    with pytest.raises(InvariantError, match="more than half of the instance pool"):
        new_runtime()

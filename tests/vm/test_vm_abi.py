"""Every host function of ABI v1 (docs/contract-abi.md) from a contract's side: what it reads and
writes, the getter protocol, the bounds, out-of-bounds ranges, read-only calls.

Most tests use one module, PROBE, with an export `do_NAME` per host function: it reads the call's
input at address 0, calls NAME with the arguments found there (i32 little-endian words, the gas of
`call` an i64), and returns the function's i32 result followed by the 64 bytes at OUTPUT. The rest
of the input is data placed at the addresses the arguments point to."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from vm_support import PRICES, DictHost, invoke, module, new_runtime

from causeway.errors import RequestError
from causeway.vm import HOST_FUNCTIONS, CallOutcome, ContextField, Runtime
from causeway.vm.abi import (
    EVENT_DATA_BYTES_MAX,
    RANGE_LIMIT_MAX,
    RETURN_DATA_BYTES_MAX,
    REVERT_MESSAGE_BYTES_MAX,
    STATE_KEY_BYTES_MAX,
    STATE_VALUE_BYTES_MAX,
)

PAGES = 2
MEMORY_BYTES = PAGES * 65_536
OUTPUT = 1_024
WINDOW = 64
RESULT_AT = MEMORY_BYTES - 128
DATA = 2_048
# A range that starts inside memory and ends past it.
OUTSIDE = MEMORY_BYTES - 2


def _probe_export(name: str) -> str:
    parameters, results = HOST_FUNCTIONS[name]
    arguments = " ".join(
        f"(i{kind[1:]}.load (i32.const {4 * index}))" for index, kind in enumerate(parameters)
    )
    invocation = f"(call ${name} {arguments})"
    if results:
        invocation = f"(i32.store (i32.const {RESULT_AT}) {invocation})"
    if name in ("return_data", "revert"):
        # Their effect is the call's result itself.
        return f'(func (export "do_{name}") (call $input_read (i32.const 0)) {invocation})'
    return f"""
  (func (export "do_{name}")
    (call $input_read (i32.const 0))
    {invocation}
    (memory.copy (i32.const {RESULT_AT + 4}) (i32.const {OUTPUT}) (i32.const {WINDOW}))
    (call $return_data (i32.const {RESULT_AT}) (i32.const {4 + WINDOW})))"""


PROBE = module(
    "\n".join(_probe_export(name) for name in HOST_FUNCTIONS)
    + """
  (func (export "echo") (local $length i32)
    (local.set $length (call $input_length))
    (call $input_read (i32.const 4096))
    (call $return_data (i32.const 4096) (local.get $length)))
  (data (i32.const 100) "first")
  (data (i32.const 120) "second")
  (func (export "return_twice")
    (call $return_data (i32.const 100) (i32.const 5))
    (call $return_data (i32.const 120) (i32.const 6)))
  (data (i32.const 140) "ab")
  (func (export "result_read_after_call")
    (drop (call $call (i32.const 140) (i32.const 1) (i32.const 141) (i32.const 1)
      (i32.const 0) (i32.const 0) (i64.const 0)))
    (call $input_read (i32.const 0))
    (drop (call $result_read (i32.load (i32.const 0)) (i32.load (i32.const 4)))))
  (func (export "result_before_any_call")
    (i32.store (i32.const 0) (call $result_read (i32.const 16) (i32.const 16)))
    (call $return_data (i32.const 0) (i32.const 4)))
""",
    memory=f'(memory (export "memory") {PAGES})',
)


@dataclass(frozen=True)
class Probed:
    outcome: CallOutcome
    result: int
    window: bytes


@pytest.fixture(scope="module")
def runtime() -> Runtime:
    return new_runtime()


def probe_input(arguments: Sequence[int], data: dict[int, bytes], gas: int | None = None) -> bytes:
    words = b"".join(struct.pack("<I", argument & 0xFFFFFFFF) for argument in arguments)
    if gas is not None:
        words += struct.pack("<q", gas)
    end = max([len(words), *(address + len(value) for address, value in data.items())])
    buffer = bytearray(end)
    buffer[: len(words)] = words
    for address, value in data.items():
        assert address >= len(words)
        buffer[address : address + len(value)] = value
    return bytes(buffer)


def probe(
    runtime: Runtime,
    host: DictHost,
    name: str,
    arguments: Sequence[int],
    data: dict[int, bytes] | None = None,
    *,
    gas_argument: int | None = None,
    gas: int = 10_000_000,
    read_only: bool = False,
) -> Probed:
    """Calls host function `name` with `arguments` from PROBE's do_NAME."""
    outcome = invoke(
        runtime,
        PROBE,
        f"do_{name}",
        host,
        input_data=probe_input(arguments, data or {}, gas_argument),
        gas=gas,
        read_only=read_only,
    )
    if outcome.status != "ok" or name in ("return_data", "revert"):
        return Probed(outcome, 0, b"")
    (result,) = struct.unpack("<i", outcome.return_data[:4])
    return Probed(outcome, result, outcome.return_data[4:])


def written(window: bytes, value: bytes) -> bool:
    """`value` is at OUTPUT and nothing after it was touched."""
    return window[: len(value)] == value and not any(window[len(value) :])


# -- input --------------------------------------------------------------------------------------


@pytest.mark.parametrize("input_data", [b"", b"\x00", bytes(range(256)) * 4])
def test_input_length_and_input_read_give_the_whole_input(
    runtime: Runtime, input_data: bytes
) -> None:
    outcome = invoke(runtime, PROBE, "echo", DictHost(), input_data=input_data)
    assert (outcome.status, outcome.return_data) == ("ok", input_data)


def test_input_length_is_the_length(runtime: Runtime) -> None:
    arguments: list[int] = []
    data = {DATA: b"z" * 100}
    probed = probe(runtime, DictHost(), "input_length", arguments, data)
    assert probed.result == DATA + 100


# -- context_read -------------------------------------------------------------------------------


@pytest.mark.parametrize("field", list(ContextField))
def test_context_read_gives_each_field(runtime: Runtime, field: ContextField) -> None:
    host = DictHost()
    probed = probe(runtime, host, "context_read", [field, OUTPUT, WINDOW])
    value = host.fields[field]
    assert probed.result == len(value)
    assert written(probed.window, value)


def test_context_fields_are_numbered_as_the_abi_says() -> None:
    assert [(field.name, field.value) for field in ContextField] == [
        ("CALLER", 0),
        ("CONTRACT", 1),
        ("HEIGHT", 2),
        ("TIME", 3),
        ("TRANSACTION", 4),
        ("CHAIN", 5),
        ("ORGANISATION", 6),
    ]


@pytest.mark.parametrize("field", [7, 100, -1, -(1 << 31)])
def test_context_read_of_an_unknown_field_is_absent(runtime: Runtime, field: int) -> None:
    probed = probe(runtime, DictHost(), "context_read", [field, OUTPUT, WINDOW])
    assert probed.result == -1
    assert not any(probed.window)


# -- the getter protocol ------------------------------------------------------------------------


def test_a_getter_with_too_small_a_buffer_writes_nothing_and_gives_the_length(
    runtime: Runtime,
) -> None:
    host = DictHost()
    contract = host.fields[ContextField.CONTRACT]
    small = probe(runtime, host, "context_read", [ContextField.CONTRACT, OUTPUT, len(contract) - 1])
    assert small.result == len(contract)
    assert not any(small.window)
    exact = probe(runtime, host, "context_read", [ContextField.CONTRACT, OUTPUT, len(contract)])
    assert exact.result == len(contract)
    assert written(exact.window, contract)
    nothing = probe(runtime, host, "context_read", [ContextField.CONTRACT, OUTPUT, 0])
    assert (nothing.result, any(nothing.window)) == (len(contract), False)


def test_a_getter_of_an_absent_value_gives_minus_one(runtime: Runtime) -> None:
    probed = probe(runtime, DictHost(), "state_get", [DATA, 3, OUTPUT, WINDOW], {DATA: b"key"})
    assert probed.result == -1
    assert not any(probed.window)


def test_a_getter_of_an_empty_value_gives_zero(runtime: Runtime) -> None:
    host = DictHost()
    host.state[b"key"] = b""
    probed = probe(runtime, host, "state_get", [DATA, 3, OUTPUT, WINDOW], {DATA: b"key"})
    assert probed.result == 0


@pytest.mark.parametrize("stored", [None, b"v"])
def test_a_getter_buffer_outside_memory_traps(runtime: Runtime, stored: bytes | None) -> None:
    host = DictHost()
    if stored is not None:
        host.state[b"key"] = stored
    probed = probe(runtime, host, "state_get", [DATA, 3, OUTSIDE - 8, 64], {DATA: b"key"})
    assert probed.outcome.status == "trapped"
    assert probed.outcome.message.startswith("memory out of bounds")


# -- return_data --------------------------------------------------------------------------------


def test_return_data_last_call_wins(runtime: Runtime) -> None:
    outcome = invoke(runtime, PROBE, "return_twice", DictHost())
    assert (outcome.status, outcome.return_data) == ("ok", b"second")


def test_return_data_at_its_bound_and_one_byte_past(runtime: Runtime) -> None:
    bound = RETURN_DATA_BYTES_MAX
    value = bytes(index % 251 for index in range(bound + 1))
    at_bound = probe(runtime, DictHost(), "return_data", [DATA, bound], {DATA: value})
    assert (at_bound.outcome.status, at_bound.outcome.return_data) == ("ok", value[:bound])
    with pytest.raises(RequestError, match=f"{bound + 1} bytes where at most {bound}"):
        probe(runtime, DictHost(), "return_data", [DATA, bound + 1], {DATA: value})


def test_no_return_data_is_empty(runtime: Runtime) -> None:
    empty = module('(func (export "nothing"))')
    assert invoke(runtime, empty, "nothing", DictHost()).return_data == b""


# -- revert -------------------------------------------------------------------------------------


def reverted(runtime: Runtime, message: bytes) -> CallOutcome:
    outcome = probe(
        runtime, DictHost(), "revert", [DATA, len(message)], {DATA: message + b"\x00"}
    ).outcome
    assert outcome.status == "reverted"
    assert outcome.return_data == b""
    return outcome


def test_revert_carries_its_message(runtime: Runtime) -> None:
    assert reverted(runtime, "no funds: €".encode()).message == "no funds: €"


def test_a_revert_message_is_truncated_at_its_bound(runtime: Runtime) -> None:
    bound = REVERT_MESSAGE_BYTES_MAX
    assert reverted(runtime, b"a" * bound).message == "a" * bound
    assert reverted(runtime, b"b" * (bound + 1)).message == "b" * bound
    assert reverted(runtime, b"c" * 5_000).message == "c" * bound
    # Cut in the middle of a character: the half is replaced.
    assert (
        reverted(runtime, b"d" * (bound - 1) + "é".encode()).message == "d" * (bound - 1) + "\ufffd"
    )


def test_invalid_utf8_in_a_revert_message_is_replaced(runtime: Runtime) -> None:
    assert reverted(runtime, b"ab\xffcd\xc3").message == "ab\ufffdcd\ufffd"


def test_an_empty_revert_message_still_reverts(runtime: Runtime) -> None:
    assert reverted(runtime, b"").message == "reverted"


def test_a_revert_message_range_outside_memory_traps_though_only_its_bound_is_read(
    runtime: Runtime,
) -> None:
    # Every range must lie in memory (docs/contract-abi.md); truncating the message at its bound
    # does not make a range past the end valid.
    for length in (MEMORY_BYTES - DATA + 1, MEMORY_BYTES, 0x7FFFFFFF, -1):
        outcome = probe(runtime, DictHost(), "revert", [DATA, length], {DATA: b"x"}).outcome
        assert outcome.status == "trapped"
        assert outcome.message == f"memory out of bounds: {length & 0xFFFFFFFF} bytes at {DATA}"
    at_the_end = probe(runtime, DictHost(), "revert", [DATA, MEMORY_BYTES - DATA], {DATA: b"x"})
    assert at_the_end.outcome.status == "reverted"
    assert at_the_end.outcome.message == "x" + "\x00" * (REVERT_MESSAGE_BYTES_MAX - 1)


def test_a_revert_undoes_nothing_itself_but_ends_the_call(runtime: Runtime) -> None:
    # The writes of a reverted call are undone by the chain (the caller of the runtime); the
    # runtime's part is to end the call at once, with no result.
    code = module(
        """
  (data (i32.const 0) "key")
  (func (export "write_then_revert")
    (call $state_put (i32.const 0) (i32.const 3) (i32.const 0) (i32.const 3))
    (call $revert (i32.const 0) (i32.const 3))
    (call $state_put (i32.const 0) (i32.const 1) (i32.const 0) (i32.const 1)))
"""
    )
    host = DictHost()
    outcome = invoke(runtime, code, "write_then_revert", host)
    assert (outcome.status, outcome.message) == ("reverted", "key")
    assert host.state == {b"key": b"key"}


# -- state --------------------------------------------------------------------------------------


def test_state_put_get_delete(runtime: Runtime) -> None:
    host = DictHost()
    key = {DATA: b"balance/alice"}
    put = probe(runtime, host, "state_put", [DATA, 13, DATA + 64, 3], {**key, DATA + 64: b"100"})
    assert put.outcome.status == "ok"
    assert host.state == {b"balance/alice": b"100"}
    got = probe(runtime, host, "state_get", [DATA, 13, OUTPUT, WINDOW], key)
    assert (got.result, written(got.window, b"100")) == (3, True)
    deleted = probe(runtime, host, "state_delete", [DATA, 13], key)
    assert deleted.outcome.status == "ok"
    assert host.state == {}
    assert probe(runtime, host, "state_get", [DATA, 13, OUTPUT, WINDOW], key).result == -1
    # Deleting what is absent does nothing.
    again = probe(runtime, host, "state_delete", [DATA, 13], key)
    assert (again.outcome.status, host.state) == ("ok", {})


def test_a_state_put_overwrites(runtime: Runtime) -> None:
    host = DictHost()
    host.state[b"k"] = b"old"
    probe(runtime, host, "state_put", [DATA, 1, DATA + 8, 3], {DATA: b"k", DATA + 8: b"new"})
    assert host.state == {b"k": b"new"}


def test_state_keys_at_their_bound_and_one_byte_past(runtime: Runtime) -> None:
    bound = STATE_KEY_BYTES_MAX
    host = DictHost()
    key = bytes(range(256))[:bound] + b"+"
    probe(runtime, host, "state_put", [DATA, bound, DATA, 1], {DATA: key})
    assert host.state == {key[:bound]: key[:1]}
    for name, arguments in (
        ("state_put", [DATA, bound + 1, DATA, 1]),
        ("state_get", [DATA, bound + 1, OUTPUT, WINDOW]),
        ("state_delete", [DATA, bound + 1]),
    ):
        with pytest.raises(RequestError, match=f"{bound + 1} bytes where at most {bound}"):
            probe(runtime, host, name, arguments, {DATA: key})
    assert host.state == {key[:bound]: key[:1]}


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("state_put", [DATA, 0, DATA, 1]),
        ("state_get", [DATA, 0, OUTPUT, WINDOW]),
        ("state_delete", [DATA, 0]),
    ],
)
def test_an_empty_state_key_is_refused(runtime: Runtime, name: str, arguments: list[int]) -> None:
    # A key is 1 to 256 bytes (docs/contract-abi.md).
    host = DictHost()
    host.state[b""] = b"planted"
    with pytest.raises(RequestError, match="a state key is 1 to 256 bytes"):
        probe(runtime, host, name, arguments, {DATA: b"v"})
    assert host.state == {b"": b"planted"}


def test_state_values_at_their_bound_and_one_byte_past(runtime: Runtime) -> None:
    bound = STATE_VALUE_BYTES_MAX
    host = DictHost()
    value = b"v" * (bound + 1)
    probe(runtime, host, "state_put", [DATA, 1, DATA + 8, bound], {DATA: b"k", DATA + 8: value})
    assert host.state == {b"k": value[:bound]}
    with pytest.raises(RequestError, match=f"{bound + 1} bytes where at most {bound}"):
        probe(
            runtime,
            host,
            "state_put",
            [DATA, 1, DATA + 8, bound + 1],
            {DATA: b"q", DATA + 8: value},
        )
    assert host.state == {b"k": value[:bound]}


# -- state_range --------------------------------------------------------------------------------


def page(entries: Sequence[tuple[bytes, bytes]]) -> bytes:
    return b"".join(
        struct.pack("<I", len(key)) + key + struct.pack("<I", len(value)) + value
        for key, value in entries
    )


def ranged(
    runtime: Runtime,
    host: DictHost,
    prefix: bytes,
    start_after: bytes,
    limit: int,
    *,
    capacity: int = WINDOW,
    read_only: bool = False,
) -> Probed:
    return probe(
        runtime,
        host,
        "state_range",
        [DATA, len(prefix), DATA + 512, len(start_after), limit, OUTPUT, capacity],
        {DATA: prefix, DATA + 512: start_after},
        read_only=read_only,
    )


@pytest.fixture
def ranged_host() -> DictHost:
    host = DictHost()
    host.state.update({b"a1": b"x", b"a2": b"yy", b"a3": b"", b"b1": b"z", b"a": b"root"})
    return host


def test_state_range_pages_in_key_order_in_its_format(
    runtime: Runtime, ranged_host: DictHost
) -> None:
    first = ranged(runtime, ranged_host, b"a", b"", 2)
    expected = page([(b"a", b"root"), (b"a1", b"x")])
    assert expected == b"\x01\x00\x00\x00a\x04\x00\x00\x00root\x02\x00\x00\x00a1\x01\x00\x00\x00x"
    assert first.result == len(expected)
    assert written(first.window, expected)
    second = ranged(runtime, ranged_host, b"a", b"a1", 2)
    expected = page([(b"a2", b"yy"), (b"a3", b"")])
    assert (second.result, written(second.window, expected)) == (len(expected), True)
    last = ranged(runtime, ranged_host, b"a", b"a3", 2)
    assert (last.result, any(last.window)) == (0, False)


def test_state_range_with_an_empty_prefix_is_everything(
    runtime: Runtime, ranged_host: DictHost
) -> None:
    everything = ranged(runtime, ranged_host, b"", b"", RANGE_LIMIT_MAX, capacity=WINDOW)
    expected = page(sorted(ranged_host.state.items()))
    assert (everything.result, written(everything.window, expected)) == (len(expected), True)


def test_a_state_range_page_too_large_for_its_buffer_is_not_written(
    runtime: Runtime, ranged_host: DictHost
) -> None:
    expected = page([(b"a", b"root"), (b"a1", b"x")])
    small = ranged(runtime, ranged_host, b"a", b"", 2, capacity=len(expected) - 1)
    assert (small.result, any(small.window)) == (len(expected), False)


def test_state_range_is_read_only_safe(runtime: Runtime, ranged_host: DictHost) -> None:
    probed = ranged(runtime, ranged_host, b"b", b"", 1, read_only=True)
    assert written(probed.window, page([(b"b1", b"z")]))


@pytest.mark.parametrize("limit", [1, RANGE_LIMIT_MAX])
def test_state_range_limits_at_the_bounds_pass(
    runtime: Runtime, ranged_host: DictHost, limit: int
) -> None:
    assert ranged(runtime, ranged_host, b"a", b"", limit).outcome.status == "ok"


@pytest.mark.parametrize("limit", [0, RANGE_LIMIT_MAX + 1, -1])
def test_state_range_limits_out_of_bounds_are_refused(
    runtime: Runtime, ranged_host: DictHost, limit: int
) -> None:
    with pytest.raises(RequestError, match=f"a page of {limit} entries: 1 to {RANGE_LIMIT_MAX}"):
        ranged(runtime, ranged_host, b"a", b"", limit)


# -- emit ---------------------------------------------------------------------------------------


def emitted(runtime: Runtime, host: DictHost, name: bytes, data: bytes) -> Probed:
    return probe(
        runtime,
        host,
        "emit",
        [DATA, len(name), DATA + 128, len(data)],
        {DATA: name, DATA + 128: data},
    )


@pytest.mark.parametrize("name", ["transfer", "a.b-c_1", "X", "n" * 64])
def test_emit_with_a_valid_name(runtime: Runtime, name: str) -> None:
    host = DictHost()
    assert emitted(runtime, host, name.encode(), b"\x08\x01").outcome.status == "ok"
    assert host.events == [(name, b"\x08\x01")]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (b"", "an event named ''"),
        (b"has space", "an event named 'has space'"),
        ("café".encode(), "an event named 'café'"),
        (b"n" * 65, "65 bytes where at most 64"),
        (b"\xff", "not UTF-8"),
    ],
)
def test_emit_refuses_a_bad_name(runtime: Runtime, name: bytes, reason: str) -> None:
    host = DictHost()
    with pytest.raises(RequestError, match=reason):
        emitted(runtime, host, name, b"")
    assert host.events == []


def test_emit_data_at_its_bound_and_one_byte_past(runtime: Runtime) -> None:
    bound = EVENT_DATA_BYTES_MAX
    host = DictHost()
    data = b"d" * (bound + 1)
    assert emitted(runtime, host, b"big", data[:bound]).outcome.status == "ok"
    assert host.events == [("big", data[:bound])]
    with pytest.raises(RequestError, match=f"{bound + 1} bytes where at most {bound}"):
        emitted(runtime, host, b"big", data)
    assert len(host.events) == 1


# -- call and result_read -----------------------------------------------------------------------

CALLEE = b"token"
METHOD = b"transfer"
CALL_INPUT = b"\x0a\x03bob"


CALL_INPUT_LENGTH = DATA + 64 + len(CALL_INPUT)


def called(runtime: Runtime, host: DictHost, requested: int, gas: int = 10_000_000) -> Probed:
    """`call` of token.transfer with `requested` gas; do_call's input is CALL_INPUT_LENGTH long."""
    data = {DATA: CALLEE, DATA + 32: METHOD, DATA + 64: CALL_INPUT}
    arguments = [DATA, len(CALLEE), DATA + 32, len(METHOD), DATA + 64, len(CALL_INPUT)]
    return probe(runtime, host, "call", arguments, data, gas_argument=requested, gas=gas)


def test_call_passes_its_arguments_and_returns_the_status(runtime: Runtime) -> None:
    host = DictHost()
    host.call_answer = (1, b"ok result")
    status = called(runtime, host, 5_000)
    assert status.result == 1
    assert host.calls == [("token", "transfer", CALL_INPUT, 5_000)]


def test_result_read_gives_the_last_calls_result_or_failure_message(runtime: Runtime) -> None:
    code = module(
        """
  (data (i32.const 0) "token")
  (data (i32.const 16) "transfer")
  (func (export "call_then_read") (local $status i32) (local $length i32)
    (local.set $status (call $call (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 8)
      (i32.const 0) (i32.const 0) (i64.const 0)))
    (local.set $length (call $result_read (i32.const 108) (i32.const 64)))
    (i32.store (i32.const 100) (local.get $status))
    (i32.store (i32.const 104) (local.get $length))
    (call $return_data (i32.const 100) (i32.add (i32.const 8)
      (select (local.get $length) (i32.const 0) (i32.gt_s (local.get $length) (i32.const 0))))))
"""
    )
    host = DictHost()
    host.call_answer = (1, b"the result")
    outcome = invoke(runtime, code, "call_then_read", host)
    assert outcome.return_data == struct.pack("<ii", 1, 10) + b"the result"
    host.call_answer = (6, b"callee reverted: no funds")
    outcome = invoke(runtime, code, "call_then_read", host)
    assert outcome.return_data == struct.pack("<ii", 6, 25) + b"callee reverted: no funds"
    host.call_answer = (1, b"")
    outcome = invoke(runtime, code, "call_then_read", host)
    assert outcome.return_data == struct.pack("<ii", 1, 0)


def test_result_read_before_any_call_is_absent(runtime: Runtime) -> None:
    outcome = invoke(runtime, PROBE, "result_before_any_call", DictHost())
    assert outcome.return_data == struct.pack("<i", -1)


def call_price() -> int:
    """The `call` host function's own price: the host call and the bytes of its three ranges."""
    return PRICES.host_call + PRICES.boundary_byte * (len(CALLEE) + len(METHOD) + len(CALL_INPUT))


def gas_before_the_callee(input_length: int) -> int:
    """What do_call spends before its callee: the base, input_read's price, the operators (under
    one gas in all) and the call's own price."""
    input_read_price = PRICES.host_call + PRICES.boundary_byte * input_length
    return PRICES.call_base + input_read_price + 1 + call_price()


def gas_left_at_the_call(gas: int, input_length: int) -> int:
    return gas - gas_before_the_callee(input_length)


def test_call_gas_zero_means_all_that_is_left(runtime: Runtime) -> None:
    host = DictHost()
    gas = 100_000
    called(runtime, host, 0, gas=gas)
    assert host.calls[0][3] == gas_left_at_the_call(gas, CALL_INPUT_LENGTH)


@pytest.mark.parametrize("requested", [10**6, 1 << 62])
def test_call_gas_is_capped_by_what_is_left(runtime: Runtime, requested: int) -> None:
    host = DictHost()
    gas = 100_000
    called(runtime, host, requested, gas=gas)
    assert host.calls[0][3] == gas_left_at_the_call(gas, CALL_INPUT_LENGTH)


def test_call_gas_below_what_is_left_is_passed_as_it_is(runtime: Runtime) -> None:
    host = DictHost()
    called(runtime, host, 1, gas=100_000)
    assert host.calls[0][3] == 1


@pytest.mark.parametrize("requested", [-1, -(1 << 63)])
def test_negative_call_gas_is_refused(runtime: Runtime, requested: int) -> None:
    host = DictHost()
    with pytest.raises(RequestError, match=f"passed {requested} gas to a call"):
        called(runtime, host, requested)
    assert host.calls == []


def test_a_call_without_gas_left_for_the_callee_runs_out(runtime: Runtime) -> None:
    # Exactly enough for everything before the callee: nothing is left for it, and one gas more
    # leaves it one.
    just_enough = gas_before_the_callee(CALL_INPUT_LENGTH)
    host = DictHost()
    status = called(runtime, host, 0, gas=just_enough)
    assert (status.outcome.status, status.outcome.gas_used) == ("out_of_gas", just_enough)
    assert host.calls == []
    called(runtime, host, 0, gas=just_enough + 1)
    assert [gas for *_call, gas in host.calls] == [1]


class ChargingHost(DictHost):
    """Charges the gas it gives a callee, as the chain does when the callee uses it all."""

    def call(self, contract: str, method: str, input_data: bytes, gas: int) -> tuple[int, bytes]:
        answer = super().call(contract, method, input_data, gas)
        self.charged += gas
        return answer


def test_a_callee_using_all_it_was_given_leaves_the_caller_its_own_gas(runtime: Runtime) -> None:
    host = ChargingHost()
    gas = 100_000
    status = called(runtime, host, 0, gas=gas)
    # The callee took everything left; the caller's remaining operators then run out.
    given = host.calls[0][3]
    assert status.outcome.status == "out_of_gas"
    assert status.outcome.gas_used + host.charged == gas
    assert host.charged == given


# -- hash and verify_signature ------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"abc", bytes(range(256)) * 8])
def test_hash_writes_the_32_byte_hash(runtime: Runtime, data: bytes) -> None:
    probed = probe(runtime, DictHost(), "hash", [DATA, len(data), OUTPUT], {DATA: data})
    assert probed.outcome.status == "ok"
    assert written(probed.window, hashlib.sha256(data).digest())


def verified(runtime: Runtime, host: DictHost, algorithm: bytes, signature: bytes) -> Probed:
    key, message = b"public key", b"message"
    return probe(
        runtime,
        host,
        "verify_signature",
        [
            DATA,
            len(algorithm),
            DATA + 64,
            len(key),
            DATA + 128,
            len(message),
            DATA + 192,
            len(signature),
        ],
        {DATA: algorithm, DATA + 64: key, DATA + 128: message, DATA + 192: signature},
    )


def test_verify_signature_gives_one_or_zero(runtime: Runtime) -> None:
    good = hashlib.sha256(b"public key" + b"message").digest()
    assert verified(runtime, DictHost(), b"test", good).result == 1
    assert verified(runtime, DictHost(), b"test", b"\x00" * 32).result == 0
    assert verified(runtime, DictHost(), b"test", b"").result == 0


def test_a_host_refusal_in_verify_signature_propagates(runtime: Runtime) -> None:
    with pytest.raises(RequestError, match="unknown signature algorithm 'rsa'") as caught:
        verified(runtime, DictHost(), b"rsa", b"")
    # The call's own gas is on the error (vm.runtime's docstring).
    assert caught.value.gas_used > PRICES.call_base  # type: ignore[attr-defined]


# -- out-of-bounds ranges trap ------------------------------------------------------------------

# For each host function, arguments where one range runs past the end of memory (and the others
# are inside it), with the data the valid ranges need.
OUT_OF_BOUNDS: dict[str, tuple[list[int], dict[int, bytes]]] = {
    "input_read": ([OUTSIDE], {}),
    "context_read": ([ContextField.CONTRACT, OUTSIDE, 64], {}),
    "return_data": ([OUTSIDE, 4], {}),
    "revert": ([OUTSIDE, 4], {}),
    "state_get/key": ([OUTSIDE, 4, OUTPUT, WINDOW], {}),
    "state_get/value": ([DATA, 3, OUTSIDE, 64], {DATA: b"key"}),
    "state_put/key": ([OUTSIDE, 4, DATA, 1], {DATA: b"v"}),
    "state_put/value": ([DATA, 3, OUTSIDE, 4], {DATA: b"key"}),
    "state_delete": ([OUTSIDE, 4], {}),
    "state_range/prefix": ([OUTSIDE, 4, DATA, 0, 1, OUTPUT, WINDOW], {}),
    "state_range/start_after": ([DATA, 0, OUTSIDE, 4, 1, OUTPUT, WINDOW], {}),
    "state_range/out": ([DATA, 0, DATA, 0, 10, OUTSIDE, 1_000], {}),
    "emit/name": ([OUTSIDE, 4, DATA, 0], {}),
    "emit/data": ([DATA, 4, OUTSIDE, 4], {DATA: b"name"}),
    "call/contract": ([OUTSIDE, 4, DATA, 4, DATA, 0], {DATA: b"name"}),
    "call/method": ([DATA, 4, OUTSIDE, 4, DATA, 0], {DATA: b"name"}),
    "call/input": ([DATA, 4, DATA, 4, OUTSIDE, 4], {DATA: b"name"}),
    "result_read": ([OUTSIDE, 64], {}),
    "hash/data": ([OUTSIDE, 4, OUTPUT], {}),
    "hash/out": ([DATA, 4, OUTSIDE], {}),
    "verify_signature/algorithm": ([OUTSIDE, 4, DATA, 1, DATA, 1, DATA, 1], {DATA: b"test"}),
    "verify_signature/key": ([DATA, 4, OUTSIDE, 4, DATA, 1, DATA, 1], {DATA: b"test"}),
    "verify_signature/message": ([DATA, 4, DATA, 1, OUTSIDE, 4, DATA, 1], {DATA: b"test"}),
    "verify_signature/signature": ([DATA, 4, DATA, 1, DATA, 1, OUTSIDE, 4], {DATA: b"test"}),
}


def test_every_host_function_has_an_out_of_bounds_case() -> None:
    tested = {case.split("/")[0] for case in OUT_OF_BOUNDS}
    assert tested == set(HOST_FUNCTIONS) - {"input_length"}


@pytest.mark.parametrize("case", sorted(OUT_OF_BOUNDS))
def test_a_range_outside_memory_traps(runtime: Runtime, case: str) -> None:
    name = case.split("/", maxsplit=1)[0]
    arguments, data = OUT_OF_BOUNDS[case]
    host = DictHost()
    host.state[b"key"] = b"a value of some length"
    before = dict(host.state)
    gas_argument = 0 if name == "call" else None
    # input_read writes the whole input again: long enough to run past the end.
    padding = {DATA: b"\x00" * 64} if name == "input_read" else {}
    input_data = probe_input(arguments, {**data, **padding}, gas_argument)
    # result_read needs a result: its export makes a call first.
    export = "result_read_after_call" if name == "result_read" else f"do_{name}"
    outcome = invoke(runtime, PROBE, export, host, input_data=input_data)
    assert outcome.status == "trapped"
    assert outcome.message.startswith("memory out of bounds: ")
    assert (host.state, host.events) == (before, [])
    assert host.calls == ([("a", "b", b"", host.calls[0][3])] if name == "result_read" else [])


def test_a_range_that_wraps_around_32_bits_traps(runtime: Runtime) -> None:
    # pointer 0xffffffff, length 2: the end wraps to 1 in 32 bits; still outside.
    outcome = invoke(
        runtime,
        PROBE,
        "do_return_data",
        DictHost(),
        input_data=probe_input([-1, 2], {}),
    )
    assert (outcome.status, outcome.message) == (
        "trapped",
        "memory out of bounds: 2 bytes at 4294967295",
    )


# -- read-only calls ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "arguments", "what"),
    [
        ("state_put", [DATA, 3, DATA, 3], "write state"),
        ("state_delete", [DATA, 3], "delete state"),
        ("emit", [DATA, 3, DATA, 3], "emit events"),
    ],
)
def test_a_read_only_call_cannot_write(
    runtime: Runtime, name: str, arguments: list[int], what: str
) -> None:
    host = DictHost()
    host.state[b"key"] = b"kept"
    with pytest.raises(RequestError, match=f"read-only call: a query cannot {what}"):
        probe(runtime, host, name, arguments, {DATA: b"key"}, read_only=True)
    assert (host.state, host.events) == ({b"key": b"kept"}, [])


def test_a_read_only_call_can_read(runtime: Runtime) -> None:
    host = DictHost()
    host.state[b"key"] = b"kept"
    probed = probe(
        runtime, host, "state_get", [DATA, 3, OUTPUT, WINDOW], {DATA: b"key"}, read_only=True
    )
    assert (probed.result, written(probed.window, b"kept")) == (4, True)

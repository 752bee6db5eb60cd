"""Savepoints: a call reverts its own writes and events while its caller keeps going."""

from __future__ import annotations

import pytest
from execution_chain import Chain, status_name
from hypothesis import given, settings
from hypothesis import strategies as st
from probe_contract import bare_context, register_probe

from causeway.errors import InvariantError, RequestError
from causeway.execution.context import TransactionContext, failure
from causeway.execution.keys import KV_NAMESPACE
from causeway.execution.overlay import TransactionWrites
from causeway.types.v1 import types_pb2

STATE = {b"probe/kept": b"committed", b"probe/gone": b"committed too"}


def fail(message: str) -> None:
    raise failure(types_pb2.RESULT_STATUS_INSUFFICIENT_FUNDS, message)


def test_rolling_back_restores_each_key_as_it_was() -> None:
    context = bare_context(dict(STATE))
    context.put(b"kept", b"first")
    savepoint = context.savepoint()
    context.put(b"kept", b"second")
    context.put(b"new", b"1")
    context.delete(b"gone")
    assert context.get(b"gone") is None
    context.rollback_to(savepoint)
    assert context.writes == {b"probe/kept": b"first"}
    assert context.get(b"kept") == b"first"
    assert context.get(b"gone") == b"committed too"
    assert context.get(b"new") is None
    assert context.range(b"", b"", 10) == [(b"gone", b"committed too"), (b"kept", b"first")]


def test_rolling_back_the_inner_savepoint_only() -> None:
    context = bare_context(dict(STATE))
    outer = context.savepoint()
    context.put(b"outer", b"1")
    context.emit("outer", ())
    inner = context.savepoint()
    context.put(b"inner", b"2")
    context.put(b"outer", b"overwritten inside")
    context.emit("inner", ())
    context.rollback_to(inner)
    assert context.writes == {b"probe/outer": b"1"}
    assert [event[1] for event in context.events] == ["outer"]
    context.release(outer)
    assert context.writes == {b"probe/outer": b"1"}
    assert context.transaction_writes.journal == []


def test_rolling_back_the_outer_savepoint_after_releasing_the_inner() -> None:
    context = bare_context(dict(STATE))
    context.put(b"before", b"0")
    context.emit("before", ())
    outer = context.savepoint()
    context.put(b"outer", b"1")
    inner = context.savepoint()
    context.put(b"inner", b"2")
    context.delete(b"kept")
    context.emit("inner", ())
    context.release(inner)
    assert context.writes == {
        b"probe/before": b"0",
        b"probe/outer": b"1",
        b"probe/inner": b"2",
        b"probe/kept": None,
    }
    context.rollback_to(outer)
    assert context.writes == {b"probe/before": b"0"}
    assert [event[1] for event in context.events] == ["before"]
    assert context.get(b"kept") == b"committed"


def test_ending_an_outer_savepoint_ends_the_inner_ones() -> None:
    context = bare_context(dict(STATE))
    outer = context.savepoint()
    inner = context.savepoint()
    context.put(b"inner", b"2")
    context.rollback_to(outer)
    assert context.writes == {}
    with pytest.raises(InvariantError) as caught:
        context.release(inner)
    assert caught.value.message == (
        "cannot release a savepoint that is not open (already released or rolled back, or taken "
        "in another transaction)"
    )


def test_a_savepoint_is_handed_back_once() -> None:
    context = bare_context(dict(STATE))
    savepoint = context.savepoint()
    context.release(savepoint)
    for action, name in ((context.release, "release"), (context.rollback_to, "roll back to")):
        with pytest.raises(InvariantError) as caught:
            action(savepoint)
        assert caught.value.message.startswith(f"cannot {name} a savepoint that is not open")


def test_a_savepoint_of_another_transaction_is_refused() -> None:
    first = bare_context(dict(STATE))
    second = bare_context(dict(STATE))
    savepoint = first.savepoint()
    second.savepoint()
    with pytest.raises(InvariantError):
        second.rollback_to(savepoint)


def test_rolled_back_work_stays_charged() -> None:
    context = bare_context(dict(STATE))
    savepoint = context.savepoint()
    context.get(b"kept")
    context.put(b"new", b"value")
    context.rollback_to(savepoint)
    assert (context.meter.read_count, context.meter.write_count) == (1, 1)
    assert context.meter.bytes_written == len(b"probe/new") + len(b"value")


# ---- the model: a stack of copies --------------------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.sampled_from([b"a", b"b", b"c"]), st.binary(max_size=1)),
        st.tuples(st.just("delete"), st.sampled_from([b"a", b"b", b"c"]), st.none()),
        st.tuples(st.sampled_from(["open", "rollback", "release"]), st.none(), st.none()),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(steps=operations)
def test_savepoints_match_a_stack_of_copies(
    steps: list[tuple[str, bytes | None, bytes | None]],
) -> None:
    writes = TransactionWrites()
    model: list[dict[bytes, bytes | None]] = [{}]
    open_savepoints = []
    for action, key, value in steps:
        if action in {"put", "delete"}:
            assert key is not None
            writes.set(key, value)
            model[-1][key] = value
        elif action == "open":
            open_savepoints.append(writes.savepoint(0))
            model.append(dict(model[-1]))
        elif open_savepoints and action == "rollback":
            writes.rollback_to(open_savepoints.pop())
            model.pop()
        elif open_savepoints and action == "release":
            writes.release(open_savepoints.pop())
            released = model.pop()
            model[-1] = released
        assert writes.values == model[-1]
    if not open_savepoints:
        assert writes.journal == []


# ---- through the executor -----------------------------------------------------------------------


def test_a_failed_call_is_reverted_and_its_caller_keeps_going(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors = []

    def callee(context: TransactionContext) -> None:
        context.put(b"callee", b"written")
        context.emit("callee", ())
        fail("the callee refuses")

    def caller(context: TransactionContext) -> bytes:
        context.put(b"caller", b"before")
        errors.append(context.attempt(lambda: callee(context)))
        context.emit("caller", ())
        return b"done"

    register_probe(monkeypatch, caller)
    result = chain.run("org1/alice", "probe", "run")
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert result.return_value == b"done"
    assert [event.name for event in result.events] == ["caller"]
    assert chain.state[b"probe/caller"] == b"before"
    assert b"probe/callee" not in chain.state
    assert [(error.reason, error.message) for error in errors if error is not None] == [
        ("insufficient_funds", "the callee refuses")
    ]
    # The callee's write is still charged.
    assert result.cost.writes == 2


def test_a_call_that_succeeds_keeps_its_writes_and_events(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    def caller(context: TransactionContext) -> None:
        assert context.attempt(lambda: context.put(b"callee", b"1")) is None
        assert context.attempt(lambda: context.emit("callee", ())) is None
        # An open savepoint left at the end is released: its writes are kept.
        context.savepoint()
        context.put(b"left open", b"2")

    register_probe(monkeypatch, caller)
    result = chain.run("org1/alice", "probe", "run")
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert [event.name for event in result.events] == ["callee"]
    assert chain.state[b"probe/callee"] == b"1"
    assert chain.state[b"probe/left open"] == b"2"


def test_a_failed_transaction_changes_nothing_even_after_a_released_savepoint(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    def body(context: TransactionContext) -> None:
        savepoint = context.savepoint()
        context.put(b"released", b"1")
        context.emit("released", ())
        context.release(savepoint)
        fail("the transaction fails after all")

    register_probe(monkeypatch, body)
    before = dict(chain.state)
    result = chain.run("org1/alice", "probe", "run")
    assert status_name(result) == "RESULT_STATUS_INSUFFICIENT_FUNDS"
    assert result.error == "the transaction fails after all"
    assert list(result.events) == []
    assert chain.state == before


# ---- calls between contracts: the callee's own namespace, the transaction's savepoints ----------


def test_a_called_contract_gets_its_own_namespace_and_shares_the_transaction() -> None:
    context = bare_context(dict(STATE))
    callee = context.enter("callee", b"callee/", ())
    assert (callee.contract, callee.caller, context.caller) == ("callee", "probe", None)
    callee.put(b"k", b"1")
    callee.emit("called", ())
    assert callee.get(b"../probe/kept") is None
    with pytest.raises(RequestError) as caught:
        callee.get_granted(b"probe/kept")
    assert caught.value.message.startswith(
        "contract callee may not read state key b'probe/kept': it is outside its namespace "
        "'callee/'"
    )
    assert context.writes == {b"callee/k": b"1"}
    assert context.events == [("callee", "called", (), b"")]
    assert context.meter is callee.meter
    assert context.meter.write_count == 1


def test_a_callers_savepoint_rolls_back_the_callees_writes_and_events(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    def callee_method(callee: TransactionContext) -> None:
        callee.put(b"k", b"callee wrote")
        callee.emit("called", ())
        fail("the callee refuses")

    def caller(context: TransactionContext) -> None:
        context.put(b"caller", b"1")
        callee = context.enter("kv", KV_NAMESPACE, ())
        error = context.attempt(lambda: callee_method(callee))
        assert error is not None
        assert error.message == "the callee refuses"
        context.attempt(lambda: callee.put(b"second", b"kept"))

    register_probe(monkeypatch, caller)
    result = chain.run("org1/alice", "probe", "run")
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert list(result.events) == []
    assert chain.state[b"probe/caller"] == b"1"
    assert chain.state[b"kv/second"] == b"kept"
    assert b"kv/k" not in chain.state
    # All three writes are charged to the transaction, the rolled-back one included.
    assert result.cost.writes == 3

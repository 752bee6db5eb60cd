"""Each contract reads and writes only its own namespace and its grants: enforced by the context."""

from __future__ import annotations

import pytest
from execution_chain import Chain, status_name
from probe_contract import PROBE_NAMESPACE, bare_context, register_probe

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import InvariantError, RequestError
from causeway.execution.context import TransactionContext
from causeway.execution.contracts import CONTRACTS
from causeway.execution.keys import (
    CONFIG_KEY,
    GRANTS,
    LEDGER_SUPPLY_KEY,
    MEMBER_PREFIX,
    NAMESPACES,
    StateGrant,
    check_layout,
    kv_key,
    member_key,
)
from causeway.storage import STATE_KEY_BYTES_MAX

STATE = {
    kv_key(b"secret"): b"kv value",
    CONFIG_KEY: b"config",
    member_key("org1/alice"): b"member",
    b"probe/mine": b"own value",
    # Keys that a careless prefix check would take for the probe's or a grant's.
    b"probe": b"bare namespace name",
    b"probez": b"sibling of the namespace",
    b"sys/config/x": b"under the config key",
    b"sys/membership/x": b"membership's namespace, not the member grant",
}
KEY_MAX = STATE_KEY_BYTES_MAX - len(PROBE_NAMESPACE)


def refusal(call: object, *arguments: object) -> RequestError:
    with pytest.raises(RequestError) as caught:
        call(*arguments)  # type: ignore[operator]
    return caught.value


# ---- the own namespace: relative keys ---------------------------------------------------------


def test_keys_are_relative_to_the_namespace() -> None:
    context = bare_context(dict(STATE))
    assert context.get(b"mine") == b"own value"
    context.put(b"new", b"1")
    context.delete(b"mine")
    assert context.writes == {b"probe/new": b"1", b"probe/mine": None}
    # Cost counts the state keys the context touched, namespace included.
    assert context.meter.bytes_written == len(b"probe/new") + 1 + len(b"probe/mine")


@pytest.mark.parametrize(
    "key",
    [b"../kv/secret", b"/kv/secret", b"\x00kv/secret", b"kv/secret", b"../sys/config", b"z"],
)
def test_no_relative_key_escapes_the_namespace(key: bytes) -> None:
    context = bare_context(dict(STATE))
    assert context.get(key) is None
    context.put(key, b"x")
    assert list(context.writes) == [PROBE_NAMESPACE + key]


def test_range_returns_only_the_namespace_with_relative_keys() -> None:
    context = bare_context(dict(STATE))
    context.put(b"new", b"1")
    assert context.range(b"", b"", 100) == [(b"mine", b"own value"), (b"new", b"1")]
    assert context.range(b"", b"mine", 100) == [(b"new", b"1")]
    assert context.range(b"n", b"", 100) == [(b"new", b"1")]


def test_empty_key_is_refused_with_the_reason() -> None:
    context = bare_context(dict(STATE))
    for call in (context.get, context.delete):
        error = refusal(call, b"")
        assert error.reason == "invalid_argument"
        assert error.message == (
            f"contract probe passed a state key of 0 bytes: it must be 1 to {KEY_MAX} bytes "
            "(after its namespace 'probe/')"
        )
    assert refusal(context.put, b"", b"v").reason == "invalid_argument"
    assert context.writes == {}


def test_key_length_at_the_bound_and_one_past() -> None:
    context = bare_context(dict(STATE))
    at_limit = b"k" * KEY_MAX
    context.put(at_limit, b"v")
    assert len(next(iter(context.writes))) == STATE_KEY_BYTES_MAX
    assert context.get(at_limit) == b"v"
    past = b"k" * (KEY_MAX + 1)
    for error in (
        refusal(context.get, past),
        refusal(context.put, past, b"v"),
        refusal(context.delete, past),
    ):
        assert error.reason == "invalid_argument"
        assert f"of {KEY_MAX + 1} bytes: it must be 1 to {KEY_MAX} bytes" in error.message
    assert list(context.writes) == [PROBE_NAMESPACE + at_limit]


def test_range_bounds_at_the_limit_and_one_past() -> None:
    context = bare_context(dict(STATE))
    assert context.range(b"p" * KEY_MAX, b"s" * KEY_MAX, 10) == []
    prefix_error = refusal(context.range, b"p" * (KEY_MAX + 1), b"", 10)
    assert f"state prefix of {KEY_MAX + 1} bytes: it must be 0 to {KEY_MAX}" in (
        prefix_error.message
    )
    start_error = refusal(context.range, b"", b"s" * (KEY_MAX + 1), 10)
    assert f"state start_after of {KEY_MAX + 1} bytes: it must be 1 to {KEY_MAX}" in (
        start_error.message
    )


# ---- grants: absolute keys ------------------------------------------------------------------


def test_without_a_grant_no_absolute_key_is_reachable() -> None:
    context = bare_context(dict(STATE))
    for key in (kv_key(b"secret"), CONFIG_KEY, b"probe/mine", b""):
        error = refusal(context.get_granted, key)
        assert error.reason == "permission_denied"
        assert error.message == (
            f"contract probe may not read state key {key!r}: it is outside its namespace "
            "'probe/' and its grants (none)"
        )
        assert refusal(context.put_granted, key, b"x").reason == "permission_denied"
        assert refusal(context.delete_granted, key).reason == "permission_denied"
    assert context.writes == {}
    assert context.meter.read_count == 0


def test_a_read_only_grant_does_not_write() -> None:
    context = bare_context(dict(STATE), grants=[StateGrant(CONFIG_KEY)])
    assert context.get_granted(CONFIG_KEY) == b"config"
    error = refusal(context.put_granted, CONFIG_KEY, b"x")
    assert error.message == (
        "contract probe may not write state key b'sys/config': it is outside its namespace "
        "'probe/' and its grants (sys/config (read-only))"
    )
    assert refusal(context.delete_granted, CONFIG_KEY).reason == "permission_denied"
    assert context.writes == {}


@pytest.mark.parametrize("key", [b"sys/config/x", b"sys/confi", b"sys/configx", b"sys/"])
def test_a_single_key_grant_covers_that_key_only(key: bytes) -> None:
    context = bare_context(dict(STATE), grants=[StateGrant(CONFIG_KEY, writable=True)])
    assert refusal(context.get_granted, key).reason == "permission_denied"
    assert refusal(context.put_granted, key, b"x").reason == "permission_denied"
    context.put_granted(CONFIG_KEY, b"new")
    assert context.writes == {CONFIG_KEY: b"new"}


@pytest.mark.parametrize("key", [b"sys/member/", b"sys/member", b"sys/membership/x", b"sys/"])
def test_a_prefix_grant_covers_longer_keys_only(key: bytes) -> None:
    context = bare_context(dict(STATE), grants=[StateGrant(MEMBER_PREFIX, prefix=True)])
    assert context.get_granted(member_key("org1/alice")) == b"member"
    assert refusal(context.get_granted, key).reason == "permission_denied"


def test_granted_key_length_at_the_bound_and_one_past() -> None:
    context = bare_context(
        dict(STATE), grants=[StateGrant(MEMBER_PREFIX, prefix=True, writable=True)]
    )
    at_limit = MEMBER_PREFIX + b"m" * (STATE_KEY_BYTES_MAX - len(MEMBER_PREFIX))
    context.put_granted(at_limit, b"v")
    error = refusal(context.put_granted, at_limit + b"m", b"v")
    assert error.reason == "invalid_argument"
    assert error.message == (
        f"contract probe passed a state key of {STATE_KEY_BYTES_MAX + 1} bytes, above the limit "
        f"of {STATE_KEY_BYTES_MAX}"
    )
    assert context.writes == {at_limit: b"v"}


@pytest.mark.parametrize("prefix", [b"sys/member", b"sys/", b"", b"sys/membership/"])
def test_a_granted_range_stays_inside_its_grant(prefix: bytes) -> None:
    context = bare_context(
        dict(STATE), grants=[StateGrant(MEMBER_PREFIX, prefix=True), StateGrant(CONFIG_KEY)]
    )
    assert context.range_granted(MEMBER_PREFIX, b"", 10) == [(member_key("org1/alice"), b"member")]
    error = refusal(context.range_granted, prefix, b"", 10)
    assert error.reason == "permission_denied"
    assert error.message.startswith(f"contract probe may not range over state key {prefix!r}")


def test_no_range_over_a_single_key_grant() -> None:
    context = bare_context(dict(STATE), grants=[StateGrant(CONFIG_KEY, writable=True)])
    assert refusal(context.range_granted, CONFIG_KEY, b"", 10).reason == "permission_denied"


# ---- through the executor: the transaction fails and nothing changes --------------------------


@pytest.mark.parametrize(
    ("key", "action"),
    [(kv_key(b"secret"), "write"), (CONFIG_KEY, "write"), (LEDGER_SUPPLY_KEY, "write")],
)
def test_a_contract_cannot_write_another_contracts_keys(
    chain: Chain, monkeypatch: pytest.MonkeyPatch, key: bytes, action: str
) -> None:
    def body(context: TransactionContext) -> None:
        context.put(b"mine", b"written first")
        context.emit("wrote", ())
        context.put_granted(key, b"forged")

    register_probe(monkeypatch, body)
    before = dict(chain.state)
    result = chain.run("org1/alice", "probe", "run")
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert result.error == (
        f"contract probe may not {action} state key {key!r}: it is outside its namespace "
        "'probe/' and its grants (none)"
    )
    assert list(result.events) == []
    assert chain.state == before


def test_a_contract_cannot_read_another_contracts_keys(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    put = chain.run(
        "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"secret", value=b"s")
    )
    assert status_name(put) == "RESULT_STATUS_OK"
    seen: list[bytes | None] = []

    def body(context: TransactionContext) -> None:
        seen.append(context.get(b"../kv/secret"))
        seen.append(context.get_granted(kv_key(b"secret")))

    register_probe(monkeypatch, body)
    result = chain.run("org1/alice", "probe", "run")
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert "may not read state key b'kv/secret'" in result.error
    assert seen == [None]


def test_a_users_kv_key_cannot_reach_the_ledger(chain: Chain) -> None:
    before = dict(chain.state)
    result = chain.run(
        "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"../ledger/supply", value=b"")
    )
    assert status_name(result) == "RESULT_STATUS_OK"
    assert {key: value for key, value in chain.state.items() if key not in before} == {
        b"kv/../ledger/supply": b""
    }
    assert LEDGER_SUPPLY_KEY not in chain.state


def test_events_carry_the_emitting_contracts_name(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_probe(monkeypatch, lambda context: context.emit("put", (("key", "6b"),)))
    result = chain.run("org1/alice", "probe", "run")
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert [(event.contract, event.name) for event in result.events] == [("probe", "put")]


# ---- the layout --------------------------------------------------------------------------------


def test_the_native_contracts_use_the_layout_of_keys() -> None:
    assert {name: contract.namespace for name, contract in CONTRACTS.items()} == NAMESPACES
    assert {name: contract.grants for name, contract in CONTRACTS.items() if contract.grants} == (
        GRANTS
    )
    assert CONTRACTS["kv"].grants == ()
    assert CONTRACTS["ledger"].grants == ()


@pytest.mark.parametrize(
    ("namespaces", "grants", "message"),
    [
        ({"a": b"a"}, {}, "namespace b'a' of contract a must end with '/'"),
        ({"a": b"/"}, {}, "namespace b'/' of contract a must end with '/'"),
        (
            {"a": b"ab/", "b": b"ab/c/"},
            {},
            "the namespaces of a (b'ab/') and b (b'ab/c/') overlap",
        ),
        ({"a": b"x/", "b": b"x/"}, {}, "the namespaces of a (b'x/') and b (b'x/') overlap"),
        (
            {"kv": b"kv/"},
            {"config": (StateGrant(b"kv/", prefix=True),)},
            "the grant kv/... (read-only) of config reaches into the namespace of kv (b'kv/')",
        ),
        (
            {"kv": b"kv/"},
            {"config": (StateGrant(b"kv/x"),)},
            "the grant kv/x (read-only) of config reaches into the namespace of kv (b'kv/')",
        ),
        (
            {"evidence": b"sys/evidence/"},
            {"config": (StateGrant(b"sys/", prefix=True, writable=True),)},
            "the grant sys/... (read-write) of config reaches into the namespace of evidence "
            "(b'sys/evidence/')",
        ),
    ],
)
def test_overlapping_layouts_are_refused(
    namespaces: dict[str, bytes], grants: dict[str, tuple[StateGrant, ...]], message: str
) -> None:
    with pytest.raises(InvariantError) as caught:
        check_layout(namespaces, grants)
    assert caught.value.message == message


def test_a_grant_next_to_a_namespace_is_not_an_overlap() -> None:
    # sys/config (one key) beside config's namespace sys/config/, and sys/member/... beside
    # membership's sys/membership/: neither reaches the other.
    check_layout(
        {"config": b"sys/config/", "membership": b"sys/membership/"},
        {"x": (StateGrant(b"sys/config"), StateGrant(b"sys/member/", prefix=True))},
    )

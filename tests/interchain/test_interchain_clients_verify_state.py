"""clients.verify_state: another chain's state read through this chain's client of it, the
read-only method user contracts call (``call`` reaches read-only methods of native contracts):
a value or an absence proven against a stored consensus state, every bad input refused with a
clear error, nothing written either way."""

from __future__ import annotations

import pytest
from clients_support import (
    client_state_keys,
    create_client,
    forged_header,
    home_chain,
    next_time,
    status,
    update,
)
from interchain_chain import InterchainChain

from causeway.contracts.v1 import contracts_pb2
from causeway.execution import KV_VALUE_BYTES_MAX
from causeway.execution.keys import KV_NAMESPACE
from causeway.interchain.clients import VERIFY_STATE_VALUE_BYTES_MAX
from causeway.interchain.v1 import interchain_pb2
from causeway.storage import STATE_KEY_BYTES_MAX
from causeway.types.v1 import types_pb2

KEY = b"registrations/42"
VALUE = b"registered"


@pytest.fixture
def home() -> InterchainChain:
    return home_chain()


@pytest.fixture
def remote() -> InterchainChain:
    """A chain whose kv holds KEY = VALUE from height 3 on."""
    chain = InterchainChain("remote")
    chain.advance(2)
    put = contracts_pb2.KvPutArguments(key=KEY, value=VALUE)
    assert status(chain.run("org1/alice", "kv", "put", put)) == "OK"
    chain.advance(1)
    return chain


def _linked(home: InterchainChain, remote: InterchainChain) -> str:
    """home's client of remote, updated to remote's latest height."""
    client_id = create_client(home, remote, 2)
    result = update(
        home, client_id, remote.client_header(remote.height, trusted_height=2), remote=remote
    )
    assert status(result) == "OK", result.error
    return client_id


def _verify(
    home: InterchainChain, arguments: interchain_pb2.ClientsVerifyStateArguments
) -> types_pb2.TransactionResult:
    return home.query("clients", "verify_state", arguments)


def _arguments(
    remote: InterchainChain, client_id: str, key: bytes, value: bytes | None, height: int
) -> interchain_pb2.ClientsVerifyStateArguments:
    return interchain_pb2.ClientsVerifyStateArguments(
        client_id=client_id,
        height=height,
        key=key,
        value=value or b"",
        absent=value is None,
        proof=remote.prove(key, height),
    )


def test_a_value_is_proven_and_the_consensus_state_returned(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = _linked(home, remote)
    height = remote.height
    result = _verify(home, _arguments(remote, client_id, KV_NAMESPACE + KEY, VALUE, height))
    assert status(result) == "OK", result.error
    state = interchain_pb2.ClientsVerifyStateResult.FromString(result.return_value).consensus_state
    assert state.block_hash == remote.blocks[height].block_hash
    assert state.state_root == remote.blocks[height].header.state_root
    assert state.time_ms == remote.blocks[height].header.time_ms


def test_an_absence_is_proven(home: InterchainChain, remote: InterchainChain) -> None:
    client_id = _linked(home, remote)
    missing = KV_NAMESPACE + b"registrations/43"
    result = _verify(home, _arguments(remote, client_id, missing, None, remote.height))
    assert status(result) == "OK", result.error


def test_a_wrong_value_or_a_false_absence_is_refused(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = _linked(home, remote)
    key = KV_NAMESPACE + KEY
    wrong = _arguments(remote, client_id, key, VALUE, remote.height)
    wrong.value = b"forged"
    refused = _verify(home, wrong)
    assert status(refused) != "OK"
    assert "value" in refused.error
    absent = _arguments(remote, client_id, key, VALUE, remote.height)
    absent.value, absent.absent = b"", True
    refused = _verify(home, absent)
    assert status(refused) != "OK"
    assert "absence" in refused.error


def test_a_value_from_a_height_the_client_never_verified_is_refused(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = _linked(home, remote)
    # Height 3 holds the value on remote, but the client stored only heights 2 and the latest.
    result = _verify(home, _arguments(remote, client_id, KV_NAMESPACE + KEY, VALUE, 3))
    assert status(result) == "NOT_FOUND"
    assert "no consensus state at height 3" in result.error


def test_bad_input_is_refused_with_a_clear_error(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = _linked(home, remote)
    height = remote.height
    good = _arguments(remote, client_id, KV_NAMESPACE + KEY, VALUE, height)
    cases: list[tuple[interchain_pb2.ClientsVerifyStateArguments, str]] = []
    no_value = interchain_pb2.ClientsVerifyStateArguments()
    no_value.CopyFrom(good)
    no_value.value = b""
    cases.append((no_value, "set absent"))
    both = interchain_pb2.ClientsVerifyStateArguments()
    both.CopyFrom(good)
    both.absent = True
    cases.append((both, "names no value"))
    long_key = interchain_pb2.ClientsVerifyStateArguments()
    long_key.CopyFrom(good)
    long_key.key = b"k" * (STATE_KEY_BYTES_MAX + 1)
    cases.append((long_key, "above the limit"))
    long_value = interchain_pb2.ClientsVerifyStateArguments()
    long_value.CopyFrom(good)
    long_value.value = b"v" * (VERIFY_STATE_VALUE_BYTES_MAX + 1)
    cases.append((long_value, "above the limit"))
    no_key = interchain_pb2.ClientsVerifyStateArguments()
    no_key.CopyFrom(good)
    no_key.key = b""
    cases.append((no_key, "needs a key"))
    bad_client = interchain_pb2.ClientsVerifyStateArguments()
    bad_client.CopyFrom(good)
    bad_client.client_id = "nobody"
    cases.append((bad_client, "client-<n>"))
    unknown = interchain_pb2.ClientsVerifyStateArguments()
    unknown.CopyFrom(good)
    unknown.client_id = "client-9"
    cases.append((unknown, "client-9"))
    for arguments, message in cases:
        result = _verify(home, arguments)
        assert status(result) != "OK", message
        assert message in result.error, (message, result.error)
    garbage = home.query("clients", "verify_state", b"\xff\xff\xff")
    assert status(garbage) == "INVALID_ARGUMENT"
    assert VERIFY_STATE_VALUE_BYTES_MAX == KV_VALUE_BYTES_MAX


def test_a_frozen_client_proves_nothing(home: InterchainChain, remote: InterchainChain) -> None:
    client_id = _linked(home, remote)
    height = remote.height
    remote.advance(1)
    fork = remote.height
    forked = forged_header(remote, fork, trusted_height=height, state_root=b"\x0e" * 32)
    real = remote.client_header(fork, trusted_height=height)
    assert status(update(home, client_id, real, remote=remote)) == "OK"
    frozen = update(home, client_id, forked, remote=remote, time_ms=next_time(home, remote))
    assert status(frozen) == "OK", frozen.error  # the freeze is written
    result = _verify(home, _arguments(remote, client_id, KV_NAMESPACE + KEY, VALUE, height))
    assert status(result) != "OK"
    assert "frozen" in result.error


def test_verifying_writes_nothing_even_inside_a_transaction(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = _linked(home, remote)
    before = client_state_keys(home)
    arguments = _arguments(remote, client_id, KV_NAMESPACE + KEY, VALUE, remote.height)
    result = home.run("org1/alice", "clients", "verify_state", arguments)
    assert status(result) == "OK", result.error
    assert result.cost.gas_used > 0
    assert client_state_keys(home) == before

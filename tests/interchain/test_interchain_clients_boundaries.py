"""Every bound of the light-client contract, at its limit and one past."""

from __future__ import annotations

from functools import cache

import pytest
from clients_support import (
    contract_context,
    create,
    create_arguments,
    create_client,
    get_client,
    home_chain,
    status,
    update,
)
from interchain_chain import InterchainChain

from causeway.crypto import PrivateKey, get_profile
from causeway.errors import RequestError
from causeway.interchain.clients import (
    CLIENT_CHAIN_ID_BYTES_MAX,
    CLIENT_CLOCK_DRIFT_MAX_MS,
    CLIENT_TRUSTING_PERIOD_MAX_MS,
    CLIENT_VALIDATORS_MAX,
    CLIENTS_LIST_LIMIT_DEFAULT,
    CLIENTS_LIST_LIMIT_MAX,
    active_client,
)
from causeway.interchain.v1 import interchain_pb2
from causeway.light import commit_sign_bytes, validator_set_hash
from causeway.types import BLOCK_VERSION, block_hash
from causeway.types.v1 import types_pb2

PROFILE = get_profile("intl")
GENESIS_HASH = PROFILE.hash(b"a chain built by hand")


@cache
def _keys(count: int) -> list[PrivateKey]:
    return [PrivateKey.generate(PROFILE.default_algorithm) for _ in range(count)]


def _validators(count: int) -> types_pb2.ValidatorSet:
    return types_pb2.ValidatorSet(
        validators=[
            types_pb2.Validator(
                member_id=f"org{index}/node",
                algorithm=key.algorithm,
                public_key=key.public_key().raw,
                voting_power=1,
            )
            for index, key in enumerate(_keys(CLIENT_VALIDATORS_MAX + 1)[:count])
        ]
    )


def _header_by_hand(
    chain_id: str, validator_count: int, time_ms: int
) -> interchain_pb2.ClientHeader:
    """A header of a chain that exists only here, signed by all of its ``validator_count``
    validators: for bounds that no chain of the tests reaches."""
    validators = _validators(validator_count)
    header = types_pb2.BlockHeader(
        version=BLOCK_VERSION,
        chain_id=chain_id,
        height=1,
        previous_hash=bytes(32),
        time_ms=time_ms,
        proposer="org0/node",
        transactions_root=PROFILE.hash(b"transactions"),
        results_root=PROFILE.hash(b"results"),
        state_root=PROFILE.hash(b"state"),
        validator_set_hash=validator_set_hash(validators, PROFILE),
        next_validator_set_hash=validator_set_hash(validators, PROFILE),
        genesis_hash=GENESIS_HASH,
    )
    own_hash = block_hash(header, PROFILE.hash)
    document = commit_sign_bytes(chain_id, 1, 0, own_hash)
    keys = _keys(CLIENT_VALIDATORS_MAX + 1)
    certificate = types_pb2.CommitCertificate(
        height=1,
        block_hash=own_hash,
        signatures=[
            types_pb2.CommitSignature(validator=validator.member_id, signature=key.sign(document))
            for validator, key in zip(validators.validators, keys, strict=False)
        ],
    )
    return interchain_pb2.ClientHeader(
        header=header, certificate=certificate, validator_set=validators
    )


def _create_by_hand(
    home: InterchainChain, chain_id: str, validator_count: int
) -> types_pb2.TransactionResult:
    time_ms = home.time_ms + 1_000
    arguments = interchain_pb2.ClientsCreateArguments(
        chain_id=chain_id,
        genesis_hash=GENESIS_HASH,
        consensus="tbft",
        crypto_profile="intl",
        trusting_period_ms=600_000,
        clock_drift_ms=1_000,
        header=_header_by_hand(chain_id, validator_count, time_ms),
    )
    return home.run(
        "org1/admin",
        "clients",
        "create",
        arguments,
        endorsers=home.governance_endorsers(),
        time_ms=time_ms,
    )


@pytest.fixture
def home() -> InterchainChain:
    return home_chain()


@pytest.fixture
def remote() -> InterchainChain:
    chain = InterchainChain("remote")
    chain.advance(2)
    return chain


def test_chain_id_at_the_limit_and_one_past(home: InterchainChain) -> None:
    at_limit = _create_by_hand(home, "c" * CLIENT_CHAIN_ID_BYTES_MAX, 4)
    assert status(at_limit) == "OK", at_limit.error
    past = _create_by_hand(home, "c" * (CLIENT_CHAIN_ID_BYTES_MAX + 1), 4)
    assert status(past) == "INVALID_ARGUMENT"
    assert (
        f"chain id is {CLIENT_CHAIN_ID_BYTES_MAX + 1} bytes, above the limit of "
        f"{CLIENT_CHAIN_ID_BYTES_MAX}" in past.error
    )


def test_validator_set_at_the_limit_and_one_past(home: InterchainChain) -> None:
    at_limit = _create_by_hand(home, "large", CLIENT_VALIDATORS_MAX)
    assert status(at_limit) == "OK", at_limit.error
    past = _create_by_hand(home, "larger", CLIENT_VALIDATORS_MAX + 1)
    assert status(past) == "INVALID_ARGUMENT"
    assert (
        f"has {CLIENT_VALIDATORS_MAX + 1} validators, above the limit of "
        f"{CLIENT_VALIDATORS_MAX}" in past.error
    )
    # Refused before a single signature is verified: it costs less than the one at the limit.
    assert past.cost.gas_used < at_limit.cost.gas_used


def test_trusted_validator_set_one_past_the_limit(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(3)
    header = remote.client_header(5, trusted_height=2)
    header.trusted_validator_set.CopyFrom(_validators(CLIENT_VALIDATORS_MAX + 1))
    result = update(home, client_id, header, remote=remote)
    assert status(result) == "INVALID_ARGUMENT"
    assert f"has {CLIENT_VALIDATORS_MAX + 1} validators" in result.error


@pytest.mark.parametrize(
    ("field", "limit", "low"),
    [
        ("trusting_period_ms", CLIENT_TRUSTING_PERIOD_MAX_MS, 1),
        ("clock_drift_ms", CLIENT_CLOCK_DRIFT_MAX_MS, 0),
    ],
)
def test_periods_at_their_limits_and_one_past(
    home: InterchainChain, remote: InterchainChain, field: str, limit: int, low: int
) -> None:
    def arguments(value: int) -> interchain_pb2.ClientsCreateArguments:
        message = create_arguments(remote)
        setattr(message, field, value)
        return message

    for accepted in (low, limit):
        result = create(home, remote, arguments(accepted))
        assert status(result) == "OK", (accepted, result.error)
    for refused in (low - 1, limit + 1):
        result = create(home, remote, arguments(refused))
        assert status(result) == "INVALID_ARGUMENT"
        assert f"{refused} ms is not between {low} and {limit} ms" in result.error


def test_a_client_expires_exactly_one_trusting_period_after_its_latest_state(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2, trusting_period_ms=20_000)
    latest = get_client(home, client_id).latest
    assert active_client(contract_context(home, time_ms=latest.time_ms + 19_999), client_id)
    with pytest.raises(RequestError, match=f"client {client_id} expired"):
        active_client(contract_context(home, time_ms=latest.time_ms + 20_000), client_id)


def _list(home: InterchainChain, limit: int, start_after: str = "") -> types_pb2.TransactionResult:
    return home.query(
        "clients", "list", interchain_pb2.ClientsListArguments(limit=limit, start_after=start_after)
    )


def test_list_limit_at_the_limit_and_one_past(
    home: InterchainChain, remote: InterchainChain
) -> None:
    count = CLIENTS_LIST_LIMIT_MAX + 1
    creations = [
        home.transaction(
            "org1/admin",
            "clients",
            "create",
            create_arguments(remote, 2),
            endorsers=home.governance_endorsers(),
        )
        for _ in range(count)
    ]
    block = home.commit(creations, time_ms=remote.time_ms)
    assert all(status(result) == "OK" for result in block.results)

    def identifiers(result: types_pb2.TransactionResult) -> list[str]:
        assert status(result) == "OK", result.error
        answer = interchain_pb2.ClientsListResult.FromString(result.return_value)
        return [entry.client.client_id for entry in answer.clients]

    first = identifiers(_list(home, CLIENTS_LIST_LIMIT_MAX))
    assert len(first) == CLIENTS_LIST_LIMIT_MAX
    rest = identifiers(_list(home, CLIENTS_LIST_LIMIT_MAX, start_after=first[-1]))
    assert sorted(first + rest) == sorted(f"client-{number}" for number in range(count))
    assert len(identifiers(_list(home, 0))) == CLIENTS_LIST_LIMIT_DEFAULT
    past = _list(home, CLIENTS_LIST_LIMIT_MAX + 1)
    assert status(past) == "INVALID_ARGUMENT"
    assert (
        f"list limit {CLIENTS_LIST_LIMIT_MAX + 1} is above the limit of {CLIENTS_LIST_LIMIT_MAX}"
        in past.error
    )


def test_client_id_at_its_longest_and_one_digit_past(home: InterchainChain) -> None:
    longest = "client-" + "1" * 20
    result = home.query("clients", "get", interchain_pb2.ClientsGetArguments(client_id=longest))
    assert status(result) == "NOT_FOUND"
    past = home.query("clients", "get", interchain_pb2.ClientsGetArguments(client_id=longest + "1"))
    assert status(past) == "INVALID_ARGUMENT"
    assert "is not of the form client-<n>" in past.error

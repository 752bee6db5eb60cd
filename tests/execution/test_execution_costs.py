"""The cost table: bytes hashed and signatures checked are charged at the table's prices."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from execution_chain import CHAIN_ID, Chain, ChainKit, default_config, new_chain, status_name
from probe_contract import register_probe

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import ALGORITHMS, PrivateKey
from causeway.errors import InvariantError
from causeway.execution import (
    GAS_PER_BYTE_HASHED,
    GAS_PER_BYTE_WRITTEN,
    GAS_PER_TRANSACTION_BYTE,
    GAS_PER_WRITE,
    GAS_TRANSACTION_BASE,
    SIGNATURE_VERIFICATION_GAS,
    hashing_gas,
    signature_verification_gas,
)
from causeway.execution.context import TransactionContext
from causeway.types import DOMAIN_ENDORSEMENT, DecodedTransaction, sign_bytes
from causeway.types.v1 import types_pb2

Body = Callable[[TransactionContext], object]


def gas_of(chain: Chain, monkeypatch: pytest.MonkeyPatch, body: Body) -> tuple[int, int]:
    """(gas used, encoded transaction bytes) of one probe transaction running `body`."""
    register_probe(monkeypatch, lambda context: body(context) and None)
    transaction = chain.transaction("org1/alice", "probe", "run")
    result = chain.commit([transaction]).results[0]
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    return result.cost.gas_used, len(transaction.encoded)


def extra_gas(chain: Chain, monkeypatch: pytest.MonkeyPatch, body: Body) -> int:
    """The gas `body` adds to an empty probe transaction (signature lengths vary, so the
    transaction bytes are taken out)."""
    empty, empty_size = gas_of(chain, monkeypatch, lambda context: None)
    used, size = gas_of(chain, monkeypatch, body)
    return used - empty - GAS_PER_TRANSACTION_BYTE * (size - empty_size)


@pytest.fixture(params=["intl", "gm"])
def any_chain(request: pytest.FixtureRequest, kit: ChainKit, gm_kit: ChainKit) -> Chain:
    return new_chain(kit if request.param == "intl" else gm_kit)


def test_the_table_prices_each_algorithm_differently() -> None:
    assert set(SIGNATURE_VERIFICATION_GAS) == set(ALGORITHMS)
    assert len(set(SIGNATURE_VERIFICATION_GAS.values())) == len(ALGORITHMS)
    assert set(GAS_PER_BYTE_HASHED) == {"intl", "gm"}


@pytest.mark.parametrize("byte_count", [0, 1, 64, 1000])
def test_hashing_n_bytes_costs_the_tables_price(
    any_chain: Chain, monkeypatch: pytest.MonkeyPatch, byte_count: int
) -> None:
    profile = any_chain.kit.profile
    data = b"h" * byte_count
    digests = []
    extra = extra_gas(any_chain, monkeypatch, lambda context: digests.append(context.hash(data)))
    assert extra == GAS_PER_BYTE_HASHED[profile.name] * byte_count
    assert extra == hashing_gas(byte_count, profile.name)
    assert digests[-1] == profile.hash(data)


def _verifying(key: PrivateKey, message: bytes, *, forged: bool = False) -> Body:
    signature = key.sign(message)
    if forged:
        signature = signature[:-1] + bytes([signature[-1] ^ 1])
    outcomes = []

    def body(context: TransactionContext) -> None:
        outcomes.append(context.verify_signature(key.public_key(), message, signature))

    body.outcomes = outcomes  # type: ignore[attr-defined]
    return body


@pytest.mark.parametrize(
    ("profile_name", "algorithm"),
    [("intl", "ecdsa-p256"), ("intl", "ed25519"), ("gm", "sm2")],
)
def test_each_algorithm_is_charged_its_own_price(
    kit: ChainKit,
    gm_kit: ChainKit,
    monkeypatch: pytest.MonkeyPatch,
    profile_name: str,
    algorithm: str,
) -> None:
    chain = new_chain(kit if profile_name == "intl" else gm_kit)
    message = b"m" * 100
    for forged in (False, True):
        body = _verifying(PrivateKey.generate(algorithm), message, forged=forged)
        extra = extra_gas(chain, monkeypatch, body)
        assert extra == (
            SIGNATURE_VERIFICATION_GAS[algorithm] + GAS_PER_BYTE_HASHED[profile_name] * 100
        )
        assert extra == signature_verification_gas(algorithm, 100, profile_name)
        # A forged signature costs what a good one does.
        assert body.outcomes == [not forged]  # type: ignore[attr-defined]


def test_unpriced_algorithms_and_profiles_are_invariant_errors() -> None:
    with pytest.raises(InvariantError) as caught:
        signature_verification_gas("rsa", 10, "intl")
    assert caught.value.message == "no price for signature algorithm 'rsa'"
    with pytest.raises(InvariantError) as caught:
        hashing_gas(10, "other")
    assert caught.value.message == "no hashing price for crypto profile 'other'"


# ---- endorsements: by the endorser's algorithm ------------------------------------------------


def _add_member(chain: Chain, member: types_pb2.Member) -> None:
    result = chain.run(
        "org1/admin",
        "membership",
        "add_member",
        contracts_pb2.MembershipAddMemberArguments(member=member),
        endorsers=["org2/admin"],
    )
    assert status_name(result) == "RESULT_STATUS_OK", result.error


def _endorsed_put(chain: Chain, endorser: object) -> DecodedTransaction:
    return chain.transaction(
        "org1/alice",
        "kv",
        "put",
        contracts_pb2.KvPutArguments(key=b"k", value=b"v"),
        endorsers=[endorser],  # type: ignore[list-item]
    )


def _expected_put_gas(chain: Chain, transaction: DecodedTransaction, algorithm: str) -> int:
    document = sign_bytes(DOMAIN_ENDORSEMENT, CHAIN_ID, transaction.transaction.body)
    return (
        GAS_TRANSACTION_BASE
        + GAS_PER_TRANSACTION_BYTE * len(transaction.encoded)
        + signature_verification_gas(algorithm, len(document), chain.kit.profile.name)
        + GAS_PER_WRITE
        + GAS_PER_BYTE_WRITTEN * len(b"kv/k" + b"v")
    )


def test_an_endorsement_is_charged_by_its_endorsers_algorithm(chain: Chain) -> None:
    ed25519_admin = chain.kit.new_identity(
        "org2/edwards", (types_pb2.ROLE_ADMIN,), algorithm="ed25519"
    )
    _add_member(chain, ed25519_admin.member)
    for endorser, algorithm in ((ed25519_admin, "ed25519"), ("org2/admin", "ecdsa-p256")):
        transaction = _endorsed_put(chain, endorser)
        result = chain.commit([transaction]).results[0]
        assert status_name(result) == "RESULT_STATUS_OK", result.error
        assert result.cost.gas_used == _expected_put_gas(chain, transaction, algorithm)


def _set_gas_max(chain: Chain, gas_max: int) -> None:
    config = default_config()
    config.transaction_gas_max = gas_max
    result = chain.run(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=config),
        endorsers=["org2/admin"],
    )
    assert status_name(result) == "RESULT_STATUS_OK", result.error


def test_an_endorsement_the_transaction_cannot_pay_for_is_not_checked(chain: Chain) -> None:
    probe = _endorsed_put(chain, "org2/admin")
    document = sign_bytes(DOMAIN_ENDORSEMENT, CHAIN_ID, probe.transaction.body)
    before_running = (
        GAS_TRANSACTION_BASE
        + GAS_PER_TRANSACTION_BYTE * len(probe.encoded)
        + signature_verification_gas("ecdsa-p256", len(document), "intl")
    )
    # At the limit the endorsement is checked (the write then takes the transaction past it).
    _set_gas_max(chain, before_running)
    at_limit = chain.commit([probe]).results[0]
    assert status_name(at_limit) == "RESULT_STATUS_OUT_OF_GAS"
    assert at_limit.error.startswith("the transaction used ")
    # One below, it is refused before its signature is verified, and that much is reported.
    other = new_chain(chain.kit)
    _set_gas_max(other, before_running - 1)
    refused = other.commit([probe]).results[0]
    assert status_name(refused) == "RESULT_STATUS_OUT_OF_GAS"
    assert refused.error == (
        f"endorsement 0 by 'org2/admin': checking it takes the transaction to {before_running} "
        f"gas, above the limit of {before_running - 1}"
    )
    assert refused.cost.gas_used == before_running

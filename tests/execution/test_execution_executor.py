from __future__ import annotations

import pytest
from execution_chain import (
    ADMIN,
    BLOCK_TIME_MS,
    CHAIN_ID,
    CLIENT,
    EXPIRY_MAX_MS,
    TRANSACTION_BYTES_MAX,
    Chain,
    ChainKit,
    Identity,
    build_kit,
    default_config,
    new_chain,
    status_name,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import PrivateKey, get_profile
from causeway.errors import ConfigurationError, InvariantError
from causeway.execution import (
    GAS_PER_BYTE_READ,
    GAS_PER_BYTE_WRITTEN,
    GAS_PER_READ,
    GAS_PER_TRANSACTION_BYTE,
    GAS_PER_WRITE,
    GAS_TRANSACTION_BASE,
    Executor,
    genesis_state,
    get_config,
    get_member,
    signature_verification_gas,
    validate_genesis,
)
from causeway.execution.keys import CONFIG_KEY
from causeway.types import DOMAIN_ENDORSEMENT, encode, sign_bytes
from causeway.types.v1 import types_pb2

PUT = contracts_pb2.KvPutArguments(key=b"k", value=b"v")


def put(
    chain: Chain, sender: str | Identity = "org1/alice", **options: object
) -> types_pb2.TransactionResult:
    return chain.run(sender, "kv", "put", PUT, **options)


def config_update(chain: Chain, config: types_pb2.ChainConfig) -> None:
    result = chain.run(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=config),
        endorsers=["org2/admin"],
    )
    assert status_name(result) == "RESULT_STATUS_OK", result.error


# ---- checks before the contract runs -------------------------------------------------------


def test_wrong_chain_id(chain: Chain) -> None:
    result = put(chain, chain_id="other-chain")
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "other-chain" in result.error


def test_unsupported_version(chain: Chain) -> None:
    result = put(chain, version=2)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "version" in result.error


def test_expired_and_far_future_expiry(chain: Chain) -> None:
    expired = put(chain, expiry_ms=BLOCK_TIME_MS - 1)
    assert status_name(expired) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "expired" in expired.error
    assert status_name(put(chain, expiry_ms=BLOCK_TIME_MS)) == "RESULT_STATUS_OK"
    too_far = put(chain, expiry_ms=BLOCK_TIME_MS + EXPIRY_MAX_MS + 1)
    assert status_name(too_far) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert status_name(put(chain, expiry_ms=BLOCK_TIME_MS + EXPIRY_MAX_MS)) == "RESULT_STATUS_OK"


def test_oversized_transaction(chain: Chain) -> None:
    result = chain.run(
        "org1/alice",
        "kv",
        "put",
        contracts_pb2.KvPutArguments(key=b"k", value=b"v" * TRANSACTION_BYTES_MAX),
    )
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "above the limit" in result.error


def test_unknown_sender(chain: Chain) -> None:
    stranger = Identity("org1/ghost", PrivateKey.generate("ecdsa-p256"), types_pb2.Member())
    result = put(chain, stranger)
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert "org1/ghost" in result.error


def test_a_sender_without_client_or_admin_role(chain: Chain) -> None:
    result = put(chain, "org1/watcher")
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert "role" in result.error


def test_unknown_contract_and_method(chain: Chain) -> None:
    unknown_contract = chain.run("org1/alice", "nothing", "put", PUT)
    assert status_name(unknown_contract) == "RESULT_STATUS_UNKNOWN_CONTRACT"
    assert "nothing" in unknown_contract.error
    unknown_method = chain.run("org1/alice", "kv", "explode", PUT)
    assert status_name(unknown_method) == "RESULT_STATUS_UNKNOWN_METHOD"
    assert "explode" in unknown_method.error


def test_duplicate_transaction_in_a_block(chain: Chain) -> None:
    transaction = chain.transaction("org1/alice", "kv", "put", PUT)
    results = chain.execute([transaction, transaction]).results
    assert [status_name(r) for r in results] == ["RESULT_STATUS_OK", "RESULT_STATUS_CONFLICT"]


# ---- endorsements --------------------------------------------------------------------------


def update(
    chain: Chain, endorsers: list[str | Identity], sender: str = "org1/admin"
) -> types_pb2.TransactionResult:
    config = default_config()
    config.endorsements_max = 5
    return chain.run(
        sender,
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=config),
        endorsers=endorsers,
    )


def test_endorsement_with_a_bad_signature(chain: Chain, kit: ChainKit) -> None:
    impostor = Identity(
        "org2/admin", PrivateKey.generate("ecdsa-p256"), kit.identities["org2/admin"].member
    )
    result = update(chain, [impostor])
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "endorsement 0 by 'org2/admin': the signature does not verify" in result.error
    assert chain.state[CONFIG_KEY] == encode(default_config())


def test_endorsement_signed_for_another_chain(chain: Chain) -> None:
    transaction = chain.transaction(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=default_config()),
    )
    other_chain = chain.transaction(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=default_config()),
        endorsers=["org2/admin"],
        chain_id="other-chain",
    )
    # Graft the other chain's endorsement (over a different body and chain) onto the transaction.
    transaction.transaction.endorsements.extend(other_chain.transaction.endorsements)
    result = chain.execute([transaction]).results[0]
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "signature does not verify" in result.error


def test_endorsement_by_a_non_admin(chain: Chain) -> None:
    result = update(chain, ["org2/bob"])
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert "not an ADMIN" in result.error


def test_endorsement_by_an_unknown_member(chain: Chain) -> None:
    ghost = Identity("org2/ghost", PrivateKey.generate("ecdsa-p256"), types_pb2.Member())
    result = update(chain, [ghost])
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    assert "not a member" in result.error


def test_empty_endorsement_signature(chain: Chain) -> None:
    transaction = chain.transaction(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=default_config()),
    )
    transaction.transaction.endorsements.add(endorser="org2/admin")
    result = chain.execute([transaction]).results[0]
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"


def test_duplicate_and_too_many_endorsements(chain: Chain) -> None:
    duplicate = update(chain, ["org2/admin", "org2/admin"])
    assert status_name(duplicate) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "more than once" in duplicate.error
    config = default_config()
    config.endorsements_max = 1
    config_update(chain, config)
    too_many = update(chain, ["org2/admin", "org1/admin"])
    assert status_name(too_many) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "above the limit of 1" in too_many.error


def test_endorsements_on_methods_without_a_policy_are_still_checked(chain: Chain) -> None:
    assert status_name(put(chain, endorsers=["org2/admin"])) == "RESULT_STATUS_OK"
    assert status_name(put(chain, endorsers=["org2/bob"])) == "RESULT_STATUS_PERMISSION_DENIED"


def test_the_senders_own_endorsement_is_harmless(chain: Chain) -> None:
    result = update(chain, ["org1/admin", "org2/admin"])
    assert status_name(result) == "RESULT_STATUS_OK", result.error


# ---- gas -----------------------------------------------------------------------------------


def test_cost_formula(chain: Chain) -> None:
    transaction = chain.transaction("org1/alice", "kv", "put", PUT, endorsers=["org2/admin"])
    result = chain.commit([transaction]).results[0]
    cost = result.cost
    expected = (
        GAS_TRANSACTION_BASE
        + GAS_PER_TRANSACTION_BYTE * len(transaction.encoded)
        + signature_verification_gas(
            chain.identity("org2/admin").key.algorithm,
            len(sign_bytes(DOMAIN_ENDORSEMENT, CHAIN_ID, transaction.transaction.body)),
            chain.kit.profile.name,
        )
        + GAS_PER_READ * cost.reads
        + GAS_PER_BYTE_READ * cost.bytes_read
        + GAS_PER_WRITE * cost.writes
        + GAS_PER_BYTE_WRITTEN * cost.bytes_written
    )
    assert cost.gas_used == expected
    assert (cost.reads, cost.writes, cost.bytes_written) == (0, 1, len(b"kv/k") + 1)


def test_out_of_gas_discards_the_writes(chain: Chain) -> None:
    small = chain.transaction("org1/alice", "kv", "put", PUT)
    base = chain.execute([small]).results[0].cost.gas_used
    config = default_config()
    # Enough to send a 1 KiB value and to write a one-byte one, not to write the 1 KiB.
    config.transaction_gas_max = base + 1024 + 600
    config_update(chain, config)
    assert status_name(put(chain)) == "RESULT_STATUS_OK"
    before = dict(chain.state)
    result = chain.run(
        "org1/alice", "kv", "put", contracts_pb2.KvPutArguments(key=b"k", value=b"v" * 1024)
    )
    assert status_name(result) == "RESULT_STATUS_OUT_OF_GAS"
    assert result.cost.gas_used > config.transaction_gas_max
    assert result.cost.writes == 1
    assert list(result.events) == []
    assert chain.state == before


def test_out_of_gas_before_running(chain: Chain) -> None:
    config = default_config()
    config.transaction_gas_max = GAS_TRANSACTION_BASE
    config_update(chain, config)
    result = put(chain)
    assert status_name(result) == "RESULT_STATUS_OUT_OF_GAS"
    assert "before it runs" in result.error
    assert result.cost.reads == result.cost.writes == 0


# ---- blocks: isolation and determinism -----------------------------------------------------


def block_of(chain: Chain) -> list:  # type: ignore[type-arg]
    return [
        chain.transaction(
            "org1/admin",
            "ledger",
            "issue",
            contracts_pb2.LedgerIssueArguments(account="org1/alice", amount=50),
        ),
        chain.transaction(
            "org1/alice",
            "ledger",
            "transfer",
            contracts_pb2.LedgerTransferArguments(to="org2/bob", amount=20),
        ),
        chain.transaction("org1/alice", "kv", "put", PUT),
        chain.transaction(
            "org2/bob",
            "ledger",
            "transfer",
            contracts_pb2.LedgerTransferArguments(to="org1/alice", amount=500),
        ),
        chain.transaction(
            "org1/alice", "kv", "delete", contracts_pb2.KvDeleteArguments(key=b"missing")
        ),
        chain.transaction("org2/bob", "kv", "range", contracts_pb2.KvRangeArguments()),
        chain.transaction("org1/watcher", "kv", "put", PUT),
    ]


def test_failed_transactions_change_nothing(chain: Chain) -> None:
    block = block_of(chain)
    execution = chain.execute(block)
    statuses = [status_name(r) for r in execution.results]
    assert statuses == [
        "RESULT_STATUS_OK",
        "RESULT_STATUS_OK",
        "RESULT_STATUS_OK",
        "RESULT_STATUS_INSUFFICIENT_FUNDS",
        "RESULT_STATUS_NOT_FOUND",
        "RESULT_STATUS_OK",
        "RESULT_STATUS_PERMISSION_DENIED",
    ]
    succeeded = [t for t, r in zip(block, execution.results, strict=True) if r.status == 1]
    assert chain.execute(succeeded).changes == execution.changes
    for result in execution.results:
        if result.status != 1:
            assert result.error and not result.events and not result.return_value


def test_execution_is_deterministic(kit: ChainKit) -> None:
    chain = new_chain(kit)
    block = block_of(chain)
    first = new_chain(kit).execute(block)
    second = Executor(kit.genesis, kit.profile).execute_block(
        new_chain(kit).reader, block, 1, BLOCK_TIME_MS
    )
    assert [encode(r) for r in first.results] == [encode(r) for r in second.results]
    assert list(first.changes.items()) == list(second.changes.items())
    # The reader is never written to.
    assert chain.state == genesis_state(kit.genesis)


def test_results_name_their_transactions(chain: Chain) -> None:
    block = block_of(chain)
    results = chain.execute(block).results
    assert [r.transaction_id for r in results] == [t.id for t in block]


# ---- queries and helpers -------------------------------------------------------------------


def test_query_runs_read_only_methods(chain: Chain) -> None:
    put(chain)
    query = chain.transaction("org2/bob", "kv", "get", contracts_pb2.KvGetArguments(key=b"k"))
    result = chain.executor.query(chain.reader, query, BLOCK_TIME_MS)
    assert status_name(result) == "RESULT_STATUS_OK"
    assert contracts_pb2.KvGetResult.FromString(result.return_value).value == b"v"
    for contract, method, arguments in (
        ("ledger", "balance", contracts_pb2.LedgerBalanceArguments(account="x")),
        ("config", "get", contracts_pb2.ConfigGetArguments()),
        (
            "membership",
            "get_member",
            contracts_pb2.MembershipGetMemberArguments(member_id="org1/alice"),
        ),
        ("kv", "range", contracts_pb2.KvRangeArguments()),
    ):
        query = chain.transaction("org2/bob", contract, method, arguments)
        assert (
            status_name(chain.executor.query(chain.reader, query, BLOCK_TIME_MS))
            == "RESULT_STATUS_OK"
        )


def test_query_refuses_mutating_methods(chain: Chain) -> None:
    before = dict(chain.state)
    query = chain.transaction("org1/alice", "kv", "put", PUT)
    result = chain.executor.query(chain.reader, query, BLOCK_TIME_MS)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "cannot run as a query" in result.error
    assert chain.state == before


def test_query_checks_the_sender(chain: Chain) -> None:
    arguments = contracts_pb2.KvGetArguments(key=b"k")
    ghost = Identity("org1/ghost", PrivateKey.generate("ecdsa-p256"), types_pb2.Member())
    query = chain.transaction(ghost, "kv", "get", arguments)
    result = chain.executor.query(chain.reader, query, BLOCK_TIME_MS)
    assert status_name(result) == "RESULT_STATUS_PERMISSION_DENIED"
    # Any current member may read, light clients included.
    query = chain.transaction("org1/watcher", "kv", "get", arguments)
    result = chain.executor.query(chain.reader, query, BLOCK_TIME_MS)
    assert status_name(result) == "RESULT_STATUS_OK"
    expired = chain.transaction("org2/bob", "kv", "get", arguments, expiry_ms=BLOCK_TIME_MS - 1)
    result = chain.executor.query(chain.reader, expired, BLOCK_TIME_MS)
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"


def test_helpers(chain: Chain, kit: ChainKit) -> None:
    assert get_member(chain.reader, "org1/alice") == kit.identities["org1/alice"].member
    assert get_member(chain.reader, "org1/nobody") is None
    assert get_config(chain.reader) == default_config()
    with pytest.raises(InvariantError):
        get_config(type(chain.reader)({}))


def test_corrupt_balance_stops_loudly(chain: Chain) -> None:
    chain.state[b"ledger/balance/org1/alice"] = b"\x01"
    with pytest.raises(InvariantError):
        chain.run(
            "org1/alice",
            "ledger",
            "transfer",
            contracts_pb2.LedgerTransferArguments(to="x", amount=1),
        )


# ---- genesis -------------------------------------------------------------------------------


def test_genesis_state_layout(kit: ChainKit) -> None:
    state = genesis_state(kit.genesis)
    assert state[b"sys/config"] == encode(kit.genesis.config)
    assert state[b"sys/org/org1"] == encode(kit.organisations["org1"])
    assert state[b"sys/member/org2/bob"] == encode(kit.identities["org2/bob"].member)
    assert state[b"sys/admin_count/org1"] == (1).to_bytes(8, "big")
    schedule = contracts_pb2.ValidatorSchedule(
        entries=[
            contracts_pb2.ScheduledValidatorSet(from_height=1, validators=kit.genesis.validators)
        ]
    )
    assert state[b"sys/validator_schedule"] == encode(schedule)
    assert len(state) == 1 + 2 + len(kit.identities) + 2 + 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda g: setattr(g, "version", 0), "version"),
        (lambda g: setattr(g, "chain_id", ""), "chain id"),
        (lambda g: setattr(g, "crypto_profile", "rot13"), "crypto profile"),
        (lambda g: setattr(g.config, "endorsements_max", 0), "endorsements_max"),
        (lambda g: g.organisations.append(g.organisations[0]), "twice"),
        (lambda g: g.members.append(g.members[0]), "twice"),
        (lambda g: setattr(g.members[0], "organisation", "org2"), "does not match"),
        (lambda g: setattr(g.members[0], "algorithm", "sm2"), "not allowed"),
        (lambda g: setattr(g.members[0], "public_key", b"x"), "public key"),
        (lambda g: g.members[0].roles.append(ADMIN), "more than once"),
        (lambda g: g.ClearField("organisations"), "no organisation"),
    ],
)
def test_genesis_validation(kit: ChainKit, change: object, message: str) -> None:
    genesis = types_pb2.Genesis()
    genesis.CopyFrom(kit.genesis)
    change(genesis)  # type: ignore[operator]
    with pytest.raises(ConfigurationError, match=message):
        validate_genesis(genesis)
    with pytest.raises(ConfigurationError):
        genesis_state(genesis)


def test_executor_refuses_a_different_profile(kit: ChainKit) -> None:
    with pytest.raises(ConfigurationError, match="profile"):
        Executor(kit.genesis, get_profile("gm"))


def test_gm_chain_runs_end_to_end(gm_kit: ChainKit) -> None:
    chain = new_chain(gm_kit)
    assert chain.kit.genesis.crypto_profile == "gm"
    result = chain.run(
        "org1/admin",
        "ledger",
        "issue",
        contracts_pb2.LedgerIssueArguments(account="org1/alice", amount=9),
    )
    assert status_name(result) == "RESULT_STATUS_OK"
    config = default_config()
    config.block_transactions_max = 77
    result = chain.run(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=config),
        endorsers=["org2/admin"],
    )
    assert status_name(result) == "RESULT_STATUS_OK", result.error


# ---- untrusted arguments never escape as exceptions ----------------------------------------

METHODS = [
    ("kv", "put"), ("kv", "get"), ("kv", "delete"), ("kv", "range"),
    ("ledger", "issue"), ("ledger", "transfer"), ("ledger", "balance"),
    ("config", "update"), ("config", "get"),
    ("membership", "add_organisation"), ("membership", "add_member"),
    ("membership", "remove_member"), ("membership", "update_certificate"),
    ("membership", "get_member"),
]  # fmt: skip


@pytest.fixture(scope="module")
def fuzz_chain() -> Chain:
    return new_chain(build_kit("intl"))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(method=st.sampled_from(METHODS), arguments=st.binary(max_size=64))
def test_arbitrary_arguments_give_a_result(
    fuzz_chain: Chain, method: tuple[str, str], arguments: bytes
) -> None:
    transaction = fuzz_chain.transaction("org1/admin", *method, arguments, endorsers=["org2/admin"])
    result = fuzz_chain.execute([transaction]).results[0]
    assert result.status != types_pb2.RESULT_STATUS_UNSPECIFIED
    assert (result.status == types_pb2.RESULT_STATUS_OK) == (not result.error)


def test_unknown_fields_in_arguments_are_refused(chain: Chain) -> None:
    # Field 1 of KvRangeArguments is bytes; a varint field 1 is an unknown field that the parser
    # would keep and re-encode unchanged.
    result = chain.run("org1/alice", "kv", "range", b"\x08\x01")
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "not canonically encoded" in result.error
    inner = b"\x08\x05\xf8\x01\x01"
    nested = b"\x0a" + bytes([len(inner)]) + inner
    result = chain.run("org1/admin", "config", "update", nested, endorsers=["org2/admin"])
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"


def test_chain_id_constant() -> None:
    assert CHAIN_ID == "test-chain"
    assert CLIENT == types_pb2.ROLE_CLIENT

"""causeway.bench workloads and pre-signing: valid, signed, decodable transactions."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from causeway.bench import (
    Call,
    KvPutWorkload,
    Signer,
    SigningContext,
    WorkloadOptions,
    choose_endorsing_organisations,
    create_workload,
    register_workload,
    sign_calls,
    workload_names,
)
from causeway.bench import workloads as workloads_module
from causeway.bench.contract_modules import load_module
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import PrivateKey, get_profile
from causeway.errors import ConfigurationError
from causeway.types import (
    DOMAIN_ENDORSEMENT,
    DOMAIN_TRANSACTION,
    decode_transaction,
    sign_bytes,
)
from causeway.types.interface import decode_fields, parse_interface
from causeway.types.v1 import types_pb2

NOW_MS = 1_790_000_000_000


def test_known_workloads() -> None:
    assert {"kv-put", "ledger-transfer", "wasm-transfer", "wasm-kv"} <= set(workload_names())
    with pytest.raises(ConfigurationError, match="unknown workload"):
        create_workload("mine-bitcoin", WorkloadOptions(transactions=1))


def test_kv_put_calls() -> None:
    workload = create_workload(
        "kv-put", WorkloadOptions(transactions=50, run_id="r1", value_bytes=32)
    )
    assert workload.setup_calls("org1/client") == []
    calls = workload.calls(50, "org1/client", random.Random(1))
    assert len(calls) == 50
    keys = set()
    for call in calls:
        assert (call.contract, call.method) == ("kv", "put")
        arguments = contracts_pb2.KvPutArguments.FromString(call.arguments)
        assert arguments.key.startswith(b"bench/r1/")
        assert len(arguments.value) == 32
        keys.add(arguments.key)
    assert len(keys) == 50
    again = workload.calls(50, "org1/client", random.Random(1))
    assert again == calls


def test_ledger_transfer_calls_and_funding() -> None:
    workload = create_workload(
        "ledger-transfer",
        WorkloadOptions(transactions=200, recipient_accounts=7, transfer_amount=3),
    )
    assert workload.needs_issuer
    (setup,) = workload.setup_calls("org1/client")
    assert (setup.contract, setup.method) == ("ledger", "issue")
    issue = contracts_pb2.LedgerIssueArguments.FromString(setup.arguments)
    assert issue.account == "org1/client"
    assert issue.amount == 600
    calls = workload.calls(200, "org1/client", random.Random(2))
    recipients = set()
    for call in calls:
        assert (call.contract, call.method) == ("ledger", "transfer")
        transfer = contracts_pb2.LedgerTransferArguments.FromString(call.arguments)
        assert transfer.amount == 3
        recipients.add(transfer.to)
    assert recipients <= {f"account-{index:05d}" for index in range(7)}
    assert len(recipients) > 1


def test_bad_workload_options() -> None:
    with pytest.raises(ConfigurationError):
        create_workload("kv-put", WorkloadOptions(transactions=1, value_bytes=1 << 20))
    with pytest.raises(ConfigurationError):
        create_workload("ledger-transfer", WorkloadOptions(transactions=1, recipient_accounts=0))


@pytest.fixture
def restore_registry() -> Iterator[None]:
    saved = dict(workloads_module._WORKLOADS)
    yield
    workloads_module._WORKLOADS.clear()
    workloads_module._WORKLOADS.update(saved)


class TinyKvPutWorkload(KvPutWorkload):
    name = "kv-put-tiny"

    def __init__(self, options: WorkloadOptions) -> None:
        super().__init__(WorkloadOptions(transactions=options.transactions, value_bytes=1))


@pytest.mark.usefixtures("restore_registry")
def test_workloads_are_pluggable() -> None:
    register_workload("kv-put-small", TinyKvPutWorkload)
    assert "kv-put-small" in workload_names()
    workload = create_workload("kv-put-small", WorkloadOptions(transactions=1))
    assert len(workload.calls(1, "org1/client", random.Random(0))) == 1
    with pytest.raises(ConfigurationError, match="already registered"):
        register_workload("kv-put", TinyKvPutWorkload)


@pytest.mark.parametrize(
    ("profile_name", "algorithm", "processes", "count"),
    [
        ("intl", "ecdsa-p256", 1, 20),
        ("intl", "ed25519", 1, 20),
        ("gm", "sm2", 1, 20),
        # Two chunks on two spawned processes: order and validity must survive.
        ("intl", "ecdsa-p256", 2, 700),
    ],
)
def test_signed_transactions_decode_and_verify(
    profile_name: str, algorithm: str, processes: int, count: int
) -> None:
    profile = get_profile(profile_name)
    sender_key = PrivateKey.generate(algorithm)
    endorser_key = PrivateKey.generate(algorithm)
    calls = create_workload("kv-put", WorkloadOptions(transactions=count, run_id="s")).calls(
        count, "org1/client", random.Random(3)
    )
    context = SigningContext(
        chain_id="bench-chain", crypto_profile=profile_name, timestamp_ms=NOW_MS, expiry_s=600
    )
    progress: list[int] = []
    signed = sign_calls(
        calls,
        Signer.from_key("org1/client", sender_key),
        context,
        endorsers=[Signer.from_key("org2/admin", endorser_key)],
        processes=processes,
        progress=progress.append,
    )
    assert sum(progress) == count
    assert len(signed) == count
    assert len({item.id for item in signed}) == count
    for call, item in zip(calls, signed, strict=True):
        decoded = decode_transaction(item.encoded, hash_function=profile.hash, bytes_max=1 << 16)
        assert decoded.id == item.id
        body = decoded.body
        assert body.chain_id == "bench-chain"
        assert body.sender == "org1/client"
        assert (body.contract, body.method, body.arguments) == (
            call.contract,
            call.method,
            call.arguments,
        )
        assert body.timestamp_ms == NOW_MS
        assert body.expiry_ms == NOW_MS + 600_000
        assert len(body.nonce) == 16
        assert sender_key.public_key().verify(
            sign_bytes(DOMAIN_TRANSACTION, "bench-chain", decoded.transaction.body),
            decoded.transaction.signature,
        )
        (endorsement,) = decoded.transaction.endorsements
        assert endorsement.endorser == "org2/admin"
        assert endorser_key.public_key().verify(
            sign_bytes(DOMAIN_ENDORSEMENT, "bench-chain", decoded.transaction.body),
            endorsement.signature,
        )


def test_signing_nothing() -> None:
    context = SigningContext("c", "intl", NOW_MS, 60)
    key = PrivateKey.generate("ecdsa-p256")
    assert sign_calls([], Signer.from_key("org1/client", key), context) == []
    one = sign_calls(
        [Call("kv", "put", b"")], Signer.from_key("org1/client", key), context, processes=4
    )
    assert len(one) == 1


def _policy(
    kind: int, k: int = 0, organisations: tuple[str, ...] = ()
) -> types_pb2.EndorsementPolicy:
    return types_pb2.EndorsementPolicy(kind=kind, k=k, organisations=list(organisations))  # type: ignore[arg-type]


def test_choose_endorsing_organisations() -> None:
    organisations = ["org1", "org2", "org3", "org4"]
    assert (
        choose_endorsing_organisations(_policy(types_pb2.POLICY_KIND_ANY), "org1", organisations)
        == []
    )
    assert choose_endorsing_organisations(
        _policy(types_pb2.POLICY_KIND_MAJORITY), "org1", organisations
    ) == ["org2", "org3"]
    assert choose_endorsing_organisations(
        _policy(types_pb2.POLICY_KIND_ALL), "org2", organisations
    ) == ["org1", "org3", "org4"]
    assert choose_endorsing_organisations(
        _policy(types_pb2.POLICY_KIND_K_OF_N, 2, ("org3", "org4")), "org1", organisations
    ) == ["org3", "org4"]
    with pytest.raises(ConfigurationError):
        choose_endorsing_organisations(
            _policy(types_pb2.POLICY_KIND_UNSPECIFIED), "org1", organisations
        )


@pytest.mark.parametrize("language", ["assemblyscript", "rust"])
def test_wasm_transfer_deploys_the_token_funds_the_sender_and_transfers(language: str) -> None:
    options = WorkloadOptions(
        transactions=40,
        run_id="R1",
        recipient_accounts=5,
        transfer_amount=2,
        contract_language=language,
    )
    workload = create_workload("wasm-transfer", options)
    assert workload.needs_issuer
    module = load_module("token", language)
    interface = parse_interface(module.interface_json)
    deploy, fund = workload.setup_calls("org1/client")
    assert (deploy.contract, deploy.method) == ("code", "deploy")
    arguments = contracts_pb2.CodeDeployArguments.FromString(deploy.arguments)
    assert arguments.name == "bench-token-r1"
    assert arguments.code == module.code
    init = decode_fields(interface.method("init").arguments, arguments.init_input)
    assert init == {"supply": 80}
    assert (fund.contract, fund.method) == ("bench-token-r1", "transfer")
    transfer_fields = interface.method("transfer").arguments
    assert decode_fields(transfer_fields, fund.arguments) == {"to": "org1/client", "amount": 80}
    calls = workload.calls(40, "org1/client", random.Random(3))
    recipients = set()
    for call in calls:
        assert (call.contract, call.method) == ("bench-token-r1", "transfer")
        decoded = decode_fields(transfer_fields, call.arguments)
        assert decoded["amount"] == 2
        recipients.add(decoded["to"])
    assert recipients <= {f"account-{index:05d}" for index in range(5)}
    assert calls == workload.calls(40, "org1/client", random.Random(3))


def test_wasm_kv_registers_fresh_names() -> None:
    workload = create_workload(
        "wasm-kv", WorkloadOptions(transactions=30, run_id="r2", value_bytes=16)
    )
    (deploy,) = workload.setup_calls("org1/client")
    assert contracts_pb2.CodeDeployArguments.FromString(deploy.arguments).name == (
        "bench-registry-r2"
    )
    fields = parse_interface(load_module("registry", "assemblyscript").interface_json)
    register = fields.method("register").arguments
    names = set()
    for call in workload.calls(30, "org1/client", random.Random(4)):
        decoded = decode_fields(register, call.arguments)
        assert len(str(decoded["value"])) == 16
        names.add(decoded["name"])
    assert len(names) == 30


def test_bad_wasm_workload_options() -> None:
    with pytest.raises(ConfigurationError, match="no token contract in cobol is kept"):
        create_workload("wasm-transfer", WorkloadOptions(transactions=1, contract_language="cobol"))
    with pytest.raises(ConfigurationError, match="wasm-kv value size must be 0 to 4096"):
        create_workload("wasm-kv", WorkloadOptions(transactions=1, value_bytes=4097))
    with pytest.raises(ConfigurationError, match="amount must be positive"):
        create_workload("wasm-transfer", WorkloadOptions(transactions=1, transfer_amount=0))

"""One transaction verifier on three paths: admission, block validation and query refuse the same
bad transactions for the same reason (DESIGN.md section 2)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from replica_support import Replica

from causeway.api import client_service
from causeway.api.client_service import ChainFacts, ClientService
from causeway.api.v1 import api_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import BatchVerifier, PrivateKey, VerifiedTransactionCache, get_profile
from causeway.errors import RequestError
from causeway.execution import LatestStateReader, TransactionVerifier
from causeway.mempool import Admission, MempoolLimits, SharedMempool
from causeway.provisioning import build_network
from causeway.provisioning.description import NetworkDescription
from causeway.types import (
    DOMAIN_TRANSACTION,
    TRANSACTION_VERSION,
    DecodedTransaction,
    encode,
    sign_bytes,
)
from causeway.types.v1 import types_pb2

# The block's time, admission's and the query's "now": the three paths judge at the same moment.
NOW_MS = int(time.time() * 1000)
EXPIRY_MAX_MS = 60 * 60 * 1000  # provisioning's default transaction_expiry_max_ms
TIMESTAMP_FUTURE_MAX_MS = 60_000
# A field number no TransactionBody has: its presence makes the body non-canonical.
UNKNOWN_FIELD = b"\xf8\x07\x01"
# A member whose record (in the state every path reads) holds an SM2 key on an intl chain.
SM2_MEMBER = "org1/sm2"


@pytest.fixture(scope="module")
def network() -> NetworkDescription:
    return build_network(2, "intl", "solo", now_ms=NOW_MS - 1000)


@dataclass(frozen=True)
class Body:
    """A transaction body's fields, good by default; each case changes one."""

    sender: str = "org1/client"
    chain_id: str = ""
    version: int = TRANSACTION_VERSION
    timestamp_ms: int = NOW_MS
    expiry_ms: int = NOW_MS + 60_000
    value: bytes = b"v"
    extra: bytes = b""
    # Signed by another key than the sender's; or not signed at all.
    forged: bool = False
    unsigned: bool = False


def signed(network: NetworkDescription, body: Body, nonce: int) -> types_pb2.Transaction:
    chain_id = body.chain_id or network.genesis.chain_id
    encoded = (
        encode(
            types_pb2.TransactionBody(
                version=body.version,
                chain_id=chain_id,
                nonce=nonce.to_bytes(8, "big"),
                timestamp_ms=body.timestamp_ms,
                expiry_ms=body.expiry_ms,
                contract="kv",
                method="get" if body.sender == "org1/node1" else "put",
                arguments=encode(contracts_pb2.KvPutArguments(key=b"k", value=body.value)),
                sender=body.sender,
            )
        )
        + body.extra
    )
    try:
        key = network.member(body.sender).key
    except Exception:  # a stranger: any key will do, it is refused before its signature
        key = PrivateKey.generate("ecdsa-p256")
    if body.forged:
        key = PrivateKey.generate("ecdsa-p256")
    signature = (
        b"" if body.unsigned else key.sign(sign_bytes(DOMAIN_TRANSACTION, chain_id, encoded))
    )
    return types_pb2.Transaction(body=encoded, signature=signature)


# (case, the body, the reason every path gives, the start of the message every path gives).
BAD_TRANSACTIONS = [
    ("unsigned", Body(unsigned=True), "bad_signature", "the transaction is not signed"),
    ("forged signature", Body(forged=True), "bad_signature", "the signature of transaction"),
    ("stranger", Body(sender="org9/stranger"), "unknown_member", "sender 'org9/stranger' is not"),
    ("another chain", Body(chain_id="elsewhere"), "wrong_chain", "transaction is for chain"),
    ("version 2", Body(version=2), "malformed", "transaction version 2 is not the supported"),
    ("no timestamp", Body(timestamp_ms=0), "malformed", "transaction has no timestamp"),
    (
        "expiry before its timestamp",
        Body(expiry_ms=NOW_MS - 1),
        "malformed",
        f"transaction expiry {NOW_MS - 1} ms is before its timestamp {NOW_MS} ms",
    ),
    (
        "expired one millisecond ago",
        Body(timestamp_ms=NOW_MS - 60_000, expiry_ms=NOW_MS - 1),
        "expired",
        f"transaction expired at {NOW_MS - 1} ms, now is {NOW_MS} ms",
    ),
    (
        "expiry one past the furthest allowed",
        Body(expiry_ms=NOW_MS + EXPIRY_MAX_MS + 1),
        "expired",
        f"transaction expiry {NOW_MS + EXPIRY_MAX_MS + 1} ms is more than {EXPIRY_MAX_MS} ms",
    ),
    (
        "timestamp one past the allowed skew",
        Body(
            timestamp_ms=NOW_MS + TIMESTAMP_FUTURE_MAX_MS + 1,
            expiry_ms=NOW_MS + TIMESTAMP_FUTURE_MAX_MS + 1,
        ),
        "future_timestamp",
        f"transaction timestamp {NOW_MS + TIMESTAMP_FUTURE_MAX_MS + 1} ms is more than",
    ),
    (
        "non-canonical body",
        Body(extra=UNKNOWN_FIELD),
        "malformed",
        "TransactionBody is not canonically encoded",
    ),
    ("too large", Body(value=bytes(64 * 1024)), "too_large", "Transaction is "),
    (
        "a key of an algorithm the profile does not allow",
        Body(sender=SM2_MEMBER),
        "bad_signature",
        f"sender {SM2_MEMBER} has a 'sm2' key, which the intl profile does not allow",
    ),
]
# Good at the edges of the same rules: each path admits them.
GOOD_TRANSACTIONS = [
    ("expiring this millisecond", Body(timestamp_ms=NOW_MS - 60_000, expiry_ms=NOW_MS)),
    ("expiry at its timestamp", Body(timestamp_ms=NOW_MS, expiry_ms=NOW_MS)),
    ("expiry the furthest allowed", Body(expiry_ms=NOW_MS + EXPIRY_MAX_MS)),
    (
        "timestamp at the allowed skew",
        Body(
            timestamp_ms=NOW_MS + TIMESTAMP_FUTURE_MAX_MS,
            expiry_ms=NOW_MS + TIMESTAMP_FUTURE_MAX_MS,
        ),
    ),
]


Path = Callable[[types_pb2.Transaction], RequestError | None]


def admission_path(replica: Replica, verifier: BatchVerifier) -> Path:
    application = replica.application
    reader = LatestStateReader(replica.store)
    config = application.executor.get_config(reader)
    admission = Admission(
        application.chain_id,
        application.profile,
        verifier,
        lambda member_id: application.executor.get_member(reader, member_id),
        lambda ids: [False] * len(ids),
        config.transaction_bytes_max,
        config.transaction_expiry_max_ms,
    )

    def submit(transaction: types_pb2.Transaction) -> RequestError | None:
        [outcome] = admission.check([encode(transaction)], NOW_MS)
        return outcome if isinstance(outcome, RequestError) else None

    return submit


def block_path(replica: Replica, proposer: Replica, network: NetworkDescription) -> Path:
    """The bad transaction in place of the good one of a block built at NOW_MS by another
    replica: the validator refuses the block for the transaction, before its roots."""
    proposer.pending[:] = [
        DecodedTransaction(
            transaction=good,
            body=types_pb2.TransactionBody.FromString(good.body),
            id=get_profile("intl").hash(good.body),
            encoded=encode(good),
        )
        for good in [signed(network, Body(), nonce=10**6)]
    ]
    template = proposer.application.build_block(1, 0, NOW_MS, "org1/node1")
    assert template.header.transaction_count == 1
    assert template.header.time_ms == NOW_MS

    def validate(transaction: types_pb2.Transaction) -> RequestError | None:
        block = types_pb2.Block()
        block.CopyFrom(template)
        block.transactions[0].CopyFrom(transaction)
        refusal = replica.application.block_refusal(block)
        if refusal is None or "does not execute to its header" in refusal.message:
            return None  # the transaction passed; only the swapped roots are wrong
        prefix = "transaction 0 of block 1: "
        assert refusal.message.startswith(prefix)
        return type(refusal)(refusal.message.removeprefix(prefix), reason=refusal.reason)

    return validate


def query_path(replica: Replica, verifier: BatchVerifier, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(client_service, "now_ms", lambda: NOW_MS)
    application = replica.application
    reader = LatestStateReader(replica.store)
    config = application.executor.get_config(reader)
    verified = VerifiedTransactionCache()
    service = ClientService(
        facts=ChainFacts(
            chain_id=application.chain_id,
            profile=application.profile,
            genesis_hash=application.genesis_hash,
            consensus="solo",
            node_id="org1/node1",
            admission_batch_max=10,
        ),
        store=replica.store,
        tree=application.tree,
        executor=application.executor,
        reader=reader,
        mempool=SharedMempool(
            MempoolLimits(transactions_max=10, bytes_max=1 << 20),
            committed=replica.store.has_transactions,
        ),
        transaction_verifier=TransactionVerifier(
            application.chain_id, application.profile, verifier, verified
        ),
        chain_config=lambda: config,
        route_admitted=lambda accepted: None,
        role=lambda: "solo",
        peers_connected=lambda: 0,
        on_rejected=lambda reason: None,
        stopping=asyncio.Event(),
    )

    def query(transaction: types_pb2.Transaction) -> RequestError | None:
        try:
            asyncio.run(service.query(api_pb2.QueryRequest(transaction=transaction)))
        except RequestError as error:
            return error
        return None

    return query


@pytest.fixture
def paths(
    network: NetworkDescription,
    replicas: tuple[Replica, Replica],
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Path]:
    proposer, validator = replicas
    verifier = validator.application.verifier
    executor = validator.application.executor
    get_member = executor.get_member

    def with_sm2_member(reader: object, member_id: str) -> types_pb2.Member | None:
        if member_id == SM2_MEMBER:
            return types_pb2.Member(
                id=SM2_MEMBER,
                organisation="org1",
                name="sm2",
                roles=[types_pb2.ROLE_CLIENT],
                algorithm="sm2",
                public_key=b"\x04" + bytes(64),
            )
        return get_member(reader, member_id)  # type: ignore[arg-type]

    monkeypatch.setattr(executor, "get_member", with_sm2_member)
    return {
        "admission": admission_path(validator, verifier),
        "block validation": block_path(validator, proposer, network),
        "query": query_path(validator, verifier, monkeypatch),
    }


@pytest.mark.parametrize(
    ("body", "reason", "message"),
    [
        pytest.param(body, reason, message, id=case)
        for case, body, reason, message in BAD_TRANSACTIONS
    ],
)
def test_each_path_refuses_a_bad_transaction_for_the_same_reason(
    network: NetworkDescription, paths: dict[str, Path], body: Body, reason: str, message: str
) -> None:
    transaction = signed(network, body, nonce=1)
    refusals = {name: path(transaction) for name, path in paths.items()}
    for name, refusal in refusals.items():
        assert refusal is not None, f"{name} accepted it"
        assert (name, refusal.reason) == (name, reason)
        assert refusal.message.startswith(message), (name, refusal.message)
    assert len({refusal.message for refusal in refusals.values() if refusal}) == 1


@pytest.mark.parametrize("body", [pytest.param(body, id=case) for case, body in GOOD_TRANSACTIONS])
def test_each_path_accepts_a_transaction_at_the_edge_of_the_rules(
    network: NetworkDescription, paths: dict[str, Path], body: Body
) -> None:
    transaction = signed(network, body, nonce=2)
    assert {name: path(transaction) for name, path in paths.items()} == {
        "admission": None,
        "block validation": None,
        "query": None,
    }


def test_a_validator_may_not_send_a_transaction_but_may_query(
    network: NetworkDescription, paths: dict[str, Path]
) -> None:
    """The one rule that differs by path, on purpose: queries only read, so any member may
    make one (the executor's rule too)."""
    transaction = signed(network, Body(sender="org1/node1"), nonce=3)
    refusals = {name: path(transaction) for name, path in paths.items()}
    expected = "sender org1/node1 has neither the CLIENT nor the ADMIN role"
    for name in ("admission", "block validation"):
        refusal = refusals[name]
        assert refusal is not None
        assert (refusal.reason, refusal.message.split(";")[0]) == ("permission_denied", expected)
    assert refusals["query"] is None

"""Members with real keys, and signed transactions, for mempool and admission tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from causeway.crypto import BatchVerifier, PrivateKey, get_profile
from causeway.mempool import Admission, Mempool
from causeway.types import (
    DOMAIN_TRANSACTION,
    DecodedTransaction,
    decode_transaction,
    encode,
    sign_bytes,
)
from causeway.types.v1 import types_pb2

CHAIN_ID = "mempool-chain"
NOW_MS = 1_800_000_000_000
EXPIRY_MAX_MS = 600_000
TRANSACTION_BYTES_MAX = 16 * 1024
PROFILE = get_profile("intl")


@dataclass
class Members:
    keys: dict[str, PrivateKey]
    records: dict[str, types_pb2.Member]
    committed_ids: set[bytes] = field(default_factory=set)
    committed_calls: list[list[bytes]] = field(default_factory=list)
    nonce: int = 0

    def lookup(self, member_id: str) -> types_pb2.Member | None:
        return self.records.get(member_id)

    def committed(self, ids: Sequence[bytes]) -> list[bool]:
        self.committed_calls.append(list(ids))
        return [transaction_id in self.committed_ids for transaction_id in ids]

    def signed(
        self,
        sender: str = "org1/alice",
        *,
        key: PrivateKey | None = None,
        chain_id: str = CHAIN_ID,
        expiry_ms: int = NOW_MS + 60_000,
        timestamp_ms: int = NOW_MS,
        version: int = 1,
        arguments: bytes = b"",
        endorsements: int = 0,
        contract: str = "kv",
        method: str = "put",
    ) -> bytes:
        self.nonce += 1
        body = encode(
            types_pb2.TransactionBody(
                version=version,
                chain_id=chain_id,
                nonce=self.nonce.to_bytes(8, "big"),
                timestamp_ms=timestamp_ms,
                expiry_ms=expiry_ms,
                contract=contract,
                method=method,
                arguments=arguments,
                sender=sender,
            )
        )
        signing_key = key or self.keys[sender]
        return encode(
            types_pb2.Transaction(
                body=body,
                signature=signing_key.sign(sign_bytes(DOMAIN_TRANSACTION, chain_id, body)),
                endorsements=[
                    types_pb2.Endorsement(endorser="org1/admin", signature=b"x")
                    for _ in range(endorsements)
                ],
            )
        )


def decoded(data: bytes) -> DecodedTransaction:
    return decode_transaction(data, hash_function=PROFILE.hash, bytes_max=1 << 20)


def make_members() -> Members:
    roles = {
        "org1/alice": [types_pb2.ROLE_CLIENT],
        "org1/admin": [types_pb2.ROLE_ADMIN],
        "org1/watcher": [types_pb2.ROLE_LIGHT],
        "org2/erin": [types_pb2.ROLE_CLIENT],
        "org2/node": [types_pb2.ROLE_CONSENSUS],
    }
    algorithms = {"org2/erin": "ed25519"}
    keys: dict[str, PrivateKey] = {}
    records: dict[str, types_pb2.Member] = {}
    for member_id, member_roles in roles.items():
        organisation, name = member_id.split("/")
        key = keys[member_id] = PrivateKey.generate(algorithms.get(member_id, "ecdsa-p256"))
        records[member_id] = types_pb2.Member(
            id=member_id,
            organisation=organisation,
            name=name,
            roles=member_roles,
            algorithm=key.algorithm,
            public_key=key.public_key().raw,
        )
    return Members(keys=keys, records=records)


def make_admission(
    members: Members, verifier: BatchVerifier, mempool: Mempool | None = None, **options: object
) -> Admission:
    return Admission(
        CHAIN_ID,
        PROFILE,
        verifier,
        members.lookup,
        members.committed,
        TRANSACTION_BYTES_MAX,
        EXPIRY_MAX_MS,
        mempool=mempool,
        **options,  # type: ignore[arg-type]
    )

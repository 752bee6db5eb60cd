"""A small chain for executor tests: two organisations with real keys and certificates.

    org1: org1/admin (ADMIN, CLIENT), org1/alice (CLIENT), org1/watcher (LIGHT)
    org2: org2/admin (ADMIN, CLIENT), org2/bob (CLIENT)

Governance needs both organisations (MAJORITY of two); issuing needs ANY organisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import Message

from causeway.crypto import (
    CryptoProfile,
    PrivateKey,
    get_profile,
    issue_ca_certificate,
    issue_member_certificate,
)
from causeway.execution import BlockExecution, Executor, genesis_state
from causeway.types import (
    DOMAIN_ENDORSEMENT,
    DOMAIN_TRANSACTION,
    TRANSACTION_VERSION,
    DecodedTransaction,
    decode_transaction,
    encode,
    sign_bytes,
)
from causeway.types.v1 import types_pb2

CHAIN_ID = "test-chain"
GENESIS_TIME_MS = 1_800_000_000_000
BLOCK_TIME_MS = GENESIS_TIME_MS + 60_000
EXPIRY_MAX_MS = 600_000
TRANSACTION_BYTES_MAX = 256 * 1024
CERTIFICATE_VALID_DAYS = 3650

ADMIN = types_pb2.ROLE_ADMIN
CLIENT = types_pb2.ROLE_CLIENT
LIGHT = types_pb2.ROLE_LIGHT

MEMBERS: dict[str, tuple[int, ...]] = {
    "org1/admin": (ADMIN, CLIENT),
    "org1/alice": (CLIENT,),
    "org1/watcher": (LIGHT,),
    "org2/admin": (ADMIN, CLIENT),
    "org2/bob": (CLIENT,),
}


class DictReader:
    """The committed state as a plain dict: a StateReader for tests."""

    def __init__(self, state: dict[bytes, bytes]) -> None:
        self.state = state

    def get(self, key: bytes) -> bytes | None:
        return self.state.get(key)

    def range(self, prefix: bytes, start_after: bytes, limit: int) -> list[tuple[bytes, bytes]]:
        keys = sorted(key for key in self.state if key.startswith(prefix) and key > start_after)
        return [(key, self.state[key]) for key in keys[:limit]]


@dataclass
class Identity:
    member_id: str
    key: PrivateKey
    member: types_pb2.Member


def default_config() -> types_pb2.ChainConfig:
    return types_pb2.ChainConfig(
        block_transactions_max=10_000,
        block_bytes_max=8 * 1024 * 1024,
        transaction_bytes_max=TRANSACTION_BYTES_MAX,
        transaction_expiry_max_ms=EXPIRY_MAX_MS,
        endorsements_max=8,
        state_history_heights=100,
        governance_policy=types_pb2.EndorsementPolicy(kind=types_pb2.POLICY_KIND_MAJORITY),
        ledger_issue_policy=types_pb2.EndorsementPolicy(kind=types_pb2.POLICY_KIND_ANY),
        transaction_gas_max=10_000_000,
    )


@dataclass
class ChainKit:
    """Keys, organisations and the genesis of one test chain (built once per profile)."""

    profile: CryptoProfile
    ca_keys: dict[str, PrivateKey]
    organisations: dict[str, types_pb2.Organisation]
    identities: dict[str, Identity]
    genesis: types_pb2.Genesis

    def new_identity(
        self,
        member_id: str,
        roles: Sequence[int],
        *,
        algorithm: str | None = None,
        issuer: str | None = None,
        now_ms: int = GENESIS_TIME_MS,
        valid_days: int = CERTIFICATE_VALID_DAYS,
    ) -> Identity:
        """A member record with a fresh key and a certificate from its organisation's CA (or
        from `issuer`'s CA, to make a certificate that must not verify)."""
        organisation_id, name = member_id.split("/")
        key = PrivateKey.generate(algorithm or self.profile.default_algorithm)
        public_key = key.public_key()
        signer = issuer or organisation_id
        signing_organisation = self.organisations[signer]
        certificate = issue_member_certificate(
            CHAIN_ID,
            signing_organisation,
            self.ca_keys[signer],
            signing_organisation.ca_certificate,
            f"{signer}/{name}" if issuer else member_id,
            roles,
            public_key,
            valid_days,
            now_ms,
        )
        member = types_pb2.Member(
            id=member_id,
            organisation=organisation_id,
            name=name,
            roles=list(roles),  # type: ignore[arg-type]
            algorithm=key.algorithm,
            public_key=public_key.raw,
            certificate=certificate,
        )
        return Identity(member_id=member_id, key=key, member=member)

    def new_organisation(self, organisation_id: str) -> types_pb2.Organisation:
        ca_key = PrivateKey.generate(self.profile.default_algorithm)
        organisation = types_pb2.Organisation(
            id=organisation_id,
            ca_algorithm=ca_key.algorithm,
            ca_public_key=ca_key.public_key().raw,
            ca_certificate=issue_ca_certificate(organisation_id, ca_key, CERTIFICATE_VALID_DAYS),
        )
        self.ca_keys[organisation_id] = ca_key
        self.organisations[organisation_id] = organisation
        return organisation


def build_kit(profile_name: str = "intl") -> ChainKit:
    profile = get_profile(profile_name)
    kit = ChainKit(profile=profile, ca_keys={}, organisations={}, identities={}, genesis=None)  # type: ignore[arg-type]
    for organisation_id in ("org1", "org2"):
        kit.new_organisation(organisation_id)
    for member_id, roles in MEMBERS.items():
        kit.identities[member_id] = kit.new_identity(member_id, roles)
    kit.genesis = types_pb2.Genesis(
        version=1,
        chain_id=CHAIN_ID,
        genesis_time_ms=GENESIS_TIME_MS,
        crypto_profile=profile.name,
        consensus="solo",
        config=default_config(),
        organisations=list(kit.organisations.values()),
        members=[identity.member for identity in kit.identities.values()],
    )
    return kit


@dataclass
class Chain:
    """A chain's state as a dict, and helpers to sign transactions and run blocks over it."""

    kit: ChainKit
    executor: Executor
    state: dict[bytes, bytes]
    height: int = 0
    nonce: int = 0

    def _next_nonce(self) -> bytes:
        self.nonce += 1
        return self.nonce.to_bytes(8, "big")

    @property
    def reader(self) -> DictReader:
        return DictReader(self.state)

    def identity(self, member_id: str) -> Identity:
        return self.kit.identities[member_id]

    def transaction(
        self,
        sender: str | Identity,
        contract: str,
        method: str,
        arguments: Message | bytes = b"",
        *,
        endorsers: Sequence[str | Identity] = (),
        expiry_ms: int = BLOCK_TIME_MS + 60_000,
        timestamp_ms: int = BLOCK_TIME_MS,
        chain_id: str = CHAIN_ID,
        version: int = TRANSACTION_VERSION,
        sender_id: str | None = None,
    ) -> DecodedTransaction:
        signer = sender if isinstance(sender, Identity) else self.identity(sender)
        body = encode(
            types_pb2.TransactionBody(
                version=version,
                chain_id=chain_id,
                nonce=self._next_nonce(),
                timestamp_ms=timestamp_ms,
                expiry_ms=expiry_ms,
                contract=contract,
                method=method,
                arguments=arguments if isinstance(arguments, bytes) else encode(arguments),
                sender=sender_id if sender_id is not None else signer.member_id,
            )
        )
        endorsements = []
        for endorser in endorsers:
            identity = endorser if isinstance(endorser, Identity) else self.identity(endorser)
            endorsements.append(
                types_pb2.Endorsement(
                    endorser=identity.member_id,
                    signature=identity.key.sign(sign_bytes(DOMAIN_ENDORSEMENT, chain_id, body)),
                )
            )
        transaction = types_pb2.Transaction(
            body=body,
            signature=signer.key.sign(sign_bytes(DOMAIN_TRANSACTION, chain_id, body)),
            endorsements=endorsements,
        )
        return decode_transaction(
            encode(transaction), hash_function=self.kit.profile.hash, bytes_max=1 << 24
        )

    def execute(
        self, transactions: Sequence[DecodedTransaction], *, time_ms: int = BLOCK_TIME_MS
    ) -> BlockExecution:
        """Executes a block without committing it."""
        return self.executor.execute_block(self.reader, transactions, self.height + 1, time_ms)

    def commit(
        self, transactions: Sequence[DecodedTransaction], *, time_ms: int = BLOCK_TIME_MS
    ) -> BlockExecution:
        """Executes a block and applies its changes to the state."""
        execution = self.execute(transactions, time_ms=time_ms)
        self.height += 1
        for key, value in execution.changes.items():
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
        return execution

    def run(
        self,
        sender: str | Identity,
        contract: str,
        method: str,
        arguments: Message | bytes = b"",
        **options: object,
    ) -> types_pb2.TransactionResult:
        """Signs, executes and commits one transaction; returns its result."""
        transaction = self.transaction(sender, contract, method, arguments, **options)  # type: ignore[arg-type]
        return self.commit([transaction]).results[0]


def new_chain(kit: ChainKit) -> Chain:
    return Chain(
        kit=kit,
        executor=Executor(kit.genesis, kit.profile),
        state=genesis_state(kit.genesis),
    )


def status_name(result: types_pb2.TransactionResult) -> str:
    return types_pb2.ResultStatus.Name(result.status)

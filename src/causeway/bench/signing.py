"""Pre-signing: every transaction of a run is built and signed before the first one is sent, so
that the client's signing cost never shows up in what the benchmark measures.

Large runs sign on several processes (spawned, not forked: the parent may hold gRPC channels and
threads, which do not survive a fork). Keys travel to the workers as PEM bytes.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from causeway.bench.workloads import Call
from causeway.crypto import PrivateKey, get_profile
from causeway.errors import ConfigurationError
from causeway.sdk import Identity, build_transaction
from causeway.types import encode, transaction_id

SIGNING_CHUNK_SIZE = 500
PARALLEL_SIGNING_THRESHOLD = 2_000
SIGNING_PROCESSES_DEFAULT = 2


@dataclass(frozen=True, slots=True)
class Signer:
    """A member that signs: its id and its key as PKCS#8 PEM (picklable, for worker processes)."""

    member_id: str
    key_pem: bytes

    @classmethod
    def from_key(cls, member_id: str, key: PrivateKey) -> Signer:
        return cls(member_id, key.to_pem())

    @classmethod
    def from_identity(cls, identity: Identity) -> Signer:
        """ConfigurationError for a token key: worker processes need the key itself."""
        if not isinstance(identity.key, PrivateKey):
            raise ConfigurationError(
                f"{identity.member_id}'s key is in a PKCS#11 token; the benchmark signs in"
                " several processes and needs a key file"
            )
        return cls.from_key(identity.member_id, identity.key)

    def load_key(self) -> PrivateKey:
        return PrivateKey.from_pem(self.key_pem)

    def load_identity(self) -> Identity:
        return Identity(member_id=self.member_id, key=self.load_key())


class SignedTransaction(NamedTuple):
    """A signed transaction's id and its canonical encoding."""

    id: bytes
    encoded: bytes


@dataclass(frozen=True, slots=True)
class SigningContext:
    """What every transaction of a run shares: all are stamped with one time and expire
    `expiry_s` after it (long enough for the whole run to be sent)."""

    chain_id: str
    crypto_profile: str
    timestamp_ms: int
    expiry_s: float


def _sign_chunk(
    calls: Sequence[Call],
    signer: Signer,
    endorsers: Sequence[Signer],
    context: SigningContext,
) -> list[SignedTransaction]:
    identity = signer.load_identity()
    endorser_identities = [endorser.load_identity() for endorser in endorsers]
    hash_function = get_profile(context.crypto_profile).hash
    signed: list[SignedTransaction] = []
    for call in calls:
        transaction = build_transaction(
            identity,
            context.chain_id,
            call.contract,
            call.method,
            call.arguments,
            expiry_s=context.expiry_s,
            endorsers=endorser_identities,
            timestamp_ms=context.timestamp_ms,
        )
        signed.append(
            SignedTransaction(transaction_id(transaction.body, hash_function), encode(transaction))
        )
    return signed


def _sign_chunk_task(
    task: tuple[Sequence[Call], Signer, Sequence[Signer], SigningContext],
) -> list[SignedTransaction]:
    return _sign_chunk(*task)


def _chunks(calls: Sequence[Call], size: int) -> Iterator[Sequence[Call]]:
    for start in range(0, len(calls), size):
        yield calls[start : start + size]


def sign_calls(
    calls: Sequence[Call],
    signer: Signer,
    context: SigningContext,
    *,
    endorsers: Sequence[Signer] = (),
    processes: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[SignedTransaction]:
    """Signs every call as a transaction of `signer`, in order.

    `processes` None picks SIGNING_PROCESSES_DEFAULT worker processes for runs of at least
    PARALLEL_SIGNING_THRESHOLD calls and signs in this process otherwise. `progress` is told how
    many more transactions are signed as chunks finish.
    """
    if processes is None:
        processes = SIGNING_PROCESSES_DEFAULT if len(calls) >= PARALLEL_SIGNING_THRESHOLD else 1
    tasks = [
        (list(chunk), signer, tuple(endorsers), context)
        for chunk in _chunks(calls, SIGNING_CHUNK_SIZE)
    ]
    signed: list[SignedTransaction] = []
    if processes <= 1 or len(tasks) <= 1:
        for task in tasks:
            result = _sign_chunk_task(task)
            signed.extend(result)
            if progress is not None:
                progress(len(result))
        return signed
    with multiprocessing.get_context("spawn").Pool(processes=processes) as pool:
        for result in pool.imap(_sign_chunk_task, tasks):
            signed.extend(result)
            if progress is not None:
                progress(len(result))
    return signed

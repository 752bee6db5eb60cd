"""Block sync: serving committed blocks to peers, and catching up from them with verification.

A node that was down, or is new, asks peers that announced a greater height for the blocks it
lacks (GetBlocks) and checks every block before the runtime sees it:

1. the header is for this chain, version and height, and its previous_hash is the hash of the
   block before (32 zero bytes before height 1);
2. transaction_count and transactions_root match the transactions (Merkle root over the
   transaction ids, ids and root by the chain's hash function);
3. the header's validator_set_hash is the hash of the validator set the runtime gives for that
   height (optional, on by default);
4. the certificate commits this block's hash at this height with the quorum of that set:
   ``causeway.light.verify_certificate`` (distinct validators, signatures over the commit sign
   bytes, more than two thirds of the voting power on tbft and solo). Raft members sync with
   ``CertificateQuorum.ANY_VALIDATOR``: they trust one another's nodes, and a block just
   committed may still carry only its committer's signature while the quorum's is gathered.

A block that fails is counted, the peer that sent it is left for the rest of this sync, and the
next peer is asked. Executing the block and comparing its results and state roots is the
runtime's part (its apply callback), as for any block.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import Protocol

from causeway.crypto import CryptoProfile
from causeway.errors import (
    NodeUnavailableError,
    ProofError,
    RequestError,
    WrongChainError,
)
from causeway.light import (
    CertificateQuorum,
    validator_set_hash,
    verify_block_contents,
    verify_certificate,
)
from causeway.net import statistics as counters
from causeway.net.statistics import NetworkStatistics
from causeway.net.v1 import peer_pb2
from causeway.types import BLOCK_VERSION, block_hash
from causeway.types.v1 import types_pb2

logger = logging.getLogger("causeway.net.sync")

BLOCK_HASH_BYTES = 32
GENESIS_PREVIOUS_HASH = bytes(BLOCK_HASH_BYTES)
BLOCKS_PER_REQUEST_DEFAULT = 64


def quorum_for_consensus(consensus: str) -> CertificateQuorum:
    """The quorum block sync asks of a chain whose genesis names ``consensus`` ("solo",
    "tbft", "raft"); a light client asks more of raft (``causeway.light.certificate_quorum``)."""
    if consensus == "raft":
        return CertificateQuorum.ANY_VALIDATOR
    return CertificateQuorum.MORE_THAN_TWO_THIRDS


class BlockSource(Protocol):
    """What the runtime lends the peer server to answer GetBlocks (its block store)."""

    def latest_height(self) -> int: ...

    def get_block(
        self, height: int
    ) -> tuple[types_pb2.Block, types_pb2.CommitCertificate]:  # NotFoundError if absent
        ...


class BlockFetcher(Protocol):
    """Where the syncer gets blocks from: PeerNetwork, or a test double."""

    def peer_heights(self) -> Mapping[str, int]: ...

    def fetch_blocks(
        self, member_id: str, from_height: int, to_height: int
    ) -> AsyncGenerator[peer_pb2.BlockWithCertificate, None]: ...


def verify_block(
    block: types_pb2.Block,
    certificate: types_pb2.CommitCertificate,
    *,
    chain_id: str,
    height: int,
    previous_hash: bytes,
    validators: types_pb2.ValidatorSet,
    profile: CryptoProfile,
    quorum: CertificateQuorum = CertificateQuorum.MORE_THAN_TWO_THIRDS,
    check_validator_set_hash: bool = True,
) -> bytes:
    """The block's hash once the block and its certificate check out (module docstring);
    WrongChainError, ProofError or SignatureError naming the first thing that does not."""
    header = block.header
    if header.chain_id != chain_id:
        raise WrongChainError(f"the block is for {header.chain_id!r}")
    if header.version != BLOCK_VERSION:
        raise ProofError(f"unknown block version {header.version}")
    if header.height != height:
        raise ProofError(f"expected height {height}, got {header.height}")
    expected_previous = GENESIS_PREVIOUS_HASH if height == 1 else previous_hash
    if header.previous_hash != expected_previous:
        raise ProofError(f"the block at height {height} does not follow the block before it")
    verify_block_contents(block, None, profile)
    if check_validator_set_hash and header.validator_set_hash != validator_set_hash(
        validators, profile
    ):
        raise ProofError(f"the validator set of height {height} is not the one the header names")
    own_hash = block_hash(header, profile.hash)
    verify_certificate(
        certificate,
        chain_id=chain_id,
        height=height,
        block_hash=own_hash,
        validators=validators,
        profile=profile,
        quorum=quorum,
    )
    return own_hash


ApplyBlock = Callable[[types_pb2.Block, types_pb2.CommitCertificate], Awaitable[None]]


class BlockSyncer:
    """Catches up from peers that are ahead, verifying each block before ``apply_block``.

    ``latest()`` gives the runtime's latest committed (height, block hash); ``validator_set(h)``
    the validator set that must have committed height h, asked only once h-1 is applied, so
    that validator-set changes in synced blocks take effect. ``apply_block`` executes and
    persists a verified block. If it raises a RequestError the block counts as rejected and
    the next peer is asked; anything else (an InvariantError, say) stops the sync and propagates.
    """

    def __init__(
        self,
        fetcher: BlockFetcher,
        *,
        chain_id: str,
        profile: CryptoProfile,
        validator_set: Callable[[int], types_pb2.ValidatorSet],
        latest: Callable[[], tuple[int, bytes]],
        apply_block: ApplyBlock,
        quorum: CertificateQuorum = CertificateQuorum.MORE_THAN_TWO_THIRDS,
        blocks_per_request: int = BLOCKS_PER_REQUEST_DEFAULT,
        random_source: random.Random | None = None,
        statistics: NetworkStatistics | None = None,
        check_validator_set_hash: bool = True,
    ) -> None:
        if blocks_per_request <= 0:
            raise ValueError(f"blocks_per_request must be positive, not {blocks_per_request}")
        self._fetcher = fetcher
        self._chain_id = chain_id
        self._profile = profile
        self._validator_set = validator_set
        self._latest = latest
        self._apply_block = apply_block
        self._quorum = quorum
        self._blocks_per_request = blocks_per_request
        self._random = random_source if random_source is not None else random.Random()
        self.statistics = statistics if statistics is not None else NetworkStatistics()
        self.check_validator_set_hash = check_validator_set_hash

    def peers_ahead(self) -> list[str]:
        height, _ = self._latest()
        return sorted(
            member
            for member, peer_height in self._fetcher.peer_heights().items()
            if peer_height > height
        )

    async def sync(self, target_height: int | None = None) -> int:
        """Fetches, verifies and applies blocks until no peer that has not misbehaved in this
        call is ahead (or ``target_height`` is reached); returns how many were applied."""
        applied = 0
        excluded: set[str] = set()
        while True:
            height, previous_hash = self._latest()
            if target_height is not None and height >= target_height:
                return applied
            heights = self._fetcher.peer_heights()
            candidates = sorted(
                member
                for member, peer_height in heights.items()
                if peer_height > height and member not in excluded
            )
            if not candidates:
                return applied
            peer = self._random.choice(candidates)
            last = min(heights[peer], height + self._blocks_per_request)
            if target_height is not None:
                last = min(last, target_height)
            got, failed = await self._sync_range(peer, height, previous_hash, last)
            applied += got
            if failed or got == 0:
                # A bad block, a broken stream, or nothing although it said it was ahead: the
                # peer is left for the rest of this sync and the next one is asked.
                excluded.add(peer)

    async def _sync_range(
        self, peer: str, height: int, previous_hash: bytes, last: int
    ) -> tuple[int, bool]:
        """Applies what ``peer`` sends of height+1..last; (blocks applied, whether it failed)."""
        applied = 0
        try:
            async with aclosing(self._fetcher.fetch_blocks(peer, height + 1, last)) as stream:
                async for item in stream:
                    expected = height + 1
                    if expected > last:
                        raise ProofError(f"sent blocks beyond the requested {last}")
                    validators = self._validator_set(expected)
                    own_hash = verify_block(
                        item.block,
                        item.certificate,
                        chain_id=self._chain_id,
                        height=expected,
                        previous_hash=previous_hash,
                        validators=validators,
                        profile=self._profile,
                        quorum=self._quorum,
                        check_validator_set_hash=self.check_validator_set_hash,
                    )
                    await self._apply_block(item.block, item.certificate)
                    self.statistics.increment(counters.BLOCKS_SYNCED, peer)
                    applied += 1
                    height, previous_hash = expected, own_hash
        except RequestError as error:
            self.statistics.increment(counters.BLOCKS_REJECTED, peer)
            logger.warning("block from %s at height %d rejected: %s", peer, height + 1, error)
            return applied, True
        except NodeUnavailableError as error:
            self.statistics.increment(counters.SYNC_FAILURES, peer)
            logger.info("block sync from %s failed: %s", peer, error)
            return applied, True
        return applied, False

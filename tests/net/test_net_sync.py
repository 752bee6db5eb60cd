"""Block sync: verification of blocks and certificates, and catching up from peers over gRPC."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, aclosing
from pathlib import Path

import grpc
import pytest
from net_support import (
    CHAIN_ID,
    WAIT_S,
    PeerNode,
    final_code,
    init_test_network,
    prepare_nodes,
    raw_channel_as,
    start_node,
)

from causeway.crypto import PrivateKey, get_profile
from causeway.errors import (
    NodeUnavailableError,
    NotFoundError,
    ProofError,
    SignatureError,
    WrongChainError,
)
from causeway.net import (
    BlockSyncer,
    CertificateQuorum,
    PeerLimits,
    quorum_for_consensus,
    verify_block,
)
from causeway.net.v1 import peer_pb2
from causeway.provisioning import NetworkDescription
from causeway.types import (
    BLOCK_VERSION,
    DOMAIN_COMMIT,
    DOMAIN_TRANSACTION,
    HashFunction,
    block_hash,
    encode,
    genesis_hash,
    merkle_root,
    sign_bytes,
    transaction_id,
)
from causeway.types.v1 import types_pb2

Signer = tuple[str, PrivateKey]
BlockPair = tuple[types_pb2.Block, types_pb2.CommitCertificate]


def _validator_signers(description: NetworkDescription) -> list[Signer]:
    return [(node.member.member_id, node.member.key) for node in description.nodes]


def _transactions(
    description: NetworkDescription, height: int, count: int
) -> list[types_pb2.Transaction]:
    client = description.member("org1/client")
    transactions = []
    for index in range(count):
        body = encode(
            types_pb2.TransactionBody(
                version=1,
                chain_id=description.chain_id,
                nonce=f"{height}-{index}".encode(),
                timestamp_ms=1000,
                expiry_ms=2000,
                contract="kv",
                method="put",
                sender=client.member_id,
            )
        )
        signature = client.key.sign(sign_bytes(DOMAIN_TRANSACTION, description.chain_id, body))
        transactions.append(types_pb2.Transaction(body=body, signature=signature))
    return transactions


def sign_certificate(
    chain_id: str, height: int, hash_of_block: bytes, signers: Sequence[Signer], round_: int = 0
) -> types_pb2.CommitCertificate:
    document = sign_bytes(
        DOMAIN_COMMIT,
        chain_id,
        encode(types_pb2.CommitVote(height=height, round=round_, block_hash=hash_of_block)),
    )
    return types_pb2.CommitCertificate(
        height=height,
        round=round_,
        block_hash=hash_of_block,
        signatures=[
            types_pb2.CommitSignature(validator=member_id, signature=key.sign(document))
            for member_id, key in signers
        ],
    )


def build_chain(
    description: NetworkDescription,
    length: int,
    *,
    signers: Sequence[Signer] | None = None,
    transactions_per_block: int = 2,
) -> list[BlockPair]:
    """A chain of real blocks: chained headers, Merkle roots and certificates signed by the
    validators' own keys (all of them unless ``signers`` says otherwise)."""
    hash_function = get_profile(description.crypto_profile).hash
    validator_set_hash = hash_function(encode(description.genesis.validators))
    chosen = list(signers) if signers is not None else _validator_signers(description)
    chain: list[BlockPair] = []
    previous = bytes(32)
    for height in range(1, length + 1):
        transactions = _transactions(description, height, transactions_per_block)
        ids = [transaction_id(item.body, hash_function) for item in transactions]
        header = types_pb2.BlockHeader(
            version=BLOCK_VERSION,
            chain_id=description.chain_id,
            height=height,
            previous_hash=previous,
            time_ms=1000 + height,
            proposer=chosen[0][0],
            transactions_root=merkle_root(ids, hash_function),
            results_root=hash_function(b"results"),
            state_root=hash_function(b"state %d" % height),
            validator_set_hash=validator_set_hash,
            next_validator_set_hash=validator_set_hash,
            transaction_count=len(transactions),
            genesis_hash=genesis_hash(description.genesis, hash_function),
        )
        block = types_pb2.Block(header=header, transactions=transactions)
        own_hash = block_hash(header, hash_function)
        chain.append((block, sign_certificate(description.chain_id, height, own_hash, chosen)))
        previous = own_hash
    return chain


def _verify(
    description: NetworkDescription,
    pair: BlockPair,
    *,
    previous_hash: bytes,
    validators: types_pb2.ValidatorSet | None = None,
    quorum: CertificateQuorum = CertificateQuorum.MORE_THAN_TWO_THIRDS,
) -> bytes:
    block, certificate = pair
    return verify_block(
        block,
        certificate,
        chain_id=description.chain_id,
        height=block.header.height,
        previous_hash=previous_hash,
        validators=validators if validators is not None else description.genesis.validators,
        profile=get_profile(description.crypto_profile),
        quorum=quorum,
    )


@pytest.fixture(scope="module")
def four_validators(tmp_path_factory: pytest.TempPathFactory) -> NetworkDescription:
    return init_test_network(tmp_path_factory.mktemp("four"), validators=4, organisations=2)


@pytest.mark.parametrize("crypto_profile", ["intl", "gm"])
def test_a_chain_of_real_blocks_verifies(tmp_path: Path, crypto_profile: str) -> None:
    description = init_test_network(tmp_path, validators=3, crypto_profile=crypto_profile)
    hash_function = get_profile(crypto_profile).hash
    previous = b""
    for pair in build_chain(description, 3):
        previous = _verify(description, pair, previous_hash=previous)
        assert previous == block_hash(pair[0].header, hash_function)


def _copy(pair: BlockPair) -> BlockPair:
    block, certificate = pair
    block_copy, certificate_copy = types_pb2.Block(), types_pb2.CommitCertificate()
    block_copy.CopyFrom(block)
    certificate_copy.CopyFrom(certificate)
    return block_copy, certificate_copy


def _tamper_transaction(pair: BlockPair, _: NetworkDescription) -> None:
    pair[0].transactions[0].body += b"\x00"


def _drop_transaction(pair: BlockPair, _: NetworkDescription) -> None:
    del pair[0].transactions[1]


def _tamper_header(pair: BlockPair, _: NetworkDescription) -> None:
    pair[0].header.state_root = bytes(32)


def _tamper_signature(pair: BlockPair, _: NetworkDescription) -> None:
    signature = bytearray(pair[1].signatures[0].signature)
    signature[-1] ^= 1
    pair[1].signatures[0].signature = bytes(signature)


def _duplicate_signer(pair: BlockPair, _: NetworkDescription) -> None:
    del pair[1].signatures[2:]
    pair[1].signatures.append(pair[1].signatures[0])


def _unknown_signer(pair: BlockPair, _: NetworkDescription) -> None:
    pair[1].signatures[0].validator = "org1/admin"


def _certificate_of_another_round(pair: BlockPair, _: NetworkDescription) -> None:
    # The signatures cover round 0; claiming round 1 makes every one of them fail.
    pair[1].round = 1


def _wrong_chain(pair: BlockPair, _: NetworkDescription) -> None:
    pair[0].header.chain_id = "other-chain"


def _insufficient_power(pair: BlockPair, description: NetworkDescription) -> None:
    # Two of four validators (power 2 of 4) is not more than two thirds.
    signers = _validator_signers(description)[:2]
    header = pair[0].header
    hash_function = get_profile(description.crypto_profile).hash
    pair[1].CopyFrom(
        sign_certificate(
            description.chain_id, header.height, block_hash(header, hash_function), signers
        )
    )


@pytest.mark.parametrize(
    ("tamper", "error", "message"),
    [
        (_tamper_transaction, ProofError, "transactions_root"),
        (_drop_transaction, ProofError, "has 1 transactions; its header counts 2"),
        (_tamper_header, ProofError, "certificate is not for"),
        (_tamper_signature, SignatureError, "does not verify"),
        (_duplicate_signer, SignatureError, "twice"),
        (_unknown_signer, SignatureError, "not a validator"),
        (_certificate_of_another_round, SignatureError, "does not verify"),
        (_wrong_chain, WrongChainError, "other-chain"),
        (_insufficient_power, SignatureError, "2 of 4 voting power"),
    ],
)
def test_a_tampered_block_or_certificate_is_rejected(
    four_validators: NetworkDescription,
    tamper: Callable[[BlockPair, NetworkDescription], None],
    error: type[Exception],
    message: str,
) -> None:
    chain = build_chain(four_validators, 2)
    previous = _verify(four_validators, chain[0], previous_hash=b"")
    _verify(four_validators, _copy(chain[1]), previous_hash=previous)
    pair = _copy(chain[1])
    tamper(pair, four_validators)
    with pytest.raises(error, match=message):
        _verify(four_validators, pair, previous_hash=previous)


def test_chaining_height_and_validator_set_are_checked(
    four_validators: NetworkDescription,
) -> None:
    first, second = build_chain(four_validators, 2)
    with pytest.raises(ProofError, match="does not follow"):
        _verify(four_validators, second, previous_hash=bytes(32))
    with pytest.raises(ProofError, match="expected height 2"):
        verify_block(
            first[0],
            first[1],
            chain_id=CHAIN_ID,
            height=2,
            previous_hash=b"",
            validators=four_validators.genesis.validators,
            profile=get_profile("intl"),
        )
    other_set = types_pb2.ValidatorSet()
    other_set.CopyFrom(four_validators.genesis.validators)
    other_set.validators[0].voting_power = 10
    with pytest.raises(ProofError, match="validator set"):
        _verify(four_validators, first, previous_hash=b"", validators=other_set)
    # Without the header check, the other set's weights decide: the certificate has 13 of 13.
    block, certificate = first
    verify_block(
        block,
        certificate,
        chain_id=CHAIN_ID,
        height=1,
        previous_hash=b"",
        validators=other_set,
        profile=get_profile("intl"),
        check_validator_set_hash=False,
    )
    powerless = types_pb2.ValidatorSet()
    powerless.CopyFrom(four_validators.genesis.validators)
    for validator in powerless.validators:
        validator.voting_power = 0
    with pytest.raises(SignatureError, match="no voting power"):
        verify_block(
            block,
            certificate,
            chain_id=CHAIN_ID,
            height=1,
            previous_hash=b"",
            validators=powerless,
            profile=get_profile("intl"),
            check_validator_set_hash=False,
        )


def test_quorums(four_validators: NetworkDescription) -> None:
    leader_only = build_chain(four_validators, 1, signers=_validator_signers(four_validators)[:1])
    with pytest.raises(SignatureError, match="1 of 4"):
        _verify(four_validators, leader_only[0], previous_hash=b"")
    _verify(
        four_validators,
        leader_only[0],
        previous_hash=b"",
        quorum=CertificateQuorum.ANY_VALIDATOR,
    )
    three_of_four = build_chain(four_validators, 1, signers=_validator_signers(four_validators)[1:])
    _verify(four_validators, three_of_four[0], previous_hash=b"")
    assert quorum_for_consensus("raft") is CertificateQuorum.ANY_VALIDATOR
    assert quorum_for_consensus("tbft") is CertificateQuorum.MORE_THAN_TWO_THIRDS
    assert quorum_for_consensus("solo") is CertificateQuorum.MORE_THAN_TWO_THIRDS


class ChainSource:
    """A BlockSource over a list of blocks."""

    def __init__(self, chain: Sequence[BlockPair]) -> None:
        self.chain = list(chain)

    def latest_height(self) -> int:
        return len(self.chain)

    def get_block(self, height: int) -> BlockPair:
        if not 1 <= height <= len(self.chain):
            raise NotFoundError(f"no block {height}")
        return self.chain[height - 1]


class Ledger:
    """The syncing runtime's side: what it has applied."""

    def __init__(self, hash_function: HashFunction) -> None:
        self.blocks: list[BlockPair] = []
        self._hash = hash_function

    def latest(self) -> tuple[int, bytes]:
        if not self.blocks:
            return 0, b""
        return len(self.blocks), block_hash(self.blocks[-1][0].header, self._hash)

    async def apply(self, block: types_pb2.Block, certificate: types_pb2.CommitCertificate) -> None:
        assert block.header.height == len(self.blocks) + 1
        self.blocks.append((block, certificate))


class FirstCandidate(random.Random):
    """Picks the first (sorted) peer, so that a test decides whom the syncer asks first."""

    def choice(self, seq: Sequence[str]) -> str:  # type: ignore[override]
        return seq[0]


def _syncer(
    node: PeerNode,
    description: NetworkDescription,
    ledger: Ledger,
    **options: object,
) -> BlockSyncer:
    return BlockSyncer(
        node.peer_network,
        chain_id=description.chain_id,
        profile=get_profile(description.crypto_profile),
        validator_set=lambda height: description.genesis.validators,
        latest=ledger.latest,
        apply_block=ledger.apply,
        statistics=node.peer_network.statistics,
        **options,  # type: ignore[arg-type]
    )


async def _wait_for_heights(node: PeerNode, heights: Mapping[str, int]) -> None:
    await node.inbox.wait_for(
        lambda: all(
            node.peer_network.peer_heights().get(member) == height
            for member, height in heights.items()
        ),
        WAIT_S,
    )


async def test_a_new_node_catches_up_over_several_requests(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=2)
    limits = dataclasses.replace(PeerLimits(), blocks_per_request_max=16)
    nodes = prepare_nodes(tmp_path, description, limits=limits)
    fresh, serving = nodes["node1"], nodes["node2"]
    chain = build_chain(description, 40)
    ledger = Ledger(get_profile("intl").hash)
    async with AsyncExitStack() as stack:
        await start_node(stack, fresh)
        server = await start_node(stack, serving, block_source=ChainSource(chain))
        assert await server.wait_until_connected(WAIT_S)
        server.announce_status(40, block_hash(chain[-1][0].header, get_profile("intl").hash))
        await _wait_for_heights(fresh, {serving.member_id: 40})
        syncer = _syncer(fresh, description, ledger, blocks_per_request=100)
        assert syncer.peers_ahead() == [serving.member_id]
        assert await syncer.sync() == 40
        assert ledger.blocks == chain
        assert syncer.peers_ahead() == []
        assert server.statistics.get("block_requests_served", fresh.member_id) == 3
        assert server.statistics.get("blocks_served") == 40
        assert fresh.peer_network.statistics.get("blocks_synced", serving.member_id) == 40
        # A target stops early; nothing to do once caught up.
        assert await syncer.sync() == 0


async def test_sync_stops_at_the_target(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=2)
    nodes = prepare_nodes(tmp_path, description)
    fresh, serving = nodes["node1"], nodes["node2"]
    chain = build_chain(description, 12)
    ledger = Ledger(get_profile("intl").hash)
    async with AsyncExitStack() as stack:
        await start_node(stack, fresh)
        server = await start_node(stack, serving, block_source=ChainSource(chain))
        assert await server.wait_until_connected(WAIT_S)
        server.announce_status(12, b"")
        await _wait_for_heights(fresh, {serving.member_id: 12})
        syncer = _syncer(fresh, description, ledger)
        assert await syncer.sync(target_height=5) == 5
        assert await syncer.sync() == 7
        assert ledger.blocks == chain


def _tamper_fifth(
    chain: list[BlockPair], description: NetworkDescription, how: str
) -> list[BlockPair]:
    bad = [_copy(pair) for pair in chain]
    if how == "transaction":
        _tamper_transaction(bad[4], description)
    elif how == "certificate":
        _tamper_signature(bad[4], description)
    else:
        leader = _validator_signers(description)[:1]
        bad[4] = (bad[4][0], build_chain(description, 5, signers=leader)[4][1])
    return bad


@pytest.mark.parametrize("how", ["transaction", "certificate", "power"])
async def test_a_bad_block_is_rejected_and_another_peer_is_asked(tmp_path: Path, how: str) -> None:
    description = init_test_network(tmp_path, validators=3)
    nodes = prepare_nodes(tmp_path, description)
    fresh, liar, honest = nodes["node1"], nodes["node2"], nodes["node3"]
    chain = build_chain(description, 10)
    ledger = Ledger(get_profile("intl").hash)
    async with AsyncExitStack() as stack:
        await start_node(stack, fresh)
        for node, blocks in ((liar, _tamper_fifth(chain, description, how)), (honest, chain)):
            network = await start_node(stack, node, block_source=ChainSource(blocks))
            assert await network.wait_until_connected(WAIT_S, [fresh.member_id])
            network.announce_status(10, b"")
        await _wait_for_heights(fresh, {liar.member_id: 10, honest.member_id: 10})
        # The liar (org2/node2 sorts first) is asked first: 1-4 come from it, 5 is refused.
        syncer = _syncer(fresh, description, ledger, random_source=FirstCandidate())
        assert await syncer.sync() == 10
        assert ledger.blocks == chain
        statistics = fresh.peer_network.statistics
        assert statistics.get("blocks_rejected", liar.member_id) == 1
        assert statistics.get("blocks_synced", liar.member_id) == 4
        assert statistics.get("blocks_synced", honest.member_id) == 6


async def test_nothing_is_applied_when_no_peer_has_a_valid_chain(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=3)
    nodes = prepare_nodes(tmp_path, description)
    fresh, liar = nodes["node1"], nodes["node2"]
    leader_only = build_chain(description, 3, signers=_validator_signers(description)[:1])
    ledger = Ledger(get_profile("intl").hash)
    async with AsyncExitStack() as stack:
        await start_node(stack, fresh)
        network = await start_node(stack, liar, block_source=ChainSource(leader_only))
        assert await network.wait_until_connected(WAIT_S, [fresh.member_id])
        network.announce_status(3, b"")
        await _wait_for_heights(fresh, {liar.member_id: 3})
        syncer = _syncer(fresh, description, ledger)
        assert await syncer.sync() == 0
        assert ledger.blocks == []
        assert fresh.peer_network.statistics.get("blocks_rejected", liar.member_id) == 1
        # Raft's certificates are the leader's signature: the same chain is then good.
        raft_syncer = _syncer(fresh, description, ledger, quorum=CertificateQuorum.ANY_VALIDATOR)
        assert await raft_syncer.sync() == 3


async def test_get_blocks_answers_within_its_bounds(tmp_path: Path) -> None:
    description = init_test_network(tmp_path, validators=3)
    limits = dataclasses.replace(PeerLimits(), blocks_per_request_max=4)
    nodes = prepare_nodes(tmp_path, description, limits=limits)
    asking, serving, empty = nodes["node1"], nodes["node2"], nodes["node3"]
    chain = build_chain(description, 6, transactions_per_block=0)
    async with AsyncExitStack() as stack:
        network = await start_node(stack, asking)
        await start_node(stack, serving, block_source=ChainSource(chain))
        await start_node(stack, empty)

        async def fetch(member_id: str, first: int, last: int) -> list[int]:
            async with aclosing(network.fetch_blocks(member_id, first, last)) as stream:
                return [item.block.header.height async for item in stream]

        assert await fetch(serving.member_id, 1, 100) == [1, 2, 3, 4]  # blocks_per_request_max
        assert await fetch(serving.member_id, 5, 100) == [5, 6]  # what it has
        assert await fetch(serving.member_id, 9, 12) == []
        with pytest.raises(NodeUnavailableError, match="UNIMPLEMENTED"):
            await fetch(empty.member_id, 1, 1)
        with pytest.raises(NodeUnavailableError, match="INVALID_ARGUMENT"):
            await fetch(serving.member_id, 3, 2)
        with pytest.raises(NodeUnavailableError, match="not a configured peer"):
            await fetch("org9/node9", 1, 1)

        channel = raw_channel_as(asking, serving)
        stack.push_async_callback(channel.close, None)
        get_blocks: AsyncIterator[bytes] | object = channel.unary_stream(
            "/causeway.net.v1.Peer/GetBlocks", None, None
        )
        assert callable(get_blocks)
        wrong_chain = peer_pb2.BlockRangeRequest(chain_id="other", from_height=1, to_height=1)
        code = await final_code(get_blocks(wrong_chain.SerializeToString()))
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        assert await final_code(get_blocks(b"\xff\xff")) == grpc.StatusCode.INVALID_ARGUMENT

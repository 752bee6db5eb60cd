"""Frozen byte-level vectors: sign bytes, hashes, records and stored values in both profiles.

Each vector is rebuilt here from fixed inputs (fixed keys, fixed times) and compared with the hex
frozen in tests/testdata/golden/<profile>.json; the test fails if a single byte changes. Changing
one of these byte forms breaks signatures, hashes or stores made by earlier builds, so it must be
deliberate: run ``pytest tests/types/test_golden_vectors.py --rewrite-golden`` and review the diff.

ECDSA P-256 and SM2 signatures are randomised, so a signature cannot be rebuilt: the frozen
signatures are inputs (read from the file, made afresh only by --rewrite-golden), and the test
checks that each verifies, with the frozen key, over the sign bytes rebuilt today.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import lmdb
import pytest

from causeway.consensus.raft.log import membership_entry
from causeway.consensus.raft.records import Meta, encode_meta
from causeway.consensus.tbft import proposal_sign_bytes, vote_sign_bytes
from causeway.consensus.tbft.records import (
    LOCK_RECORD,
    STATE_RECORD,
    PersistedLock,
    PersistedState,
    encode_lock,
    encode_state,
)
from causeway.consensus.v1 import consensus_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import ALGORITHM_ED25519, PrivateKey, get_profile
from causeway.state import StateTree
from causeway.storage import BlockRecord, Store, schema
from causeway.types import (
    DOMAIN_COMMIT,
    DOMAIN_ENDORSEMENT,
    DOMAIN_TRANSACTION,
    block_hash,
    encode,
    genesis_hash,
    merkle_root,
    sign_bytes,
    transaction_id,
)
from causeway.types.v1 import types_pb2

GOLDEN = Path(__file__).parents[1] / "testdata" / "golden"
PROFILES = ("intl", "gm")
CHAIN_ID = "golden-chain"
GENESIS_TIME_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
BLOCK_TIME_MS = GENESIS_TIME_MS + 5_000
SENDER = "org1/alice"
ENDORSER = "org2/bob"
VALIDATOR = "org1/validator1"
MEMBERS = (SENDER, ENDORSER, VALIDATOR)
ROUND = 1  # not 0, so that the round field is present in every vote and document


@dataclass
class Frozen:
    """The inputs a vector file freezes (keys, signatures) and what it expects (vectors)."""

    keys: dict[str, str]
    signatures: dict[str, str]
    vectors: dict[str, str]
    rewrite: bool

    def key(self, member: str, algorithm: str) -> PrivateKey:
        if member not in self.keys:
            assert self.rewrite, f"no frozen key for {member}: run with --rewrite-golden"
            self.keys[member] = PrivateKey.generate(algorithm).to_pem().decode()
        key = PrivateKey.from_pem(self.keys[member].encode())
        assert key.algorithm == algorithm
        return key

    def signature(self, name: str, key: PrivateKey, document: bytes) -> bytes:
        frozen = self.signatures.get(name)
        if frozen is not None and key.public_key().verify(document, bytes.fromhex(frozen)):
            return bytes.fromhex(frozen)
        assert self.rewrite, f"frozen signature {name!r} does not verify over today's sign bytes"
        signature = key.sign(document)
        self.signatures[name] = signature.hex()
        return signature


def load(profile: str, rewrite: bool) -> Frozen:
    path = GOLDEN / f"{profile}.json"
    if not path.exists():
        assert rewrite, f"{path} is missing: run with --rewrite-golden"
        return Frozen({}, {}, {}, rewrite)
    document = json.loads(path.read_text())
    assert document["profile"] == profile
    return Frozen(document["keys"], document["signatures"], document["vectors"], rewrite)


def save(profile: str, frozen: Frozen, vectors: dict[str, str], directory: Path = GOLDEN) -> None:
    document = {
        "profile": profile,
        "note": "frozen by tests/types/test_golden_vectors.py; regenerate with --rewrite-golden",
        "keys": frozen.keys,
        "signatures": frozen.signatures,
        "vectors": vectors,
    }
    text = json.dumps(document, indent=1, sort_keys=True) + "\n"
    (directory / f"{profile}.json").write_text(text)


def build_vectors(profile_name: str, frozen: Frozen, store_path: Path) -> dict[str, str]:
    """Every vector of one profile, rebuilt from the fixed inputs."""
    profile = get_profile(profile_name)
    hash_function = profile.hash
    algorithm = profile.default_algorithm
    keys = {member: frozen.key(member, algorithm) for member in MEMBERS}
    vectors: dict[str, bytes] = {}

    # Transactions.
    body = encode(
        types_pb2.TransactionBody(
            version=1,
            chain_id=CHAIN_ID,
            nonce=bytes(range(16)),
            timestamp_ms=BLOCK_TIME_MS - 1_000,
            expiry_ms=BLOCK_TIME_MS + 60_000,
            contract="ledger",
            method="transfer",
            arguments=encode(contracts_pb2.LedgerTransferArguments(to="org3/carol", amount=5)),
            sender=SENDER,
        )
    )
    transaction_document = sign_bytes(DOMAIN_TRANSACTION, CHAIN_ID, body)
    endorsement_document = sign_bytes(DOMAIN_ENDORSEMENT, CHAIN_ID, body)
    transaction = types_pb2.Transaction(
        body=body,
        signature=frozen.signature("transaction", keys[SENDER], transaction_document),
        endorsements=[
            types_pb2.Endorsement(
                endorser=ENDORSER,
                signature=frozen.signature("endorsement", keys[ENDORSER], endorsement_document),
            )
        ],
    )
    the_transaction_id = transaction_id(body, hash_function)
    if profile_name == "intl":
        # Ed25519 signatures are deterministic (RFC 8032), so the signature itself is a vector.
        ed25519_key = frozen.key("org1/carol-ed25519", ALGORITHM_ED25519)
        vectors["signature/ed25519_transaction"] = ed25519_key.sign(transaction_document)
        vectors["public_key/ed25519"] = ed25519_key.public_key().raw
    vectors["sign_bytes/transaction"] = transaction_document
    vectors["sign_bytes/endorsement"] = endorsement_document
    vectors["transaction/body"] = body
    vectors["transaction/encoded"] = encode(transaction)
    vectors["transaction/id"] = the_transaction_id

    # The chain definition.
    validator_set = types_pb2.ValidatorSet(
        validators=[
            types_pb2.Validator(
                member_id=VALIDATOR,
                algorithm=algorithm,
                public_key=keys[VALIDATOR].public_key().raw,
                voting_power=1,
            )
        ]
    )
    validator_set_hash = hash_function(encode(validator_set))
    genesis = types_pb2.Genesis(
        version=1,
        chain_id=CHAIN_ID,
        genesis_time_ms=GENESIS_TIME_MS,
        crypto_profile=profile_name,
        consensus="tbft",
        validators=validator_set,
    )
    vectors["validator_set/hash"] = validator_set_hash
    vectors["genesis/encoded"] = encode(genesis)
    vectors["genesis/hash"] = genesis_hash(genesis, hash_function)

    # The block at height 1, with its state change applied to a real store and state tree.
    result = types_pb2.TransactionResult(
        transaction_id=the_transaction_id,
        status=types_pb2.RESULT_STATUS_OK,
        events=[
            types_pb2.Event(
                contract="ledger",
                name="Transferred",
                attributes=[types_pb2.EventAttribute(key="to", value="org3/carol")],
                data=b"\x05",
            )
        ],
        cost=types_pb2.Cost(gas_used=21, reads=2, writes=2, bytes_read=6, bytes_written=3),
    )
    store = Store(store_path, map_size_bytes=16 << 20)
    tree = StateTree(hash_function, store)
    genesis_state = {b"account/org1/alice": b"100", b"account/org2/bob": b"50"}
    genesis_update = tree.apply(0, genesis_state)
    store.save_genesis(encode(genesis), genesis_state, genesis_update)
    tree.committed(genesis_update)
    changes: dict[bytes, bytes | None] = {
        b"account/org1/alice": b"95",
        b"account/org3/carol": b"5",
        b"account/org2/bob": None,
    }
    update = tree.apply(1, changes)
    header = types_pb2.BlockHeader(
        version=1,
        chain_id=CHAIN_ID,
        height=1,
        previous_hash=bytes(32),
        time_ms=BLOCK_TIME_MS,
        proposer=VALIDATOR,
        transactions_root=merkle_root([the_transaction_id], hash_function),
        results_root=merkle_root([encode(result)], hash_function),
        state_root=update.root_hash,
        validator_set_hash=validator_set_hash,
        next_validator_set_hash=validator_set_hash,
        transaction_count=1,
        genesis_hash=genesis_hash(genesis, hash_function),
    )
    block = types_pb2.Block(header=header, transactions=[transaction])
    the_block_hash = block_hash(header, hash_function)
    vectors["block/header"] = encode(header)
    vectors["block/header_hash"] = the_block_hash
    vectors["block/encoded"] = encode(block)

    # Votes, the proposal and the commit certificate of round ROUND.
    prevote_document = vote_sign_bytes(
        CHAIN_ID, consensus_pb2.VOTE_TYPE_PREVOTE, 1, ROUND, the_block_hash
    )
    precommit_document = vote_sign_bytes(
        CHAIN_ID, consensus_pb2.VOTE_TYPE_PRECOMMIT, 1, ROUND, the_block_hash
    )
    commit_document = sign_bytes(
        DOMAIN_COMMIT,
        CHAIN_ID,
        encode(types_pb2.CommitVote(height=1, round=ROUND, block_hash=the_block_hash)),
    )
    proposal_document = proposal_sign_bytes(CHAIN_ID, 1, ROUND, ROUND, the_block_hash)
    vectors["sign_bytes/prevote"] = prevote_document
    vectors["sign_bytes/prevote_nil"] = vote_sign_bytes(
        CHAIN_ID, consensus_pb2.VOTE_TYPE_PREVOTE, 1, ROUND, b""
    )
    vectors["sign_bytes/precommit"] = precommit_document
    vectors["sign_bytes/precommit_nil"] = vote_sign_bytes(
        CHAIN_ID, consensus_pb2.VOTE_TYPE_PRECOMMIT, 1, ROUND, b""
    )
    vectors["sign_bytes/commit"] = commit_document
    vectors["sign_bytes/proposal"] = proposal_document
    # A precommit's signature is, unchanged, its signature in the commit certificate.
    assert precommit_document == commit_document
    validator_key = keys[VALIDATOR]
    prevote = consensus_pb2.Vote(
        type=consensus_pb2.VOTE_TYPE_PREVOTE,
        height=1,
        round=ROUND,
        block_hash=the_block_hash,
        validator=VALIDATOR,
        signature=frozen.signature("prevote", validator_key, prevote_document),
    )
    precommit_signature = frozen.signature("precommit", validator_key, precommit_document)
    precommit = consensus_pb2.Vote(
        type=consensus_pb2.VOTE_TYPE_PRECOMMIT,
        height=1,
        round=ROUND,
        block_hash=the_block_hash,
        validator=VALIDATOR,
        signature=precommit_signature,
    )
    proposal = consensus_pb2.Proposal(
        height=1,
        round=ROUND,
        valid_round_plus_one=ROUND,
        block=block,
        proposer=VALIDATOR,
        signature=frozen.signature("proposal", validator_key, proposal_document),
    )
    certificate = types_pb2.CommitCertificate(
        height=1,
        round=ROUND,
        block_hash=the_block_hash,
        signatures=[types_pb2.CommitSignature(validator=VALIDATOR, signature=precommit_signature)],
    )
    vectors["message/prevote"] = encode(consensus_pb2.ConsensusMessage(vote=prevote))
    vectors["message/precommit"] = encode(consensus_pb2.ConsensusMessage(vote=precommit))
    vectors["message/proposal"] = encode(consensus_pb2.ConsensusMessage(proposal=proposal))
    vectors["certificate/encoded"] = encode(certificate)

    # Consensus records, one of each kind.
    records = [
        (
            STATE_RECORD,
            encode_state(
                PersistedState(
                    height=1,
                    round=ROUND,
                    step=3,
                    locked_round=ROUND,
                    locked_hash=the_block_hash,
                    valid_round=ROUND,
                    valid_hash=the_block_hash,
                    signed_height=1,
                    signed_round=ROUND,
                    signed_step=3,
                    signed_messages=(
                        consensus_pb2.ConsensusMessage(vote=prevote),
                        consensus_pb2.ConsensusMessage(vote=precommit),
                    ),
                )
            ),
        ),
        (LOCK_RECORD, encode_lock(PersistedLock(blocks=(block,), polka=(prevote,)))),
        ("raft/meta", encode_meta(Meta(term=2, voted_for=VALIDATOR, log_end=2))),
        (
            "raft/log/00000000000000000001",
            encode(membership_entry(1, 1, (VALIDATOR,), 0).message),
        ),
        (
            "raft/log/00000000000000000002",
            encode(consensus_pb2.RaftEntry(term=2, index=2, data=encode(block))),
        ),
    ]
    for name, data in records:
        vectors[f"record/{name}"] = data

    # Every value the store writes for this chain, read back raw from LMDB.
    store.commit_block(
        BlockRecord(
            block=block,
            block_hash=the_block_hash,
            certificate=certificate,
            results=[result],
            transaction_ids=[the_transaction_id],
            state_changes=changes,
            tree_update=update,
            validator_set=validator_set,
        )
    )
    store.put_meta_records(records)
    store.close()
    environment = lmdb.open(str(store_path), max_dbs=len(schema.ALL_DATABASES), readonly=True)
    try:
        with environment.begin() as txn:
            for database in schema.ALL_DATABASES:
                handle = environment.open_db(database, txn=txn, create=False)
                for key, value in txn.cursor(handle):
                    name = schema.describe_key(database, key)
                    vectors[f"storage/{name} key"] = key
                    vectors[f"storage/{name} value"] = value
    finally:
        environment.close()
    # transaction_runs receives ids only once many wait in recent_transaction_ids, which a
    # one-block chain never reaches: its record as the store writes it when they move (here,
    # in the run of height 1).
    for key, value in schema.encode_transaction_run_records(1, [(the_transaction_id, 1, 0)]):
        name = schema.describe_key(schema.DB_TRANSACTION_RUNS, key)
        vectors[f"storage/{name} key"] = key
        vectors[f"storage/{name} value"] = value
    return {name: data.hex() for name, data in sorted(vectors.items())}


@pytest.fixture
def rewrite(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--rewrite-golden"))


@pytest.mark.parametrize("profile", PROFILES)
def test_every_vector_is_byte_for_byte_unchanged(
    profile: str, rewrite: bool, tmp_path: Path
) -> None:
    frozen = load(profile, rewrite)
    vectors = build_vectors(profile, frozen, tmp_path / "store")
    if rewrite:
        save(profile, frozen, vectors)
        return
    missing = sorted(set(frozen.vectors) - set(vectors))
    added = sorted(set(vectors) - set(frozen.vectors))
    changed = sorted(
        name for name in set(vectors) & set(frozen.vectors) if vectors[name] != frozen.vectors[name]
    )
    assert (missing, added, changed) == ([], [], []), (
        f"{profile} vectors differ (missing, new, changed); if the change is deliberate, "
        "rerun with --rewrite-golden and review the diff"
    )


@pytest.mark.parametrize("profile", PROFILES)
def test_frozen_signatures_verify_and_bind_their_document(profile: str) -> None:
    frozen = load(profile, rewrite=False)
    documents = {
        "transaction": (SENDER, "sign_bytes/transaction"),
        "endorsement": (ENDORSER, "sign_bytes/endorsement"),
        "prevote": (VALIDATOR, "sign_bytes/prevote"),
        "precommit": (VALIDATOR, "sign_bytes/precommit"),
        "proposal": (VALIDATOR, "sign_bytes/proposal"),
    }
    assert set(frozen.signatures) == set(documents)
    algorithm = get_profile(profile).default_algorithm
    for name, (member, document_name) in documents.items():
        public_key = frozen.key(member, algorithm).public_key()
        document = bytes.fromhex(frozen.vectors[document_name])
        signature = bytes.fromhex(frozen.signatures[name])
        assert public_key.verify(document, signature), name
        # The same signature over the document of another use, or another chain, is refused.
        other = sign_bytes("other", CHAIN_ID, document)
        assert not public_key.verify(other, signature), name
        assert not public_key.verify(
            document.replace(CHAIN_ID.encode(), b"golden-chaim"), signature
        )


def test_the_profiles_hash_with_their_own_function() -> None:
    intl = load("intl", rewrite=False).vectors
    gm = load("gm", rewrite=False).vectors
    # Same content, different hash (SHA-256 against SM3): every hash differs, and sign bytes
    # that do not contain a hash are equal.
    assert intl["transaction/body"] == gm["transaction/body"]
    assert intl["sign_bytes/transaction"] == gm["sign_bytes/transaction"]
    assert intl["transaction/id"] != gm["transaction/id"]
    assert intl["block/header_hash"] != gm["block/header_hash"]


@pytest.mark.parametrize("profile", PROFILES)
def test_the_files_are_exactly_what_rewriting_writes(profile: str, tmp_path: Path) -> None:
    # Rewriting with nothing changed must not touch a byte: no new key, no new signature, the
    # same layout, so that a deliberate rewrite shows only the deliberate change in its diff.
    frozen = load(profile, rewrite=True)
    keys, signatures = dict(frozen.keys), dict(frozen.signatures)
    vectors = build_vectors(profile, frozen, tmp_path / "store")
    save(profile, frozen, vectors, tmp_path)
    assert (frozen.keys, frozen.signatures) == (keys, signatures)
    assert (tmp_path / f"{profile}.json").read_text() == (GOLDEN / f"{profile}.json").read_text()


@pytest.mark.parametrize("profile", PROFILES)
def test_every_storage_database_and_record_kind_has_vectors(profile: str) -> None:
    names = load(profile, rewrite=False).vectors
    for database in schema.ALL_DATABASES:
        prefix = f"storage/{database.decode()}["
        assert any(name.startswith(prefix) for name in names), database
    for record in (STATE_RECORD, LOCK_RECORD, "raft/meta", "raft/log/"):
        assert any(name.startswith(f"record/{record}") for name in names), record
        assert any(name.startswith(f"storage/causeway/v2/meta[named/{record}") for name in names)

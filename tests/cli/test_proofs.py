"""Proof files: written from node answers, checked offline by `causeway proof verify`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from causeway.api.v1 import api_pb2
from causeway.cli.main import app
from causeway.cli.proofs import (
    GENESIS_FILE_BYTES_MAX,
    PROOF_FILE_BYTES_MAX,
    STATE_PROOF_KIND,
    TRANSACTION_PROOF_KIND,
    load_genesis_file,
    load_proof_document,
    state_proof_document,
    transaction_proof_document,
    verify_proof_document,
    write_proof_document,
)
from causeway.crypto import get_profile
from causeway.errors import DecodeError, LimitExceededError, ProofError
from causeway.provisioning import build_network, genesis_to_json
from causeway.state import StateTree
from causeway.types import (
    JSON_DEPTH_MAX,
    encode,
    genesis_hash,
    merkle_proof,
    merkle_root,
    transaction_id,
)
from causeway.types.v1 import types_pb2

runner = CliRunner()
CHAIN_ID = "proof-chain"


class MemoryReader:
    def __init__(self) -> None:
        self.nodes: dict[bytes, bytes] = {}

    def get_state_node(self, node_key: bytes) -> bytes | None:
        return self.nodes.get(node_key)


def _chain(profile_name: str) -> dict[str, Any]:
    """A two-version state, one block of three transactions, and the answers a node would give."""
    hash_function = get_profile(profile_name).hash
    genesis = build_network(1, profile_name, "solo", now_ms=1, chain_id=CHAIN_ID).genesis
    reader = MemoryReader()
    tree = StateTree(hash_function, reader)
    for version, updates in (
        (0, {b"kv/colour": b"red", b"kv/size": b"9"}),
        (1, {b"kv/colour": b"blue", b"kv/shape": b"\x00\xff"}),
    ):
        update = tree.apply(version, updates)
        reader.nodes.update(update.new_nodes)
        tree.committed(update)
    transactions = [
        types_pb2.Transaction(body=f"body {number}".encode(), signature=b"s") for number in range(3)
    ]
    ids = [transaction_id(item.body, hash_function) for item in transactions]
    results = [
        types_pb2.TransactionResult(transaction_id=identifier, status=types_pb2.RESULT_STATUS_OK)
        for identifier in ids
    ]
    header = types_pb2.BlockHeader(
        version=1,
        chain_id=CHAIN_ID,
        height=1,
        transactions_root=merkle_root(ids, hash_function),
        results_root=merkle_root([encode(result) for result in results], hash_function),
        state_root=tree.root_hash(1),
        transaction_count=3,
        genesis_hash=genesis_hash(genesis, hash_function),
    )

    def state(key: bytes) -> api_pb2.GetStateResponse:
        value = {b"kv/colour": b"blue", b"kv/size": b"9", b"kv/shape": b"\x00\xff"}.get(key)
        return api_pb2.GetStateResponse(
            found=value is not None,
            value=value or b"",
            height=1,
            header=header,
            proof=tree.prove(key, 1),
        )

    transaction = api_pb2.GetTransactionResponse(
        transaction=transactions[1],
        result=results[1],
        height=1,
        index=1,
        header=header,
        transaction_proof=merkle_proof(ids, 1, hash_function),
        result_proof=merkle_proof([encode(result) for result in results], 1, hash_function),
    )
    return {"genesis": genesis, "state": state, "transaction": transaction, "ids": ids}


@pytest.fixture(params=["intl", "gm"])
def chain(request: pytest.FixtureRequest) -> dict[str, Any]:
    result = _chain(request.param)
    result["profile"] = request.param
    return result


def test_state_proofs_verify(chain: dict[str, Any]) -> None:
    profile = chain["profile"]
    present = state_proof_document(chain["state"](b"kv/colour"), b"kv/colour", profile)
    assert present["kind"] == STATE_PROOF_KIND
    verified = verify_proof_document(present, genesis=chain["genesis"])
    assert verified.claim == {"key": b"kv/colour".hex(), "value": b"blue".hex(), "present": True}
    assert verified.height == 1
    binary = state_proof_document(chain["state"](b"kv/shape"), b"kv/shape", profile)
    assert verify_proof_document(binary).claim["value"] == "00ff"
    absent = state_proof_document(chain["state"](b"kv/missing"), b"kv/missing", profile)
    assert absent["value"] is None
    assert verify_proof_document(absent).claim["present"] is False


def test_transaction_proof_verifies(chain: dict[str, Any]) -> None:
    document = transaction_proof_document(chain["transaction"], chain["profile"])
    assert document["kind"] == TRANSACTION_PROOF_KIND
    verified = verify_proof_document(document, genesis=chain["genesis"])
    assert verified.claim == {"transaction_id": chain["ids"][1].hex(), "index": 1, "status": "OK"}


def _tampered(document: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target = changed
    for name in path[:-1]:
        target = target[name]
    target[path[-1]] = value
    return changed


def test_tampered_state_proofs_fail() -> None:
    chain = _chain("intl")
    document = state_proof_document(chain["state"](b"kv/colour"), b"kv/colour", "intl")
    other_genesis = build_network(1, "intl", "solo", now_ms=2, chain_id=CHAIN_ID).genesis
    cases = [
        (_tampered(document, ["value"], b"red".hex()), "another value"),
        (_tampered(document, ["value"], None), ""),
        (_tampered(document, ["key"], b"kv/size".hex()), ""),
        (_tampered(document, ["state_root"], "00" * 32), "state_root"),
        (_tampered(document, ["header", "state_root"], "AAAA"), "block_hash"),
        (_tampered(document, ["block_hash"], "00" * 32), "block_hash"),
        (_tampered(document, ["height"], 2), "height"),
        (_tampered(document, ["crypto_profile"], "gm"), "block_hash"),
        (_tampered(document, ["crypto_profile"], "rot13"), "unknown crypto profile"),
        (_tampered(document, ["kind"], "causeway.vibes"), "unknown kind"),
        (_tampered(document, ["format_version"], 9), "format_version"),
        (_tampered(document, ["proof"], "nope"), "must be an object"),
        (_tampered(document, ["key"], "zz"), "not hex"),
    ]
    for changed, message in cases:
        with pytest.raises(ProofError, match=message or None):
            verify_proof_document(changed)
    with pytest.raises(ProofError, match="genesis"):
        verify_proof_document(document, genesis=other_genesis)


def test_tampered_transaction_proofs_fail() -> None:
    chain = _chain("intl")
    document = transaction_proof_document(chain["transaction"], "intl")
    cases = [
        (_tampered(document, ["result", "status"], "RESULT_STATUS_NOT_FOUND"), "root"),
        (_tampered(document, ["transaction_id"], "00" * 32), "transaction_id"),
        (_tampered(document, ["index"], 0), "index"),
        (_tampered(document, ["transaction", "body"], "Ym9keSAw"), "transaction_id"),
    ]
    for changed, message in cases:
        with pytest.raises(ProofError, match=message):
            verify_proof_document(changed)


def test_proof_verify_command(tmp_path: Path) -> None:
    chain = _chain("intl")
    good = tmp_path / "good.json"
    write_proof_document(
        good, state_proof_document(chain["state"](b"kv/colour"), b"kv/colour", "intl")
    )
    assert load_proof_document(good)["kind"] == STATE_PROOF_KIND
    genesis_file = tmp_path / "genesis.json"
    genesis_file.write_text(genesis_to_json(chain["genesis"]))
    result = runner.invoke(
        app, ["proof", "verify", str(good), "--genesis", str(genesis_file), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["valid"] is True
    assert data["value"] == b"blue".hex()
    human = runner.invoke(app, ["proof", "verify", str(good)], env={"COLUMNS": "200"})
    assert human.exit_code == 0
    assert "VALID" in human.stdout
    assert "blue" in human.stdout

    bad = tmp_path / "bad.json"
    document = json.loads(good.read_text())
    document["value"] = b"red".hex()
    bad.write_text(json.dumps(document))
    refused = runner.invoke(app, ["proof", "verify", str(bad)])
    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("error: ")


def _padded_object(size_bytes: int) -> str:
    """A JSON object of exactly `size_bytes` bytes."""
    skeleton = '{"kind": ""}'
    return '{"kind": "' + "k" * (size_bytes - len(skeleton)) + '"}'


def test_proof_file_at_the_size_limit_is_read_and_one_byte_more_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "proof.json"
    path.write_text(_padded_object(PROOF_FILE_BYTES_MAX))
    assert len(load_proof_document(path)["kind"]) == PROOF_FILE_BYTES_MAX - 12
    path.write_text(_padded_object(PROOF_FILE_BYTES_MAX + 1))
    with pytest.raises(LimitExceededError) as refused:
        load_proof_document(path)
    assert refused.value.message == f"{path} is larger than the limit of 16777216 bytes"


def test_proof_verify_of_an_endless_file_is_one_clear_line() -> None:
    result = runner.invoke(app, ["proof", "verify", "/dev/zero"])
    assert result.exit_code == 1
    assert result.stderr == "error: /dev/zero is larger than the limit of 16777216 bytes\n"


def test_proof_file_nested_at_the_depth_limit_is_read_and_one_level_more_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "proof.json"
    inner = "[" * (JSON_DEPTH_MAX - 1) + "]" * (JSON_DEPTH_MAX - 1)
    path.write_text('{"header": ' + inner + "}")
    assert "header" in load_proof_document(path)
    path.write_text('{"header": [' + inner + "]}")
    with pytest.raises(DecodeError) as refused:
        load_proof_document(path)
    assert refused.value.message == f"{path} is nested deeper than 64 levels"
    path.write_text('{"header": ' * 5000)
    result = runner.invoke(app, ["proof", "verify", str(path)])
    assert result.exit_code == 1
    assert result.stderr == f"error: {path} is nested deeper than 64 levels\n"


def test_a_genesis_file_at_the_size_limit_is_read_and_one_byte_more_is_refused(
    tmp_path: Path,
) -> None:
    genesis = _chain("intl")["genesis"]
    text = genesis_to_json(genesis)
    path = tmp_path / "genesis.json"
    # Padded with white space after the object: still the same genesis, exactly at the limit.
    path.write_text(text + " " * (GENESIS_FILE_BYTES_MAX - len(text.encode())))
    assert path.stat().st_size == GENESIS_FILE_BYTES_MAX
    assert load_genesis_file(path) == genesis
    path.write_text(text + " " * (GENESIS_FILE_BYTES_MAX + 1 - len(text.encode())))
    with pytest.raises(LimitExceededError) as refused:
        load_genesis_file(path)
    assert refused.value.message == f"{path} is larger than the limit of 16777216 bytes"


def test_proof_verify_with_an_endless_or_deep_genesis_is_one_clear_line(tmp_path: Path) -> None:
    chain = _chain("intl")
    proof = tmp_path / "proof.json"
    write_proof_document(
        proof, state_proof_document(chain["state"](b"kv/colour"), b"kv/colour", "intl")
    )
    endless = runner.invoke(app, ["proof", "verify", str(proof), "--genesis", "/dev/zero"])
    assert endless.exit_code == 1
    assert endless.stderr == "error: /dev/zero is larger than the limit of 16777216 bytes\n"
    deep = tmp_path / "deep.json"
    deep.write_text("[" * (JSON_DEPTH_MAX + 1) + "]" * (JSON_DEPTH_MAX + 1))
    refused = runner.invoke(app, ["proof", "verify", str(proof), "--genesis", str(deep)])
    assert refused.exit_code == 1
    assert "nested deeper than" in refused.stderr and str(JSON_DEPTH_MAX) in refused.stderr
    with pytest.raises(DecodeError):
        load_genesis_file(deep)

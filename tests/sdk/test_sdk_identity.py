from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from causeway.crypto import PrivateKey
from causeway.errors import ConfigurationError, CryptoError
from causeway.sdk import Identity


def _write_member(
    directory: Path, member: Mapping[str, object], key: PrivateKey | None = None
) -> PrivateKey:
    directory.mkdir(parents=True, exist_ok=True)
    key = key or PrivateKey.generate("ed25519")
    (directory / "member.json").write_text(json.dumps(member))
    (directory / "key.pem").write_bytes(key.to_pem())
    return key


MEMBER = {
    "member_id": "org1/alice",
    "algorithm": "ed25519",
    "crypto_profile": "intl",
    "chain_id": "city",
}


def test_load_reads_member_file_and_key(tmp_path: Path) -> None:
    key = _write_member(tmp_path, MEMBER)
    identity = Identity.load(tmp_path)
    assert identity.member_id == "org1/alice"
    assert identity.chain_id == "city" and identity.crypto_profile == "intl"
    assert identity.algorithm == "ed25519"
    assert identity.key.public_key() == key.public_key()
    assert Identity.load(str(tmp_path)).member_id == "org1/alice"


def test_chain_id_and_profile_are_optional(tmp_path: Path) -> None:
    _write_member(tmp_path, {"member_id": "org1/bob", "algorithm": "ed25519"})
    identity = Identity.load(tmp_path)
    assert identity.chain_id == "" and identity.crypto_profile == ""


@pytest.mark.parametrize(
    "member",
    [
        {**MEMBER, "member_id": "alice"},
        {**MEMBER, "member_id": 7},
        {**MEMBER, "algorithm": ""},
        {**MEMBER, "algorithm": "ecdsa-p256"},
        {**MEMBER, "chain_id": ["city"]},
        ["not", "an", "object"],
    ],
    ids=["no-org", "not-string", "no-algorithm", "wrong-algorithm", "bad-chain", "array"],
)
def test_inconsistent_member_files_are_refused(tmp_path: Path, member: object) -> None:
    directory = tmp_path / "member"
    directory.mkdir()
    (directory / "member.json").write_text(json.dumps(member))
    (directory / "key.pem").write_bytes(PrivateKey.generate("ed25519").to_pem())
    with pytest.raises(ConfigurationError):
        Identity.load(directory)


def test_missing_or_broken_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        Identity.load(tmp_path / "nobody")
    _write_member(tmp_path, MEMBER)
    (tmp_path / "member.json").write_text("{broken")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        Identity.load(tmp_path)
    _write_member(tmp_path, MEMBER)
    (tmp_path / "key.pem").write_bytes(b"not a key")
    with pytest.raises(CryptoError):
        Identity.load(tmp_path)
    (tmp_path / "key.pem").write_bytes(b"x" * 100_000)
    with pytest.raises(ConfigurationError, match="larger than"):
        Identity.load(tmp_path)


def test_key_must_suit_the_profile() -> None:
    with pytest.raises(CryptoError):
        Identity("org1/alice", PrivateKey.generate("ed25519"), crypto_profile="gm")

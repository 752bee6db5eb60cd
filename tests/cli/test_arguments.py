"""From --args JSON to contract arguments, and from results back to data."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from causeway.cli.arguments import (
    CONTRACT_METHODS,
    arguments_from_json,
    decode_return_value,
    display_bytes,
    load_json_argument,
    message_to_data,
    parse_key,
    parse_transaction_id,
    status_name,
)
from causeway.contracts.v1 import contracts_pb2
from causeway.errors import RequestError
from causeway.types import encode
from causeway.types.v1 import types_pb2


def test_kv_strings_are_text() -> None:
    message = arguments_from_json("kv", "put", {"key": "colour", "value": "blue"})
    assert message == contracts_pb2.KvPutArguments(key=b"colour", value=b"blue")
    unicode = arguments_from_json("kv", "put", {"key": "naïve", "value": "ü"})
    assert unicode == contracts_pb2.KvPutArguments(key="naïve".encode(), value="ü".encode())


def test_bytes_forms() -> None:
    message = arguments_from_json(
        "kv",
        "put",
        {"key": {"hex": "00ff"}, "value": {"base64": base64.b64encode(b"\x01\x02").decode()}},
    )
    assert message == contracts_pb2.KvPutArguments(key=b"\x00\xff", value=b"\x01\x02")
    assert arguments_from_json("kv", "range", {"prefix": {"text": "a"}, "limit": 5}) == (
        contracts_pb2.KvRangeArguments(prefix=b"a", limit=5)
    )


def test_other_contracts_keep_protobuf_json() -> None:
    assert arguments_from_json("ledger", "transfer", {"to": "bob", "amount": 5}) == (
        contracts_pb2.LedgerTransferArguments(to="bob", amount=5)
    )
    public_key = b"\x04" + bytes(64)
    message = arguments_from_json(
        "membership",
        "update_certificate",
        {
            "member_id": "org1/client",
            "public_key": base64.b64encode(public_key).decode(),
            "certificate": {"hex": "0102"},
        },
    )
    assert message == contracts_pb2.MembershipUpdateCertificateArguments(
        member_id="org1/client", public_key=public_key, certificate=b"\x01\x02"
    )
    nested = arguments_from_json(
        "membership",
        "add_member",
        {"member": {"id": "org1/new", "roles": ["ROLE_CLIENT"], "public_key": {"hex": "04"}}},
    )
    assert isinstance(nested, contracts_pb2.MembershipAddMemberArguments)
    assert nested.member.public_key == b"\x04"
    assert list(nested.member.roles) == [types_pb2.ROLE_CLIENT]
    assert arguments_from_json("config", "get", None) == contracts_pb2.ConfigGetArguments()
    update = arguments_from_json(
        "validators", "update", {"updates": [{"member_id": "org4/node4", "voting_power": "0"}]}
    )
    assert update == contracts_pb2.ValidatorsUpdateArguments(
        updates=[contracts_pb2.ValidatorPowerUpdate(member_id="org4/node4", voting_power=0)]
    )
    assert arguments_from_json(
        "evidence", "list", {"validator": "org4/node4"}
    ) == contracts_pb2.EvidenceListArguments(validator="org4/node4")


@pytest.mark.parametrize(
    ("contract", "method", "value", "message"),
    [
        ("kv", "nope", {}, "unknown method kv.nope"),
        ("kv", "put", [1], "must be a JSON object"),
        ("kv", "put", {"key": 5}, "args.key"),
        ("kv", "put", {"key": {"hex": "zz"}}, "not hex"),
        ("kv", "put", {"key": {"hex": "00", "text": "a"}}, "args.key"),
        ("kv", "put", {"colour": "blue"}, "do not fit KvPutArguments"),
        ("ledger", "issue", {"account": "a", "amount": -1}, "do not fit"),
        ("ledger", "issue", {"account": "a", "amount": "lots"}, "do not fit"),
    ],
)
def test_bad_arguments(contract: str, method: str, value: object, message: str) -> None:
    with pytest.raises(RequestError, match=message):
        arguments_from_json(contract, method, value)


def test_every_table_entry_names_real_messages() -> None:
    for entry in CONTRACT_METHODS:
        assert entry.arguments.DESCRIPTOR.full_name.startswith("causeway.")
        arguments_from_json(entry.contract, entry.method, {})


def test_load_json_argument(tmp_path: Path) -> None:
    assert load_json_argument('{"a": 1}') == {"a": 1}
    path = tmp_path / "args.json"
    path.write_text('{"key": "k"}')
    assert load_json_argument(f"@{path}") == {"key": "k"}
    with pytest.raises(RequestError, match="not valid JSON"):
        load_json_argument("{")
    with pytest.raises(RequestError, match="cannot read"):
        load_json_argument(f"@{tmp_path / 'missing.json'}")


def test_return_values_decode() -> None:
    found = decode_return_value(
        "kv", "get", encode(contracts_pb2.KvGetResult(found=True, value=b"blue"))
    )
    assert found is not None
    assert message_to_data(found) == {"found": True, "value": "626c7565"}
    assert message_to_data(found, readable=True) == {"found": True, "value": "blue"}
    balance = decode_return_value(
        "ledger", "transfer", encode(contracts_pb2.LedgerBalanceResult(amount=7))
    )
    assert balance is not None
    assert message_to_data(balance) == {"amount": 7}
    assert decode_return_value("kv", "put", b"") is None
    assert decode_return_value("kv", "get", b"\xff\xff") is None


def test_message_to_data_shapes() -> None:
    config = types_pb2.ChainConfig(
        block_transactions_max=5,
        governance_policy=types_pb2.EndorsementPolicy(
            kind=types_pb2.POLICY_KIND_K_OF_N, k=2, organisations=["org1", "org2"]
        ),
    )
    data = message_to_data(config)
    assert data["block_transactions_max"] == 5
    assert data["governance_policy"] == {
        "kind": "POLICY_KIND_K_OF_N",
        "k": 2,
        "organisations": ["org1", "org2"],
    }
    assert "ledger_issue_policy" not in data


def test_display_bytes() -> None:
    assert display_bytes(b"blue") == "blue"
    assert display_bytes(b"\x00\xff") == "0x00ff"
    assert display_bytes(b"0xabc") == "0x" + b"0xabc".hex()
    assert display_bytes(b"") == ""
    assert display_bytes(b"line\nbreak") == "0x" + b"line\nbreak".hex()


def test_keys_and_ids() -> None:
    assert parse_key("colour", hex_key=False) == b"colour"
    assert parse_key("6b76", hex_key=True) == b"kv"
    assert parse_key("0x6b76", hex_key=True) == b"kv"
    with pytest.raises(RequestError):
        parse_key("zz", hex_key=True)
    identifier = bytes(range(32))
    assert parse_transaction_id(identifier.hex()) == identifier
    assert parse_transaction_id("0x" + identifier.hex()) == identifier
    for bad in ("zz", "00", identifier.hex() + "00"):
        with pytest.raises(RequestError):
            parse_transaction_id(bad)
    assert status_name(types_pb2.RESULT_STATUS_OK) == "OK"
    assert status_name(types_pb2.RESULT_STATUS_INSUFFICIENT_FUNDS) == "INSUFFICIENT_FUNDS"
    assert status_name(999) == "999"

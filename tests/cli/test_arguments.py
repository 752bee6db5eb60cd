"""From --args JSON to contract arguments, and from results back to data."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from causeway.cli.arguments import (
    ARGUMENTS_TEXT_BYTES_MAX,
    CONTRACT_METHODS,
    arguments_from_json,
    decode_return_value,
    display_bytes,
    load_json_argument,
    message_to_data,
    parse_key,
    parse_node_address,
    parse_transaction_id,
    status_name,
)
from causeway.contracts.v1 import contracts_pb2, nodes_pb2
from causeway.errors import DecodeError, LimitExceededError, RequestError
from causeway.types import JSON_DEPTH_MAX, encode
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


def _padded_json(size_bytes: int) -> str:
    """A JSON object of exactly `size_bytes` bytes."""
    skeleton = '{"key": ""}'
    return '{"key": "' + "k" * (size_bytes - len(skeleton)) + '"}'


def test_args_file_at_the_size_limit_is_read_and_one_byte_more_is_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "args.json"
    path.write_text(_padded_json(ARGUMENTS_TEXT_BYTES_MAX))
    assert len(load_json_argument(f"@{path}")["key"]) == ARGUMENTS_TEXT_BYTES_MAX - 11
    path.write_text(_padded_json(ARGUMENTS_TEXT_BYTES_MAX + 1))
    with pytest.raises(LimitExceededError) as refused:
        load_json_argument(f"@{path}")
    assert refused.value.message == f"{path} is larger than the limit of 1048576 bytes"


def test_args_text_is_bounded_in_bytes_too() -> None:
    assert load_json_argument(_padded_json(ARGUMENTS_TEXT_BYTES_MAX))["key"].startswith("k")
    with pytest.raises(LimitExceededError) as refused:
        load_json_argument(_padded_json(ARGUMENTS_TEXT_BYTES_MAX + 1))
    assert refused.value.message == "--args is larger than the limit of 1048576 bytes"


def test_args_from_an_endless_file_read_no_more_than_the_limit() -> None:
    # /dev/zero never ends and reports size 0: only the bound + 1 bytes are read.
    with pytest.raises(LimitExceededError) as refused:
        load_json_argument("@/dev/zero")
    assert refused.value.message == "/dev/zero is larger than the limit of 1048576 bytes"


def test_args_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "args.json"
    path.write_bytes(b'{"key": "\xff"}')
    with pytest.raises(DecodeError, match=f"^{path} is not UTF-8 text: "):
        load_json_argument(f"@{path}")


def test_args_nested_at_the_depth_limit_parse_and_one_level_more_is_refused(
    tmp_path: Path,
) -> None:
    deepest: list[object] = []
    for _ in range(JSON_DEPTH_MAX - 1):
        deepest = [deepest]
    assert load_json_argument("[" * JSON_DEPTH_MAX + "]" * JSON_DEPTH_MAX) == deepest
    past = '{"a": ' * (JSON_DEPTH_MAX + 1) + "1" + "}" * (JSON_DEPTH_MAX + 1)
    with pytest.raises(DecodeError) as refused:
        load_json_argument(past)
    assert refused.value.message == "--args is nested deeper than 64 levels"
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000)
    with pytest.raises(DecodeError) as from_file:
        load_json_argument(f"@{path}")
    assert from_file.value.message == f"{path} is nested deeper than 64 levels"


def test_brackets_inside_strings_are_not_nesting() -> None:
    value = {"key": "[{" * 200 + '\\"[', "value": ["]" * 100]}
    assert load_json_argument(json.dumps(value)) == value


@pytest.mark.parametrize(
    ("address", "message"),
    [
        (
            "127.0.0.1:99999",
            "node address '127.0.0.1:99999': port 99999 is not between 1 and 65535",
        ),
        (
            "127.0.0.1:65536",
            "node address '127.0.0.1:65536': port 65536 is not between 1 and 65535",
        ),
        ("127.0.0.1:0", "node address '127.0.0.1:0': port 0 is not between 1 and 65535"),
        (
            "127.0.0.1:http",
            "node address '127.0.0.1:http': port 'http' is not a number "
            "(give HOST:PORT, e.g. 127.0.0.1:7050)",
        ),
        (
            "127.0.0.1:-1",
            "node address '127.0.0.1:-1': port '-1' is not a number "
            "(give HOST:PORT, e.g. 127.0.0.1:7050)",
        ),
        (":7050", "node address ':7050' has no host (give HOST:PORT, e.g. 127.0.0.1:7050)"),
        ("[]:7050", "node address '[]:7050' has no host (give HOST:PORT, e.g. 127.0.0.1:7050)"),
        ("127.0.0.1", "node address '127.0.0.1' has no port (give HOST:PORT, e.g. 127.0.0.1:7050)"),
        (
            "127.0.0.1:",
            "node address '127.0.0.1:' has no port (give HOST:PORT, e.g. 127.0.0.1:7050)",
        ),
    ],
)
def test_bad_node_addresses_are_refused(address: str, message: str) -> None:
    with pytest.raises(RequestError) as refused:
        parse_node_address(address)
    assert refused.value.message == message


@pytest.mark.parametrize(
    "address", ["127.0.0.1:1", "127.0.0.1:65535", "localhost:7050", "[::1]:7050"]
)
def test_good_node_addresses_pass(address: str) -> None:
    assert parse_node_address(address) == address


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


def test_the_nodes_contract_takes_json_arguments() -> None:
    message = arguments_from_json(
        "nodes",
        "set_endpoint",
        {"endpoint": {"member_id": "org5/node5", "name": "node5", "address": "10.0.0.5:7150"}},
    )
    assert message == nodes_pb2.NodesSetEndpointArguments(
        endpoint=nodes_pb2.NodeEndpoint(
            member_id="org5/node5", name="node5", address="10.0.0.5:7150"
        )
    )
    authority = arguments_from_json(
        "nodes",
        "set_tls_authority",
        {"authority": {"organisation": "org5", "certificate": {"hex": "3082"}}},
    )
    assert isinstance(authority, nodes_pb2.NodesSetTlsAuthorityArguments)
    assert authority.authority.certificate == bytes.fromhex("3082")

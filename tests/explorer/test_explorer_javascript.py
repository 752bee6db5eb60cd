"""The explorer's JavaScript modules in Chromium, against the Python implementations they mirror.

SM3 against the GB/T 32905 vectors and causeway's SM3 (tongsuopy), SHA-256 against hashlib, SM2
verification against signatures made by causeway.crypto, and the canonical protobuf encoding
against causeway.types.encode: the in-browser "verify" is only as good as these agreements.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from typing import Any

import pytest
from explorer_harness import ExplorerChain
from google.protobuf import json_format
from playwright.sync_api import BrowserContext, Page

from causeway.crypto import get_profile
from causeway.crypto.keys import PrivateKey
from causeway.types import encode
from causeway.types.v1 import types_pb2

pytestmark = pytest.mark.e2e

# GB/T 32905-2016, appendix A, and the empty message.
SM3_VECTORS = {
    b"abc": "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0",
    b"abcd" * 16: "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732",
    b"": "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b",
}
# Around the padding's boundaries (55, 56 and 64 bytes) and over several blocks.
MESSAGE_LENGTHS = (0, 1, 31, 55, 56, 57, 63, 64, 65, 119, 120, 128, 300, 1000)


@pytest.fixture(scope="module")
def modules(browser: BrowserContext, explorer_chain: ExplorerChain) -> Iterator[Page]:
    """A tab of the explorer, whose modules the tests import."""
    tab = browser.new_page()
    tab.goto(f"{explorer_chain.node.http_url}/explorer/")
    tab.wait_for_selector("body[data-ready='true']")
    try:
        yield tab
    finally:
        tab.close()


def _call(page: Page, module: str, expression: str, argument: object) -> Any:
    """Evaluates `expression` (with the module as `m` and `argument` as `a`) in the page."""
    return page.evaluate(
        f"async (a) => {{ const m = await import('./{module}'); return await ({expression}); }}",
        argument,
    )


def _messages() -> list[bytes]:
    generator = random.Random(32905)
    return [generator.randbytes(length) for length in MESSAGE_LENGTHS]


def test_sm3_matches_the_standard_s_vectors(modules: Page) -> None:
    for message, digest in SM3_VECTORS.items():
        hexadecimal = _call(
            modules,
            "hashing.js",
            "Array.from(m.sm3(Uint8Array.from(a)), (b) => b.toString(16).padStart(2, '0'))"
            ".join('')",
            list(message),
        )
        assert hexadecimal == digest, message


def test_both_hashes_match_python_s(modules: Page) -> None:
    sm3 = get_profile("gm").hash
    for message in _messages():
        for profile, expected in (("gm", sm3(message)), ("intl", hashlib.sha256(message).digest())):
            digest = _call(
                modules,
                "hashing.js",
                "m.hashOfProfile(a.profile)(Uint8Array.from(a.message)).then((d) => Array.from(d))",
                {"profile": profile, "message": list(message)},
            )
            assert bytes(digest) == expected, (profile, len(message))


def test_sm2_verification_agrees_with_causeway_crypto(modules: Page) -> None:
    key = PrivateKey.generate("sm2")
    public = key.public_key().raw
    for message in _messages()[:6]:
        signature = key.sign(message)
        arguments = {"key": list(public), "signature": list(signature), "message": list(message)}
        verify = (
            "m.sm2Verify(Uint8Array.from(a.key), Uint8Array.from(a.signature), "
            "Uint8Array.from(a.message))"
        )
        assert _call(modules, "sm2.js", verify, arguments) is True
        changed = dict(arguments, message=list(message + b"!"))
        assert _call(modules, "sm2.js", verify, changed) is False
        broken = bytearray(signature)
        broken[-1] ^= 1
        assert _call(modules, "sm2.js", verify, dict(arguments, signature=list(broken))) is False


def _result(seed: int) -> types_pb2.TransactionResult:
    generator = random.Random(seed)
    result = types_pb2.TransactionResult(
        transaction_id=generator.randbytes(32),
        status=generator.choice(list(types_pb2.ResultStatus.values())),
        return_value=generator.randbytes(generator.randrange(3)),
        error=generator.choice(["", "not enough", "überzogen"]),
    )
    for number in range(generator.randrange(3)):
        event = result.events.add(contract="ledger", name=f"e{number}")
        event.data = generator.randbytes(generator.randrange(2) * 5)
        for index in range(generator.randrange(3)):
            event.attributes.add(key=f"k{index}", value=generator.choice(["", "v", "1" * 200]))
    if generator.randrange(2):
        result.cost.CopyFrom(
            types_pb2.Cost(
                gas_used=generator.choice([0, 1, 1 << 40]),
                reads=generator.randrange(3),
                bytes_written=generator.randrange(1 << 20),
            )
        )
    return result


def _json(message: Any) -> Any:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def test_the_canonical_encoding_matches_python_s(modules: Page) -> None:
    header = types_pb2.BlockHeader(
        version=1,
        chain_id="c",
        height=(1 << 63) + 5,
        time_ms=-5,
        proposer="org1/node1",
        state_root=b"\x01" * 32,
        transaction_count=3,
    )
    cases: list[tuple[str, Any]] = [("BlockHeader", header)]
    cases += [("TransactionResult", _result(seed)) for seed in range(12)]
    cases.append(("TransactionResult", types_pb2.TransactionResult()))
    for name, message in cases:
        encoded = _call(
            modules,
            "protobuf.js",
            "Array.from(m.encode(a.name, a.json))",
            {"name": name, "json": _json(message)},
        )
        assert bytes(encoded) == encode(message), (name, message)


def test_transaction_bodies_are_decoded(modules: Page) -> None:
    body = types_pb2.TransactionBody(
        version=1,
        chain_id="c",
        nonce=b"\x00" * 16,
        timestamp_ms=1_700_000_000_000,
        expiry_ms=-1,
        contract="ledger",
        method="transfer",
        arguments=b"\x01\x02",
        sender="org1/client",
    )
    decoded = _call(
        modules,
        "protobuf.js",
        "(({arguments: args, nonce, ...rest}) => ({...rest, arguments: Array.from(args)}))"
        "(m.decode('TransactionBody', Uint8Array.from(a)))",
        list(encode(body)),
    )
    assert decoded == {
        "version": 1,
        "chainId": "c",
        "timestampMs": "1700000000000",
        "expiryMs": "-1",
        "contract": "ledger",
        "method": "transfer",
        "arguments": [1, 2],
        "sender": "org1/client",
    }


@pytest.mark.parametrize("algorithm", ["ecdsa-p256", "ed25519", "sm2"])
def test_every_validator_algorithm_is_checked(modules: Page, algorithm: str) -> None:
    key = PrivateKey.generate(algorithm)
    message = b"commit vote bytes"
    arguments = {
        "algorithm": algorithm,
        "key": list(key.public_key().raw),
        "signature": list(key.sign(message)),
        "message": list(message),
    }
    verify = (
        "m.verifySignature(a.algorithm, Uint8Array.from(a.key), Uint8Array.from(a.signature), "
        "Uint8Array.from(a.message))"
    )
    assert _call(modules, "verify.js", verify, arguments) is True
    assert _call(modules, "verify.js", verify, dict(arguments, message=[0])) is False
    assert _call(modules, "verify.js", verify, dict(arguments, algorithm="rsa")) is None

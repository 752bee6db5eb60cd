"""SHA-256 and SM3 against their standards' vectors and an independent SM3."""

from __future__ import annotations

import hashlib

import pytest
from gmssl import func as gmssl_func
from gmssl import sm3 as gmssl_sm3
from hypothesis import given, settings
from hypothesis import strategies as st

from causeway.crypto import sha256, sm3
from causeway.crypto.hashing import SM3_IMPLEMENTATION, sm3_with_tongsuopy

# GB/T 32905-2016 appendix A.
SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_ABCD_TIMES_16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
SM3_IMPLEMENTATIONS = [sm3, sm3_with_tongsuopy]


@pytest.mark.parametrize("implementation", SM3_IMPLEMENTATIONS)
def test_sm3_standard_vectors(implementation: object) -> None:
    assert callable(implementation)
    assert implementation(b"abc").hex() == SM3_ABC
    assert implementation(b"abcd" * 16).hex() == SM3_ABCD_TIMES_16


def test_sm3_uses_a_known_implementation() -> None:
    assert SM3_IMPLEMENTATION in {"hashlib", "tongsuopy"}


def test_sha256_standard_vector() -> None:
    # FIPS 180-2 appendix B.1.
    assert sha256(b"abc").hex() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


@settings(max_examples=50)
@given(st.binary(max_size=300))
def test_sm3_implementations_agree_with_gmssl(data: bytes) -> None:
    independent = gmssl_sm3.sm3_hash(gmssl_func.bytes_to_list(data))
    assert sm3(data).hex() == independent
    assert sm3_with_tongsuopy(data).hex() == independent


@settings(max_examples=20)
@given(st.binary(min_size=2048, max_size=20_000))
def test_sm3_long_messages(data: bytes) -> None:
    # Long inputs take a different path in hashlib (it releases the GIL above 2 KiB).
    assert sm3(data) == sm3_with_tongsuopy(data)
    assert sha256(data) == hashlib.sha256(data).digest()

"""The PKCS#11 signer against a SoftHSM token (tests/softhsm.py makes it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from softhsm import SoftHsmToken, softhsm_token  # noqa: F401 (the fixture)

from causeway.crypto import Pkcs11Signer, generate_token_key
from causeway.errors import CryptoError


def test_a_token_key_signs_what_its_public_key_verifies(
    softhsm_token: SoftHsmToken,  # noqa: F811
) -> None:
    label = softhsm_token.new_key_label("signer")
    public_key = generate_token_key(
        softhsm_token.module, softhsm_token.label, softhsm_token.pin, label, "ecdsa-p256"
    )
    signer = Pkcs11Signer(softhsm_token.module, softhsm_token.label, label, softhsm_token.pin)
    try:
        assert signer.algorithm == "ecdsa-p256"
        assert signer.public_key() == public_key
        signature = signer.sign(b"a transaction's sign bytes")
        assert public_key.verify(b"a transaction's sign bytes", signature)
        assert not public_key.verify(b"other bytes", signature)
        assert label in repr(signer) and softhsm_token.pin not in repr(signer)
    finally:
        signer.close()


def test_a_label_is_not_generated_twice(softhsm_token: SoftHsmToken) -> None:  # noqa: F811
    label = softhsm_token.new_key_label("twice")
    generate_token_key(
        softhsm_token.module, softhsm_token.label, softhsm_token.pin, label, "ecdsa-p256"
    )
    with pytest.raises(CryptoError, match="already holds a key"):
        generate_token_key(
            softhsm_token.module, softhsm_token.label, softhsm_token.pin, label, "ecdsa-p256"
        )


def test_bad_token_parameters_get_clear_errors(softhsm_token: SoftHsmToken) -> None:  # noqa: F811
    module, token, pin = softhsm_token.module, softhsm_token.label, softhsm_token.pin
    with pytest.raises(CryptoError, match="wrong PIN"):
        Pkcs11Signer(module, token, "any", "0000")
    with pytest.raises(CryptoError, match="no PKCS#11 token labelled 'absent'"):
        Pkcs11Signer(module, "absent", "any", pin)
    with pytest.raises(CryptoError, match="no key labelled 'absent-key'"):
        Pkcs11Signer(module, token, "absent-key", pin)
    with pytest.raises(CryptoError, match="does not exist"):
        Pkcs11Signer(Path("/nonexistent/libpkcs11.so"), token, "any", pin)
    for algorithm in ("sm2", "ed25519"):
        with pytest.raises(CryptoError, match="no SM2 mechanism"):
            generate_token_key(module, token, pin, "never", algorithm)

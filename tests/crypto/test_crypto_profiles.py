from __future__ import annotations

import pytest

from causeway.crypto import (
    ALGORITHM_ECDSA_P256,
    ALGORITHM_ED25519,
    ALGORITHM_SM2,
    get_profile,
    sha256,
    sm3,
)
from causeway.errors import ConfigurationError, CryptoError


def test_intl_profile() -> None:
    profile = get_profile("intl")
    assert profile.name == "intl"
    assert profile.hash is sha256
    assert profile.algorithms == frozenset({ALGORITHM_ECDSA_P256, ALGORITHM_ED25519})
    assert profile.default_algorithm == ALGORITHM_ECDSA_P256


def test_gm_profile() -> None:
    profile = get_profile("gm")
    assert profile.name == "gm"
    assert profile.hash is sm3
    assert profile.algorithms == frozenset({ALGORITHM_SM2})
    assert profile.default_algorithm == ALGORITHM_SM2


@pytest.mark.parametrize("name", ["", "INTL", "national", "sm2"])
def test_unknown_profile_is_a_configuration_error(name: str) -> None:
    with pytest.raises(ConfigurationError, match="unknown crypto profile"):
        get_profile(name)


def test_check_algorithm() -> None:
    get_profile("intl").check_algorithm(ALGORITHM_ED25519)
    get_profile("gm").check_algorithm(ALGORITHM_SM2)
    with pytest.raises(CryptoError, match="not allowed"):
        get_profile("gm").check_algorithm(ALGORITHM_ECDSA_P256)
    with pytest.raises(CryptoError, match="not allowed"):
        get_profile("intl").check_algorithm(ALGORITHM_SM2)

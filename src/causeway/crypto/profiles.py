"""Crypto profiles: the hash function and signature algorithms a chain fixes in its genesis."""

from __future__ import annotations

from dataclasses import dataclass

from causeway.crypto.hashing import sha256, sm3
from causeway.crypto.keys import ALGORITHM_ECDSA_P256, ALGORITHM_ED25519, ALGORITHM_SM2
from causeway.errors import ConfigurationError, CryptoError
from causeway.types import HashFunction


@dataclass(frozen=True)
class CryptoProfile:
    name: str
    hash: HashFunction
    algorithms: frozenset[str]
    default_algorithm: str

    def check_algorithm(self, algorithm: str) -> None:
        """CryptoError unless keys of this algorithm may sign on a chain of this profile."""
        if algorithm not in self.algorithms:
            allowed = ", ".join(sorted(self.algorithms))
            raise CryptoError(
                f"algorithm {algorithm!r} is not allowed by crypto profile {self.name!r}"
                f" (allowed: {allowed})"
            )


INTL_PROFILE = CryptoProfile(
    name="intl",
    hash=sha256,
    algorithms=frozenset({ALGORITHM_ECDSA_P256, ALGORITHM_ED25519}),
    default_algorithm=ALGORITHM_ECDSA_P256,
)
GM_PROFILE = CryptoProfile(
    name="gm",
    hash=sm3,
    algorithms=frozenset({ALGORITHM_SM2}),
    default_algorithm=ALGORITHM_SM2,
)
_PROFILES = {profile.name: profile for profile in (INTL_PROFILE, GM_PROFILE)}


def get_profile(name: str) -> CryptoProfile:
    """The profile called name; ConfigurationError for any other name."""
    try:
        return _PROFILES[name]
    except KeyError:
        known = ", ".join(repr(known_name) for known_name in sorted(_PROFILES))
        raise ConfigurationError(
            f"unknown crypto profile {name!r}; expected one of {known}"
        ) from None


def profile_of_algorithm(algorithm: str) -> CryptoProfile:
    """The profile whose chains use algorithm; CryptoError for an unknown algorithm."""
    for profile in _PROFILES.values():
        if algorithm in profile.algorithms:
            return profile
    raise CryptoError(f"unknown signature algorithm {algorithm!r}")

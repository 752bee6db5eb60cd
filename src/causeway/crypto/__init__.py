"""Crypto profiles, keys, batch signature verification, the verified-signature cache and member
certificates."""

from causeway.crypto.batch import BatchVerifier
from causeway.crypto.certificates import (
    issue_ca_certificate,
    issue_member_certificate,
    verify_member_certificate,
)
from causeway.crypto.hashing import sha256, sm3
from causeway.crypto.keys import (
    ALGORITHM_ECDSA_P256,
    ALGORITHM_ED25519,
    ALGORITHM_SM2,
    ALGORITHMS,
    PrivateKey,
    PublicKey,
    load_public_key,
)
from causeway.crypto.profiles import CryptoProfile, get_profile
from causeway.crypto.verified import VerifiedTransactionCache

__all__ = [
    "ALGORITHMS",
    "ALGORITHM_ECDSA_P256",
    "ALGORITHM_ED25519",
    "ALGORITHM_SM2",
    "BatchVerifier",
    "CryptoProfile",
    "PrivateKey",
    "PublicKey",
    "VerifiedTransactionCache",
    "get_profile",
    "issue_ca_certificate",
    "issue_member_certificate",
    "load_public_key",
    "sha256",
    "sm3",
    "verify_member_certificate",
]

"""Crypto profiles, keys, batch signature verification, the verified-signature cache and member
certificates."""

from causeway.crypto.batch import BatchVerifier
from causeway.crypto.certificates import (
    issue_ca_certificate,
    issue_member_certificate,
    verify_member_certificate,
)
from causeway.crypto.hashing import sha256, sm3
from causeway.crypto.key_encryption import (
    PASSPHRASE_ENVIRONMENT_VARIABLE,
    PASSPHRASE_FILE_ENVIRONMENT_VARIABLE,
    passphrase_from_environment,
    read_passphrase_file,
    read_passphrase_variable,
)
from causeway.crypto.keys import (
    ALGORITHM_ECDSA_P256,
    ALGORITHM_ED25519,
    ALGORITHM_SM2,
    ALGORITHMS,
    PrivateKey,
    PublicKey,
    Signer,
    load_public_key,
)
from causeway.crypto.pkcs11 import PKCS11_ALGORITHMS, Pkcs11Signer, generate_token_key
from causeway.crypto.profiles import CryptoProfile, get_profile
from causeway.crypto.verified import VerifiedTransactionCache

__all__ = [
    "ALGORITHMS",
    "ALGORITHM_ECDSA_P256",
    "ALGORITHM_ED25519",
    "ALGORITHM_SM2",
    "PASSPHRASE_ENVIRONMENT_VARIABLE",
    "PASSPHRASE_FILE_ENVIRONMENT_VARIABLE",
    "PKCS11_ALGORITHMS",
    "BatchVerifier",
    "CryptoProfile",
    "Pkcs11Signer",
    "PrivateKey",
    "PublicKey",
    "Signer",
    "VerifiedTransactionCache",
    "generate_token_key",
    "get_profile",
    "issue_ca_certificate",
    "issue_member_certificate",
    "load_public_key",
    "passphrase_from_environment",
    "read_passphrase_file",
    "read_passphrase_variable",
    "sha256",
    "sm3",
    "verify_member_certificate",
]

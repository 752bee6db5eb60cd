"""Fast keyed-hash signatures for the simulator (ADR 0002 allows them in place of the profile's).

Each validator's secret is SHA-256 over the run's seed material and the validator id, so a run's
keys follow from its seed and twins (two instances of one validator) share a key. A signature is
an 8-byte nonce followed by HMAC-SHA256(secret, nonce || document). The nonce comes from the
signer's own seeded generator and makes signatures randomised like ECDSA's: a core that signs the
same document again after a restart, instead of re-sending the stored signature, produces a
different signature, which the double-sign checker reports. ``randomised=False`` gives
deterministic signatures (an all-zero nonce).
"""

from __future__ import annotations

import hashlib
import hmac
import random
from collections.abc import Mapping

NONCE_BYTES = 8
MAC_BYTES = 32


def validator_secret(seed_material: bytes, validator_id: str) -> bytes:
    return hashlib.sha256(b"causeway-sim-key:" + seed_material + validator_id.encode()).digest()


class HmacSigner:
    def __init__(
        self, validator_id: str, secret: bytes, nonces: random.Random, *, randomised: bool = True
    ) -> None:
        self.validator_id = validator_id
        self._secret = secret
        self._nonces = nonces
        self._randomised = randomised
        self.signatures = 0

    def sign(self, document: bytes) -> bytes:
        self.signatures += 1
        nonce = (
            self._nonces.getrandbits(8 * NONCE_BYTES).to_bytes(NONCE_BYTES, "big")
            if self._randomised
            else bytes(NONCE_BYTES)
        )
        return nonce + hmac.digest(self._secret, nonce + document, "sha256")


class HmacVerifier:
    def __init__(self, secrets: Mapping[str, bytes]) -> None:
        self._secrets = dict(secrets)
        self.verifications = 0

    def verify(self, validator_id: str, document: bytes, signature: bytes) -> bool:
        self.verifications += 1
        secret = self._secrets.get(validator_id)
        if secret is None or len(signature) != NONCE_BYTES + MAC_BYTES:
            return False
        nonce = signature[:NONCE_BYTES]
        expected = hmac.digest(secret, nonce + document, "sha256")
        return hmac.compare_digest(expected, signature[NONCE_BYTES:])

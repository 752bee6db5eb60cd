"""Schemathesis hooks of test_api_openapi_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

A schema cannot say that a transaction's `body` must be the encoding of a TransactionBody, so in
the requests Schemathesis means to be valid a real one is put there before the call: a random
base64 string is refused as malformed, rightly, and would read as a valid request rejected.
"""

from __future__ import annotations

import base64
from typing import Any

import schemathesis

from causeway.crypto import PrivateKey
from causeway.sdk import Identity, build_transaction

CHAIN_ID = "test-chain"
_IDENTITY = Identity(
    member_id="org1/alice",
    key=PrivateKey.generate("ecdsa-p256"),
    crypto_profile="intl",
    chain_id=CHAIN_ID,
)


def valid_transaction_bodies(body: Any) -> None:
    """Puts a real encoded TransactionBody into each transaction of a request body."""
    if not isinstance(body, dict):
        return
    transactions = [body.get("transaction")]
    listed = body.get("transactions")
    if isinstance(listed, list):
        transactions += listed
    for transaction in transactions:
        if isinstance(transaction, dict):
            built = build_transaction(_IDENTITY, CHAIN_ID, "kv", "put", b"schemathesis")
            transaction["body"] = base64.b64encode(built.body).decode("ascii")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    del context, kwargs
    if case.meta is not None and case.meta.generation.mode.is_positive:
        valid_transaction_bodies(case.body)

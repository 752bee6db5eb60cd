"""Python views of the wire formats: canonical encoding, sign bytes, ids and Merkle lists."""

from causeway.types.encoding import (
    BLOCK_VERSION,
    DOMAIN_COMMIT,
    DOMAIN_CREDENTIAL,
    DOMAIN_ENDORSEMENT,
    DOMAIN_TRANSACTION,
    SIGN_DOCUMENT_VERSION,
    TRANSACTION_VERSION,
    DecodedTransaction,
    HashFunction,
    block_hash,
    decode,
    decode_transaction,
    encode,
    genesis_hash,
    sign_bytes,
    transaction_id,
)
from causeway.types.json_text import JSON_DEPTH_MAX, check_json_depth
from causeway.types.merkle import merkle_proof, merkle_root, verify_merkle_proof

__all__ = [
    "BLOCK_VERSION",
    "DOMAIN_COMMIT",
    "DOMAIN_CREDENTIAL",
    "DOMAIN_ENDORSEMENT",
    "DOMAIN_TRANSACTION",
    "JSON_DEPTH_MAX",
    "SIGN_DOCUMENT_VERSION",
    "TRANSACTION_VERSION",
    "DecodedTransaction",
    "HashFunction",
    "block_hash",
    "check_json_depth",
    "decode",
    "decode_transaction",
    "encode",
    "genesis_hash",
    "merkle_proof",
    "merkle_root",
    "sign_bytes",
    "transaction_id",
    "verify_merkle_proof",
]

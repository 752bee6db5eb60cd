"""What a gateway committee signs, and who signed it: the four digests of the EVM gateway and
secp256k1 signer recovery (65 bytes r || s || v, v 27 or 28, as Solidity's ecrecover takes them).

A signature whose s is in the upper half of the curve order is refused: (r, n - s) is a valid
signature of the same digest by the same key, and accepting both would let anyone turn one
attestation into two different byte strings.
"""

from __future__ import annotations

from eth_abi.abi import encode as abi_encode
from eth_hash.auto import keccak
from eth_keys.datatypes import PrivateKey, Signature
from eth_keys.exceptions import BadSignature
from eth_utils.exceptions import ValidationError

from causeway.errors import SignatureError

SIGNATURE_BYTES = 65
DIGEST_BYTES = 32
ADDRESS_BYTES = 20
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_ORDER = SECP256K1_ORDER // 2

HEADER_DOMAIN = "causeway-evm-header-v1"
RECEIVE_DOMAIN = "causeway-evm-receive-v1"
ACKNOWLEDGE_DOMAIN = "causeway-evm-acknowledge-v1"
TIMEOUT_DOMAIN = "causeway-evm-timeout-v1"


def _check(name: str, value: bytes, size: int) -> None:
    if len(value) != size:
        raise SignatureError(f"{name} is {len(value)} bytes, not {size}")


def header_digest(evm_chain_id: int, block_hash: bytes) -> bytes:
    """What a committee member signs to attest a block: keccak256(abi.encode(
    "causeway-evm-header-v1", uint256 chainId, bytes32 blockHash))."""
    _check("the block hash", block_hash, DIGEST_BYTES)
    return keccak(
        abi_encode(["string", "uint256", "bytes32"], [HEADER_DOMAIN, evm_chain_id, block_hash])
    )


def receive_digest(evm_chain_id: int, endpoint: bytes, packet_hash: bytes) -> bytes:
    """The endpoint's receivePacket digest: keccak256(abi.encode("causeway-evm-receive-v1",
    block.chainid, address(this), packetHash))."""
    _check("the endpoint address", endpoint, ADDRESS_BYTES)
    _check("the packet hash", packet_hash, DIGEST_BYTES)
    return keccak(
        abi_encode(
            ["string", "uint256", "address", "bytes32"],
            [RECEIVE_DOMAIN, evm_chain_id, endpoint, packet_hash],
        )
    )


def acknowledge_digest(
    evm_chain_id: int, endpoint: bytes, packet_hash: bytes, acknowledgement: bytes
) -> bytes:
    """The endpoint's acknowledgePacket digest: keccak256(abi.encode(
    "causeway-evm-acknowledge-v1", block.chainid, address(this), packetHash,
    keccak256(acknowledgement))), ``acknowledgement`` being ACK_ABI."""
    _check("the endpoint address", endpoint, ADDRESS_BYTES)
    _check("the packet hash", packet_hash, DIGEST_BYTES)
    return keccak(
        abi_encode(
            ["string", "uint256", "address", "bytes32", "bytes32"],
            [ACKNOWLEDGE_DOMAIN, evm_chain_id, endpoint, packet_hash, keccak(acknowledgement)],
        )
    )


def timeout_digest(evm_chain_id: int, endpoint: bytes, packet_hash: bytes) -> bytes:
    """The endpoint's timeoutPacket digest: keccak256(abi.encode("causeway-evm-timeout-v1",
    block.chainid, address(this), packetHash))."""
    _check("the endpoint address", endpoint, ADDRESS_BYTES)
    _check("the packet hash", packet_hash, DIGEST_BYTES)
    return keccak(
        abi_encode(
            ["string", "uint256", "address", "bytes32"],
            [TIMEOUT_DOMAIN, evm_chain_id, endpoint, packet_hash],
        )
    )


def recover_signer(digest: bytes, signature: bytes) -> bytes:
    """The 20-byte address whose key made ``signature`` (r || s || v, v 27 or 28) over the
    32-byte ``digest``. SignatureError for a bad length, v, r or s (s in the upper half of the
    order included) or a signature no key made."""
    _check("the digest", digest, DIGEST_BYTES)
    _check("the signature", signature, SIGNATURE_BYTES)
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise SignatureError(f"the signature's v is {v}, not 27 or 28")
    if not 0 < r < SECP256K1_ORDER:
        raise SignatureError("the signature's r is outside 1..n-1")
    if not 0 < s <= _HALF_ORDER:
        raise SignatureError(
            "the signature's s is zero or in the upper half of the curve order (a malleable "
            "signature): sign with low s"
        )
    try:
        public_key = Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValidationError) as error:
        raise SignatureError(f"no key made this signature: {error}") from None
    address: bytes = public_key.to_canonical_address()
    return address


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    """A 65-byte signature (r || s || v, v 27 or 28, low s) of ``digest`` by ``private_key``, as a
    committee member's ``unsafe_sign_hash`` makes it; for gateways and tests."""
    _check("the digest", digest, DIGEST_BYTES)
    signature = PrivateKey(private_key).sign_msg_hash(digest)
    r: int = signature.r
    s: int = signature.s
    v: int = signature.v
    if s > _HALF_ORDER:
        s, v = SECP256K1_ORDER - s, v ^ 1
    return r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v + 27])


def address_of(private_key: bytes) -> bytes:
    """The 20-byte address of a secp256k1 private key."""
    address: bytes = PrivateKey(private_key).public_key.to_canonical_address()
    return address

"""The cost table: every price, in gas, of what a transaction makes every validator do.

One module, so that a price is changed in one place and every validator charges alike (gas is part
of each result, so of the results root). See docs/contracts.md for the formula.

The scale is set by one P-256 signature verification = 3 000 gas (about 75-95 µs on the reference
2-core machine, so 1 gas is roughly 30 ns). The other signature prices follow the same machine,
through the executor's own verify path (OpenSSL through ``cryptography`` for ECDSA P-256 and
Ed25519, Tongsuo for SM2): Ed25519 about 1.6 times P-256, SM2 about 7 times. Bytes are priced well
above their CPU time on purpose, as bytes written and sent are: what grows with a caller's input
must cost in proportion to it. SM3 hashes about 5 times slower than SHA-256 here, so a byte hashed
on a gm chain costs 5 times a byte hashed on an intl one.
"""

from __future__ import annotations

from types import MappingProxyType

from causeway.crypto import ALGORITHM_ECDSA_P256, ALGORITHM_ED25519, ALGORITHM_SM2, ALGORITHMS
from causeway.errors import InvariantError

# Every transaction: its base price and its encoded bytes (checked before it runs).
GAS_TRANSACTION_BASE = 1_000
GAS_PER_TRANSACTION_BYTE = 1
# State access by the method (not the executor's own look-ups of members and configuration).
GAS_PER_READ = 100
GAS_PER_BYTE_READ = 1
GAS_PER_WRITE = 500
GAS_PER_BYTE_WRITTEN = 2
# Event data is kept in the block's results by every node, like state but never pruned.
GAS_PER_EVENT_DATA_BYTE = 2

# User contracts (causeway.vm; docs/adr/0003). WebAssembly runs on fuel, one gas buying
# VmLimits.fuel_per_gas (100) fuel, about one operator each; these are the host's prices on top.
# A call: a fresh instance from the pool, its store and its teardown (about 40 µs).
GAS_WASM_CALL_BASE = 1_500
# Entering and leaving the host once (about 8 µs of Python per host function).
GAS_WASM_HOST_CALL = 300
# A byte copied between a contract's memory and the chain, on top of what the work costs.
GAS_WASM_BOUNDARY_BYTE = 1
# A byte of code deployed or upgraded: it is validated and compiled (about 5 ms per KiB, which
# would be some 160 gas a byte). Deployment needs the contract policy's endorsements, so it is
# no cheap way to load the validators. With the transaction's own bytes and the hashing of the
# module (transaction id, endorsements, code hash) a deployed byte costs about 12 gas on intl
# and 23 on gm (SM3 costs 5 a byte): the default transaction_gas_max of 1,000,000 takes a module
# of about 80 KiB on intl and 42 KiB on gm; a chain that deploys larger ones (the data
# directory's contract is 47 KB) raises the bound by governance (docs/contract-abi.md).
GAS_WASM_CODE_BYTE = 8

# One signature verification (an endorsement's, or one a method makes), by signature algorithm;
# the bytes of the signed message are charged as hashed on top.
SIGNATURE_VERIFICATION_GAS = MappingProxyType(
    {
        ALGORITHM_ECDSA_P256: 3_000,
        ALGORITHM_ED25519: 5_000,
        ALGORITHM_SM2: 20_000,
    }
)

# One byte hashed with the chain's hash function, by crypto profile (intl: SHA-256, gm: SM3).
GAS_PER_BYTE_HASHED = MappingProxyType({"intl": 1, "gm": 5})

if set(SIGNATURE_VERIFICATION_GAS) != set(ALGORITHMS):
    raise InvariantError("the cost table must price every signature algorithm, and only those")


def signature_verification_gas(algorithm: str, message_bytes: int, profile_name: str) -> int:
    """The price of verifying one signature of `algorithm` over a message of `message_bytes`
    bytes: the algorithm's price and the message's bytes hashed."""
    try:
        price = SIGNATURE_VERIFICATION_GAS[algorithm]
    except KeyError:
        # Keys come from state, which only holds keys of known algorithms.
        raise InvariantError(f"no price for signature algorithm {algorithm!r}") from None
    return price + hashing_gas(message_bytes, profile_name)


def hashing_gas(byte_count: int, profile_name: str) -> int:
    """The price of hashing `byte_count` bytes with the hash function of the profile."""
    try:
        return GAS_PER_BYTE_HASHED[profile_name] * byte_count
    except KeyError:
        raise InvariantError(f"no hashing price for crypto profile {profile_name!r}") from None

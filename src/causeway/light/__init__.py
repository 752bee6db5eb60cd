"""Verification a stranger can do: from a trusted validator set and a chain's crypto profile.

A light client trusts a chain's id, its crypto profile, its consensus quorum (all from its
genesis) and one validator set. With those it checks a header and its commit certificate
(``verify_header``), the next validator set against that header (``verify_next_validator_set``),
and state entries, transactions and results against the header's roots. The profile is always
passed in, never read from the process: one process checks intl and gm chains alike. Pure: no
clock, disk or network. The rules, thresholds and trust assumptions: docs/light-client.md.
"""

from causeway.light.certificates import (
    CERTIFICATE_SIGNATURES_MAX,
    VALIDATOR_SET_VALIDATORS_MAX,
    CertificateQuorum,
    certificate_quorum,
    commit_sign_bytes,
    total_voting_power,
    trusted_signers,
    validator_key,
    validators_by_member,
    verify_certificate,
    verify_trusted_signers,
)
from causeway.light.headers import (
    check_header_shape,
    validator_set_hash,
    verify_adjacent_header,
    verify_header,
    verify_next_validator_set,
    verify_validator_set,
)
from causeway.light.proofs import (
    verify_block_contents,
    verify_result,
    verify_state,
    verify_transaction,
)

__all__ = [
    "CERTIFICATE_SIGNATURES_MAX",
    "VALIDATOR_SET_VALIDATORS_MAX",
    "CertificateQuorum",
    "certificate_quorum",
    "check_header_shape",
    "commit_sign_bytes",
    "total_voting_power",
    "trusted_signers",
    "validator_key",
    "validator_set_hash",
    "validators_by_member",
    "verify_adjacent_header",
    "verify_block_contents",
    "verify_certificate",
    "verify_header",
    "verify_next_validator_set",
    "verify_result",
    "verify_state",
    "verify_transaction",
    "verify_trusted_signers",
    "verify_validator_set",
]

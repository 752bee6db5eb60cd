"""Pure helpers for EVM chains seen from Causeway (the hub's "evm-committee" clients and the
gateways): Ethereum's header and receipt encodings, receipt and storage proofs against attested
roots, the ABI forms of packets, acknowledgements and transfer data, the committee's digests and
signer recovery. No I/O and no web3: rlp, trie, eth-hash, eth-abi and eth-keys only.
docs/evm-clients.md explains how the hub verifies an EVM chain and what it trusts.

The helpers are loaded on the first use of any of them: the Ethereum libraries take some 0.15 s
to import, and every node imports this package through its interchain contracts, while only the
hub of an EVM chain, its gateways and the EVM transfer path call them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from causeway.interchain.evm.abi import (
        ACKNOWLEDGEMENT_ABI_TYPES,
        ACKNOWLEDGEMENT_ERROR_CHARACTERS_MAX,
        ACKNOWLEDGEMENT_WRITTEN_SIGNATURE,
        ACKNOWLEDGEMENT_WRITTEN_TOPIC,
        EMPTY_FAILURE_REASON,
        PACKET_ABI_TYPES,
        PACKET_SENT_SIGNATURE,
        PACKET_SENT_TOPIC,
        SOLIDITY_ABI_ENCODING,
        TRANSFER_ABI_TYPES,
        UINT64_MAX,
        decode_acknowledgement,
        decode_acknowledgement_written,
        decode_packet,
        decode_transfer_data,
        encode_acknowledgement,
        encode_packet,
        encode_transfer_data,
        packet_hash,
        packet_sent_data,
    )
    from causeway.interchain.evm.encoding import (
        HEADER_BYTES_MAX,
        HEADER_FIELDS,
        HEADER_FIELDS_MIN,
        EvmHeader,
        EvmLog,
        EvmReceipt,
        decode_header,
        decode_receipt,
        encode_nodes,
        header_rlp_from_json,
        hex_bytes,
        hex_integer,
        receipt_from_json,
    )
    from causeway.interchain.evm.proofs import (
        PROOF_NODE_BYTES_MAX,
        PROOF_NODES_MAX,
        RECEIVED_MAPPING_SLOT,
        build_receipt_proof,
        find_log_index,
        mapping_slot,
        proof_bytes,
        receipt_key,
        receipts_root,
        received_slot,
        verify_receipt_log,
        verify_storage,
        verify_storage_absent,
        verify_storage_value,
    )
    from causeway.interchain.evm.signatures import (
        ACKNOWLEDGE_DOMAIN,
        HEADER_DOMAIN,
        RECEIVE_DOMAIN,
        SIGNATURE_BYTES,
        TIMEOUT_DOMAIN,
        acknowledge_digest,
        address_of,
        header_digest,
        receive_digest,
        recover_signer,
        sign_digest,
        timeout_digest,
    )

__all__ = [
    "ACKNOWLEDGEMENT_ABI_TYPES",
    "ACKNOWLEDGEMENT_ERROR_CHARACTERS_MAX",
    "ACKNOWLEDGEMENT_WRITTEN_SIGNATURE",
    "ACKNOWLEDGEMENT_WRITTEN_TOPIC",
    "ACKNOWLEDGE_DOMAIN",
    "EMPTY_FAILURE_REASON",
    "HEADER_BYTES_MAX",
    "HEADER_DOMAIN",
    "HEADER_FIELDS",
    "HEADER_FIELDS_MIN",
    "PACKET_ABI_TYPES",
    "PACKET_SENT_SIGNATURE",
    "PACKET_SENT_TOPIC",
    "PROOF_NODES_MAX",
    "PROOF_NODE_BYTES_MAX",
    "RECEIVED_MAPPING_SLOT",
    "RECEIVE_DOMAIN",
    "SIGNATURE_BYTES",
    "SOLIDITY_ABI_ENCODING",
    "TIMEOUT_DOMAIN",
    "TRANSFER_ABI_TYPES",
    "UINT64_MAX",
    "EvmHeader",
    "EvmLog",
    "EvmReceipt",
    "acknowledge_digest",
    "address_of",
    "build_receipt_proof",
    "decode_acknowledgement",
    "decode_acknowledgement_written",
    "decode_header",
    "decode_packet",
    "decode_receipt",
    "decode_transfer_data",
    "encode_acknowledgement",
    "encode_nodes",
    "encode_packet",
    "encode_transfer_data",
    "find_log_index",
    "header_digest",
    "header_rlp_from_json",
    "hex_bytes",
    "hex_integer",
    "mapping_slot",
    "packet_hash",
    "packet_sent_data",
    "proof_bytes",
    "receipt_from_json",
    "receipt_key",
    "receipts_root",
    "receive_digest",
    "received_slot",
    "recover_signer",
    "sign_digest",
    "timeout_digest",
    "verify_receipt_log",
    "verify_storage",
    "verify_storage_absent",
    "verify_storage_value",
]

# The modules that hold the names above; all are loaded together on the first use of any name.
_SUBMODULES = ("abi", "encoding", "proofs", "signatures")


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    loaded: dict[str, object] = {}
    for submodule_name in _SUBMODULES:
        submodule = importlib.import_module(f"{__name__}.{submodule_name}")
        for public_name in __all__:
            if public_name in vars(submodule):
                loaded.setdefault(public_name, vars(submodule)[public_name])
    # Kept as this module's own names, so that later uses do not come back here.
    globals().update(loaded)
    return loaded[name]

"""The EVM vectors recorded from anvil with the gateway's CausewayEndpoint
(scripts/record_evm_vectors.py), read for the tests."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from causeway.interchain import evm
from causeway.interchain.v1 import interchain_pb2

VECTORS = Path(__file__).resolve().parent.parent / "testdata" / "evm" / "vectors.json"
# Test committee keys (never used anywhere real): members 1..4, and one outsider.
COMMITTEE_KEYS = tuple(bytes([index]) * 32 for index in range(1, 5))
OUTSIDER_KEY = bytes([0x77]) * 32


@cache
def vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(VECTORS.read_text())
    return loaded


def packet(label: str) -> interchain_pb2.Packet:
    fields = vectors()["packets"][label]
    return interchain_pb2.Packet(
        source_client=fields["source_client"],
        destination_client=fields["destination_client"],
        sequence=fields["sequence"],
        timeout_ms=fields["timeout_ms"],
        payload=interchain_pb2.Payload(
            source_port=fields["source_port"],
            destination_port=fields["destination_port"],
            version=fields["version"],
            encoding=fields["encoding"],
            value=evm.hex_bytes(fields["value"]),
        ),
    )


def block(index: int) -> dict[str, Any]:
    recorded: dict[str, Any] = vectors()["blocks"][index]
    return recorded


def header_rlp(index: int) -> bytes:
    return evm.hex_bytes(block(index)["header_rlp"])


def receipts(index: int) -> list[bytes]:
    return [evm.hex_bytes(receipt) for receipt in block(index)["receipts"]]


def transaction_index(label: str) -> int:
    """The index in the packets block of the transaction recorded under ``label``."""
    index: int = block(0)["transactions"][label]["index"]
    return index


def log_index(label: str) -> int:
    """Which log of that transaction is the endpoint's PacketSent or AcknowledgementWritten."""
    index: int = block(0)["transactions"][label]["log_index"]
    return index


def receipt_proof(label: str) -> list[bytes]:
    return evm.build_receipt_proof(receipts(0), transaction_index(label))


def endpoint() -> bytes:
    return evm.hex_bytes(vectors()["endpoint"])


def storage_proof(label: str) -> dict[str, Any]:
    recorded: dict[str, Any] = vectors()["storage_proofs"][label]
    return recorded


def nodes(hex_nodes: list[str]) -> list[bytes]:
    return [evm.hex_bytes(node) for node in hex_nodes]

"""The Solidity ABI forms of packets, acknowledgements and transfer data that the EVM endpoint
(``CausewayEndpoint``) and the hub agree on byte for byte (docs/evm-clients.md).

Decoding is strict: the bytes must be exactly what encoding the decoded value gives (one canonical
encoding), so two different byte strings never stand for the same packet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError, EncodingError
from eth_hash.auto import keccak

from causeway.errors import DecodeError
from causeway.interchain.v1 import interchain_pb2

# abi.encode(string sourceClient, string destinationClient, uint64 sequence, int64 timeoutMs,
#            string sourcePort, string destinationPort, string version, string encoding,
#            bytes value)
PACKET_ABI_TYPES = (
    "string",
    "string",
    "uint64",
    "int64",
    "string",
    "string",
    "string",
    "string",
    "bytes",
)
# abi.encode(bool success, bytes result, string error)
ACKNOWLEDGEMENT_ABI_TYPES = ("bool", "bytes", "string")
# abi.encode(string denom, uint256 amount, string sender, string receiver, bytes memo)
TRANSFER_ABI_TYPES = ("string", "uint256", "string", "string", "bytes")
# The payload encoding of a transfer to or from an EVM chain.
SOLIDITY_ABI_ENCODING = "application/x-solidity-abi"

PACKET_SENT_SIGNATURE = b"PacketSent(bytes32,bytes)"
ACKNOWLEDGEMENT_WRITTEN_SIGNATURE = b"AcknowledgementWritten(bytes32,bytes,bytes)"
PACKET_SENT_TOPIC = keccak(PACKET_SENT_SIGNATURE)
ACKNOWLEDGEMENT_WRITTEN_TOPIC = keccak(ACKNOWLEDGEMENT_WRITTEN_SIGNATURE)

UINT64_MAX = (1 << 64) - 1
# Causeway's bound on an acknowledgement's error (causeway.interchain.packets keeps the same).
ACKNOWLEDGEMENT_ERROR_CHARACTERS_MAX = 1_024
# The reason given to a failure the EVM app reverted without one.
EMPTY_FAILURE_REASON = "the EVM application failed without a reason"


def _encode(types: Sequence[str], values: Sequence[Any], what: str) -> bytes:
    try:
        return abi_encode(list(types), list(values))
    except (EncodingError, TypeError, ValueError) as error:
        raise DecodeError(f"{what} cannot be ABI-encoded: {error}") from None


def _decode(types: Sequence[str], data: bytes, what: str) -> tuple[Any, ...]:
    """ABI-decodes ``data``; DecodeError unless it is the canonical encoding of what it decodes
    to (no trailing bytes, no unusual offsets, no padding that is not zero)."""
    try:
        values = tuple(abi_decode(list(types), data, strict=True))
    except (DecodingError, UnicodeDecodeError, ValueError, OverflowError) as error:
        raise DecodeError(f"{what} is not ABI-encoded {tuple(types)}: {error}") from None
    if abi_encode(list(types), list(values)) != data:
        raise DecodeError(f"{what} is not the canonical ABI encoding of what it decodes to")
    return values


def encode_packet(packet: interchain_pb2.Packet) -> bytes:
    """PACKET_ABI: the packet as the EVM endpoint hashes, emits and receives it."""
    payload = packet.payload
    return _encode(
        PACKET_ABI_TYPES,
        (
            packet.source_client,
            packet.destination_client,
            packet.sequence,
            packet.timeout_ms,
            payload.source_port,
            payload.destination_port,
            payload.version,
            payload.encoding,
            payload.value,
        ),
        "the packet",
    )


def decode_packet(data: bytes) -> interchain_pb2.Packet:
    """The packet whose PACKET_ABI ``data`` is; DecodeError for anything else."""
    (
        source_client,
        destination_client,
        sequence,
        timeout_ms,
        source_port,
        destination_port,
        version,
        encoding,
        value,
    ) = _decode(PACKET_ABI_TYPES, data, "the packet")
    return interchain_pb2.Packet(
        source_client=source_client,
        destination_client=destination_client,
        sequence=sequence,
        timeout_ms=timeout_ms,
        payload=interchain_pb2.Payload(
            source_port=source_port,
            destination_port=destination_port,
            version=version,
            encoding=encoding,
            value=value,
        ),
    )


def packet_hash(packet: interchain_pb2.Packet) -> bytes:
    """keccak256(PACKET_ABI): the packet's name on the EVM side (events, ``received``)."""
    return keccak(encode_packet(packet))


def encode_acknowledgement(acknowledgement: interchain_pb2.Acknowledgement) -> bytes:
    """ACK_ABI: abi.encode(bool success, bytes result, string error)."""
    return _encode(
        ACKNOWLEDGEMENT_ABI_TYPES,
        (acknowledgement.success, acknowledgement.result, acknowledgement.error),
        "the acknowledgement",
    )


def decode_acknowledgement(data: bytes) -> interchain_pb2.Acknowledgement:
    """The Acknowledgement an ACK_ABI written on the EVM chain stands for (DecodeError when
    ``data`` is not canonical ACK_ABI). A failure is given a reason when the EVM app reverted
    without one, and its reason is cut to ACKNOWLEDGEMENT_ERROR_CHARACTERS_MAX: Causeway
    accepts a failure only with a bounded reason, and an EVM app's revert must not leave its
    packet unacknowledgeable (its tokens locked) on the hub. Gateways decode with this function
    too, so the acknowledgement they deliver is the one the hub derives."""
    success, result, error = _decode(ACKNOWLEDGEMENT_ABI_TYPES, data, "the acknowledgement")
    if not success:
        error = (error or EMPTY_FAILURE_REASON)[:ACKNOWLEDGEMENT_ERROR_CHARACTERS_MAX]
    return interchain_pb2.Acknowledgement(success=success, result=result, error=error)


def encode_transfer_data(data: interchain_pb2.TransferPacketData) -> bytes:
    """The transfer payload for an EVM counterparty: abi.encode(string denom, uint256 amount,
    string sender, string receiver, bytes memo)."""
    return _encode(
        TRANSFER_ABI_TYPES,
        (data.denom, data.amount, data.sender, data.receiver, data.memo),
        "the transfer data",
    )


def decode_transfer_data(data: bytes) -> interchain_pb2.TransferPacketData:
    """The transfer data of a packet from an EVM chain; DecodeError when it is not canonical
    TRANSFER_ABI or its amount does not fit Causeway's uint64."""
    denom, amount, sender, receiver, memo = _decode(TRANSFER_ABI_TYPES, data, "the transfer data")
    if amount > UINT64_MAX:
        raise DecodeError(
            f"the transfer amount {amount} does not fit in 64 bits: Causeway's bank holds at "
            f"most {UINT64_MAX} of a denomination"
        )
    return interchain_pb2.TransferPacketData(
        denom=denom, amount=amount, sender=sender, receiver=receiver, memo=memo
    )


def packet_sent_data(packet: interchain_pb2.Packet) -> bytes:
    """The data of the PacketSent log of ``packet`` (its only non-indexed field: the packet)."""
    return abi_encode(["bytes"], [encode_packet(packet)])


def decode_acknowledgement_written(data: bytes) -> tuple[bytes, bytes]:
    """(packet, acknowledgement), the PACKET_ABI and ACK_ABI an AcknowledgementWritten log's data
    carries; DecodeError when the data is not their canonical encoding."""
    packet, acknowledgement = _decode(("bytes", "bytes"), data, "the AcknowledgementWritten log")
    return packet, acknowledgement

"""packets: unordered packets between chains whose delivery is proven and exactly-once (IBC v2).

A packet names its path by the clients at both ends: ``source_client`` is the sending chain's
client of the receiving chain, ``destination_client`` the receiving chain's client of the sender;
each client records the other as its counterparty (``clients.register_counterparty``), and a
packet is accepted only on a path whose two ends name each other.

The life of a packet (docs/interchain.md):

1. **Send** (``send_packet``, called by an application contract): the next sequence of the
   source client, and ``commitment/<source client>/<sequence>`` = ``packet_commitment``: a hash
   of the packet's canonical encoding. The packet's data stays readable (``sent/...`` record and
   the "send_packet" event) for relayers.
2. **Receive** on the other chain: the commitment's proof is checked against a consensus state
   of the destination client (``clients.verify_state``: a header the client verified, never a
   root the relayer brings), the packet must not be past its timeout in the receiver's own block
   time, and a receipt is written: a second delivery is a no-op. The destination port's handler
   runs inside a savepoint; if it fails its writes are reverted, the receipt stays, and the
   acknowledgement says why. The acknowledgement's commitment is written at ``ack/...``.
3. **Acknowledge** on the sender: the acknowledgement's proof is checked, the commitment deleted,
   the source port's handler told. Or **time out**: a proof that the receiver holds no receipt,
   at a height whose time is at or past the timeout, deletes the commitment and tells the
   handler (which refunds). The commitment is deleted by exactly one of the two, so every packet
   ends exactly once; a later delivery of either is a no-op.

Relayers are untrusted: everything they bring is checked against verified state, and what they
may choose (which proof height, in which order, how many times) cannot change an outcome. Several
relayers may deliver the same packet; all but the first delivery are no-ops, which succeed, so
that a relayer's batch (``relay``) is not failed by another relayer's speed.

Commitments are hashed with a domain of their own: a packet commitment can never be read as an
acknowledgement's or the reverse.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import TypeVar

from google.protobuf.message import Message

from causeway.crypto import get_profile
from causeway.errors import InvariantError, RequestError
from causeway.execution import (
    EVENT_DATA_BYTES_MAX,
    Contract,
    Method,
    TransactionContext,
    decode_arguments,
    failure,
    hashing_gas,
)
from causeway.identity import is_valid_identifier
from causeway.interchain import clients
from causeway.interchain.keys import (
    COMMITMENT_PREFIX,
    PACKETS_CONTRACT,
    PACKETS_NAMESPACE,
    RECEIVED_PREFIX,
    SENT_PREFIX,
    acknowledgement_key,
    commitment_key,
    next_sequence_key,
    per_client_prefix,
    port_key,
    receipt_key,
    received_key,
    sent_key,
)
from causeway.interchain.ports import PORT_CHARACTERS_MAX, Port
from causeway.interchain.v1 import interchain_pb2
from causeway.types import HashFunction, decode, encode
from causeway.types.v1 import types_pb2

CONTRACT = PACKETS_CONTRACT

# The encoded packet travels in the "send_packet" event, so it must fit an event's data.
PACKET_BYTES_MAX = EVENT_DATA_BYTES_MAX
# An application's payload: room for the packet's other fields within PACKET_BYTES_MAX.
PAYLOAD_VALUE_BYTES_MAX = 60_000
ACKNOWLEDGEMENT_RESULT_BYTES_MAX = 16_384
ACKNOWLEDGEMENT_ERROR_CHARACTERS_MAX = 1_024
# How far past the sender's block time a timeout may be: a packet's tokens are locked until it
# ends, and a timeout years away would lock them for years.
TIMEOUT_AHEAD_MAX_MS = 30 * 24 * 3_600_000
SEQUENCE_MAX = (1 << 63) - 1
# What one relay transaction may carry: a few client updates and a batch of deliveries.
RELAY_UPDATES_MAX = 8
RELAY_DELIVERIES_MAX = 512
LIST_LIMIT_DEFAULT = 100
LIST_LIMIT_MAX = 1_000
VERSION_CHARACTERS_MAX = 64
ENCODING_CHARACTERS_MAX = 64

PACKET_COMMITMENT_DOMAIN = b"causeway/packet-commitment/v1\x00"
ACKNOWLEDGEMENT_COMMITMENT_DOMAIN = b"causeway/acknowledgement-commitment/v1\x00"
COMMITMENT_DOMAIN_BYTES = max(len(PACKET_COMMITMENT_DOMAIN), len(ACKNOWLEDGEMENT_COMMITMENT_DOMAIN))
RECEIPT_VALUE = b"\x01"

STATE_IN_FLIGHT = "in_flight"
STATE_ACKNOWLEDGED = "acknowledged"
STATE_TIMED_OUT = "timed_out"
OUTCOME_DONE = "done"
OUTCOME_NOOP = "noop"
SIDE_SENT = "sent"
SIDE_RECEIVED = "received"

_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT
_NOT_FOUND = types_pb2.RESULT_STATUS_NOT_FOUND
_DENIED = types_pb2.RESULT_STATUS_PERMISSION_DENIED
_CONFLICT = types_pb2.RESULT_STATUS_CONFLICT
_SEQUENCE = struct.Struct(">Q")
MessageT = TypeVar("MessageT", bound=Message)


def packet_commitment(packet: interchain_pb2.Packet, hash_function: HashFunction) -> bytes:
    """What the sender commits for ``packet``: its hash (the sending chain's hash function)."""
    return hash_function(PACKET_COMMITMENT_DOMAIN + encode(packet))


def acknowledgement_commitment(
    acknowledgement: interchain_pb2.Acknowledgement, hash_function: HashFunction
) -> bytes:
    """What the receiver commits for ``acknowledgement`` (the receiving chain's hash function)."""
    return hash_function(ACKNOWLEDGEMENT_COMMITMENT_DOMAIN + encode(acknowledgement))


# -- checks ----------------------------------------------------------------------------------------


def _check_port(port: str, what: str) -> None:
    if len(port) > PORT_CHARACTERS_MAX or not is_valid_identifier(port):
        raise failure(
            _INVALID,
            f"{what} {port[:80]!r} is not a port name (letters, digits, '.', '_', '-', at most "
            f"{PORT_CHARACTERS_MAX} characters)",
        )


def _check_client_id(client_id: str, what: str) -> None:
    if not is_valid_identifier(client_id):
        raise failure(_INVALID, f"{what} {client_id[:80]!r} is not a client id")


def check_packet(packet: interchain_pb2.Packet) -> None:
    """RequestError for a packet no chain could have sent (before any proof is checked)."""
    _check_client_id(packet.source_client, "source client")
    _check_client_id(packet.destination_client, "destination client")
    if not 1 <= packet.sequence <= SEQUENCE_MAX:
        raise failure(_INVALID, f"packet sequence {packet.sequence} is outside 1..{SEQUENCE_MAX}")
    if packet.timeout_ms <= 0:
        raise failure(_INVALID, f"packet timeout {packet.timeout_ms} ms is not positive")
    if not packet.HasField("payload"):
        raise failure(_INVALID, "the packet has no payload")
    payload = packet.payload
    _check_port(payload.source_port, "source port")
    _check_port(payload.destination_port, "destination port")
    if len(payload.version) > VERSION_CHARACTERS_MAX:
        raise failure(
            _INVALID,
            f"payload version is {len(payload.version)} characters, above the limit of "
            f"{VERSION_CHARACTERS_MAX}",
        )
    if len(payload.encoding) > ENCODING_CHARACTERS_MAX:
        raise failure(
            _INVALID,
            f"payload encoding is {len(payload.encoding)} characters, above the limit of "
            f"{ENCODING_CHARACTERS_MAX}",
        )
    if len(payload.value) > PAYLOAD_VALUE_BYTES_MAX:
        raise failure(
            _INVALID,
            f"payload value is {len(payload.value)} bytes, above the limit of "
            f"{PAYLOAD_VALUE_BYTES_MAX}",
        )


def check_acknowledgement(acknowledgement: interchain_pb2.Acknowledgement) -> None:
    if len(acknowledgement.result) > ACKNOWLEDGEMENT_RESULT_BYTES_MAX:
        raise failure(
            _INVALID,
            f"acknowledgement result is {len(acknowledgement.result)} bytes, above the limit of "
            f"{ACKNOWLEDGEMENT_RESULT_BYTES_MAX}",
        )
    if len(acknowledgement.error) > ACKNOWLEDGEMENT_ERROR_CHARACTERS_MAX:
        raise failure(
            _INVALID,
            f"acknowledgement error is {len(acknowledgement.error)} characters, above the limit "
            f"of {ACKNOWLEDGEMENT_ERROR_CHARACTERS_MAX}",
        )
    if acknowledgement.success == bool(acknowledgement.error):
        raise failure(
            _INVALID,
            "an acknowledgement is either a success without an error or a failure with one",
        )


def error_acknowledgement(error: RequestError) -> interchain_pb2.Acknowledgement:
    """The acknowledgement of a packet its application refused: the reason, bounded."""
    message = error.message or "the application refused the packet"
    return interchain_pb2.Acknowledgement(
        success=False, error=message[:ACKNOWLEDGEMENT_ERROR_CHARACTERS_MAX]
    )


# -- state ----------------------------------------------------------------------------------------


def _enter(context: TransactionContext) -> TransactionContext:
    """The packets contract's own context, from whichever contract is running."""
    if context.contract == CONTRACT:
        return context
    return context.enter(CONTRACT, PACKETS_NAMESPACE, ())


def _read_record(context: TransactionContext, key: bytes) -> interchain_pb2.PacketRecord | None:
    data = context.get(key)
    if data is None:
        return None
    return decode(interchain_pb2.PacketRecord, data, bytes_max=len(data))


def _read_receipt(context: TransactionContext, key: bytes) -> interchain_pb2.ReceiptRecord | None:
    data = context.get(key)
    if data is None:
        return None
    return decode(interchain_pb2.ReceiptRecord, data, bytes_max=len(data))


def _next_sequence(context: TransactionContext, source_client: str) -> int:
    value = context.get(next_sequence_key(source_client))
    if value is None:
        return 1
    if len(value) != _SEQUENCE.size:
        raise InvariantError(f"next sequence of {source_client} is {len(value)} bytes, not 8")
    sequence: int = _SEQUENCE.unpack(value)[0]
    return sequence


def _bound_contract(context: TransactionContext, port: str) -> str | None:
    value = context.get(port_key(port))
    return None if value is None else value.decode()


def _attributes(packet: interchain_pb2.Packet) -> tuple[tuple[str, str], ...]:
    return (
        ("source_client", packet.source_client),
        ("destination_client", packet.destination_client),
        ("sequence", str(packet.sequence)),
        ("source_port", packet.payload.source_port),
        ("destination_port", packet.payload.destination_port),
    )


def _counterparty_hash(
    context: TransactionContext,
    client: interchain_pb2.ClientState,
    commitment: Callable[[MessageT, HashFunction], bytes],
    message: MessageT,
) -> bytes:
    """A commitment as the counterparty computed it: with its hash function (the client's
    profile, which may not be this chain's), the hashing charged to this transaction."""
    profile = get_profile(client.crypto_profile)
    context.charge_gas(hashing_gas(len(encode(message)) + COMMITMENT_DOMAIN_BYTES, profile.name))
    return commitment(message, profile.hash)


def _counterparty_path(
    context: TransactionContext, own_client: str, other_client: str, side: str
) -> interchain_pb2.ClientState:
    """The client at this end of the packet's path, active, whose counterparty is the other end."""
    client = clients.active_client(context, own_client)
    if not client.counterparty_client_id:
        raise failure(
            _INVALID,
            f"client {own_client} has no registered counterparty: no packet can travel on it",
        )
    if client.counterparty_client_id != other_client:
        raise failure(
            _INVALID,
            f"the packet's {side} client is {other_client!r}, but the counterparty of "
            f"{own_client} is {client.counterparty_client_id!r}",
        )
    return client


# -- the application side: sending and late acknowledgements --------------------------------------


def send_packet(
    context: TransactionContext,
    *,
    source_client: str,
    timeout_ms: int,
    payload: interchain_pb2.Payload,
) -> interchain_pb2.Packet:
    """Sends ``payload`` on the path of ``source_client``; called by the application contract
    whose context this is, which must be the one bound to ``payload.source_port``."""
    own = _enter(context)
    _check_port(payload.source_port, "source port")
    bound = _bound_contract(own, payload.source_port)
    if bound != context.contract:
        raise failure(
            _DENIED,
            f"contract {context.contract} may not send from port {payload.source_port!r}: "
            + ("no contract is bound to it" if bound is None else f"it is bound to {bound}"),
        )
    _check_client_id(source_client, "source client")
    client = clients.active_client(own, source_client)
    if not client.counterparty_client_id:
        raise failure(
            _INVALID,
            f"client {source_client} has no registered counterparty: no packet can travel on it",
        )
    if timeout_ms <= context.time_ms:
        raise failure(
            _INVALID,
            f"timeout {timeout_ms} ms is not after this block's time {context.time_ms} ms",
        )
    if timeout_ms - context.time_ms > TIMEOUT_AHEAD_MAX_MS:
        raise failure(
            _INVALID,
            f"timeout {timeout_ms} ms is more than {TIMEOUT_AHEAD_MAX_MS} ms after this block's "
            f"time {context.time_ms} ms",
        )
    sequence = _next_sequence(own, source_client)
    if sequence > SEQUENCE_MAX:
        raise failure(_CONFLICT, f"client {source_client} has sent its last packet")
    packet = interchain_pb2.Packet(
        source_client=source_client,
        destination_client=client.counterparty_client_id,
        sequence=sequence,
        timeout_ms=timeout_ms,
        payload=payload,
    )
    check_packet(packet)
    encoded = encode(packet)
    if len(encoded) > PACKET_BYTES_MAX:
        raise failure(
            _INVALID, f"the packet is {len(encoded)} bytes, above the limit of {PACKET_BYTES_MAX}"
        )
    own.put(commitment_key(source_client, sequence), packet_commitment(packet, own.hash))
    record = interchain_pb2.PacketRecord(
        packet=packet,
        sent_height=context.height,
        sent_time_ms=context.time_ms,
        state=STATE_IN_FLIGHT,
    )
    own.put(sent_key(source_client, sequence), encode(record))
    own.put(next_sequence_key(source_client), _SEQUENCE.pack(sequence + 1))
    own.emit("send_packet", _attributes(packet), encoded)
    return packet


def _write_acknowledgement(
    own: TransactionContext,
    record: interchain_pb2.ReceiptRecord,
    acknowledgement: interchain_pb2.Acknowledgement,
) -> None:
    packet = record.packet
    check_acknowledgement(acknowledgement)
    own.put(
        acknowledgement_key(packet.destination_client, packet.sequence),
        acknowledgement_commitment(acknowledgement, own.hash),
    )
    record.acknowledgement.CopyFrom(acknowledgement)
    own.put(received_key(packet.destination_client, packet.sequence), encode(record))
    own.emit("write_acknowledgement", _attributes(packet), encode(acknowledgement))


def write_acknowledgement(
    context: TransactionContext,
    packet: interchain_pb2.Packet,
    acknowledgement: interchain_pb2.Acknowledgement,
) -> None:
    """The acknowledgement of a packet received earlier whose handler answered None: written by
    the contract bound to the packet's destination port, once."""
    own = _enter(context)
    record = _read_receipt(own, received_key(packet.destination_client, packet.sequence))
    if record is None or record.packet != packet:
        raise failure(
            _NOT_FOUND,
            f"no packet {packet.destination_client}/{packet.sequence} like this one was received",
        )
    bound = _bound_contract(own, packet.payload.destination_port)
    if bound != context.contract:
        raise failure(
            _DENIED,
            f"contract {context.contract} may not acknowledge packets of port "
            f"{packet.payload.destination_port!r}",
        )
    if record.HasField("acknowledgement"):
        raise failure(
            _CONFLICT,
            f"packet {packet.destination_client}/{packet.sequence} is acknowledged already",
        )
    _write_acknowledgement(own, record, acknowledgement)


# -- deliveries (a relayer's work) ----------------------------------------------------------------


def _application(
    context: TransactionContext, ports: Mapping[str, Port], port_name: str
) -> tuple[Port, TransactionContext]:
    """The application bound to ``port_name`` and its context; RequestError when none is."""
    bound = _bound_contract(context, port_name)
    port = ports.get(port_name)
    if bound is None or port is None or port.contract.name != bound:
        raise failure(_NOT_FOUND, f"no application is bound to port {port_name!r}")
    contract = port.contract
    return port, context.enter(contract.name, contract.namespace, contract.grants)


def _receive(
    context: TransactionContext,
    ports: Mapping[str, Port],
    arguments: interchain_pb2.PacketsReceiveArguments,
) -> str:
    packet = arguments.packet
    check_packet(packet)
    client = _counterparty_path(context, packet.destination_client, packet.source_client, "source")
    sequence = packet.sequence
    if context.get(receipt_key(packet.destination_client, sequence)) is not None:
        return OUTCOME_NOOP
    if context.time_ms >= packet.timeout_ms:
        raise failure(
            _INVALID,
            f"packet {packet.source_client}/{sequence} timed out at {packet.timeout_ms} ms; this "
            f"block is at {context.time_ms} ms (the sender may time it out)",
        )
    clients.verify_packet_sent(
        context,
        arguments,
        lambda: _counterparty_hash(context, client, packet_commitment, packet),
    )
    context.put(receipt_key(packet.destination_client, sequence), RECEIPT_VALUE)
    record = interchain_pb2.ReceiptRecord(packet=packet, received_height=context.height)
    context.emit("receive_packet", _attributes(packet))
    acknowledgement: interchain_pb2.Acknowledgement | None
    savepoint = context.savepoint()
    try:
        port, application = _application(context, ports, packet.payload.destination_port)
        acknowledgement = port.handler.on_receive(application, packet)
        if acknowledgement is not None:
            check_acknowledgement(acknowledgement)
    except RequestError as error:
        context.rollback_to(savepoint)
        acknowledgement = error_acknowledgement(error)
    else:
        context.release(savepoint)
    if acknowledgement is None:
        context.put(received_key(packet.destination_client, sequence), encode(record))
    else:
        _write_acknowledgement(context, record, acknowledgement)
    return OUTCOME_DONE


def _sent_and_in_flight(
    context: TransactionContext, packet: interchain_pb2.Packet
) -> interchain_pb2.PacketRecord | None:
    """The sender's record of ``packet`` while it is in flight; None when it has ended (a late
    delivery, a no-op); RequestError when this chain never sent it."""
    source_client, sequence = packet.source_client, packet.sequence
    commitment = context.get(commitment_key(source_client, sequence))
    if commitment is None:
        record = _read_record(context, sent_key(source_client, sequence))
        if record is not None and record.packet == packet and record.state != STATE_IN_FLIGHT:
            return None
        raise failure(_NOT_FOUND, f"packet {source_client}/{sequence} was never sent from here")
    if commitment != packet_commitment(packet, context.hash):
        raise failure(
            _INVALID,
            f"packet {source_client}/{sequence} is not the packet this chain sent with that "
            "sequence",
        )
    record = _read_record(context, sent_key(source_client, sequence))
    if record is None:
        raise InvariantError(f"packet {source_client}/{sequence} has a commitment but no record")
    return record


def _end(context: TransactionContext, record: interchain_pb2.PacketRecord, state: str) -> None:
    packet = record.packet
    context.delete(commitment_key(packet.source_client, packet.sequence))
    record.state = state
    context.put(sent_key(packet.source_client, packet.sequence), encode(record))


def _acknowledge(
    context: TransactionContext,
    ports: Mapping[str, Port],
    arguments: interchain_pb2.PacketsAcknowledgeArguments,
) -> str:
    packet = arguments.packet
    check_packet(packet)
    acknowledgement = arguments.acknowledgement
    check_acknowledgement(acknowledgement)
    client = _counterparty_path(
        context, packet.source_client, packet.destination_client, "destination"
    )
    record = _sent_and_in_flight(context, packet)
    if record is None:
        return OUTCOME_NOOP
    clients.verify_acknowledgement_written(
        context,
        arguments,
        lambda: _counterparty_hash(context, client, acknowledgement_commitment, acknowledgement),
    )
    record.acknowledgement.CopyFrom(acknowledgement)
    _end(context, record, STATE_ACKNOWLEDGED)
    port, application = _application(context, ports, packet.payload.source_port)
    port.handler.on_acknowledge(application, packet, acknowledgement)
    context.emit(
        "acknowledge_packet",
        (*_attributes(packet), ("success", str(acknowledgement.success).lower())),
    )
    return OUTCOME_DONE


def _timeout(
    context: TransactionContext,
    ports: Mapping[str, Port],
    arguments: interchain_pb2.PacketsTimeoutArguments,
) -> str:
    packet = arguments.packet
    check_packet(packet)
    _counterparty_path(context, packet.source_client, packet.destination_client, "destination")
    record = _sent_and_in_flight(context, packet)
    if record is None:
        return OUTCOME_NOOP
    state = clients.verify_not_received(context, arguments)
    if state.time_ms < packet.timeout_ms:
        raise failure(
            _INVALID,
            f"packet {packet.source_client}/{packet.sequence} times out at {packet.timeout_ms} "
            f"ms; the proof is of height {state.height}, at {state.time_ms} ms on the receiver",
        )
    _end(context, record, STATE_TIMED_OUT)
    port, application = _application(context, ports, packet.payload.source_port)
    port.handler.on_timeout(application, packet)
    context.emit("timeout_packet", _attributes(packet))
    return OUTCOME_DONE


def _bind(
    action: Callable[[TransactionContext, Mapping[str, Port], MessageT], str],
    context: TransactionContext,
    ports: Mapping[str, Port],
    item: MessageT,
) -> Callable[[], str]:
    return lambda: action(context, ports, item)


# -- the contract ---------------------------------------------------------------------------------


def packets_contract(ports: Mapping[str, Port]) -> Contract:
    """The packets contract, delivering to the applications of ``ports`` (by port name); a port
    is reachable only once governance also bound it (``bind_port``)."""
    for name, port in ports.items():
        _check_port(name, "port")
        if port.contract.namespace.startswith(b"sys/"):
            raise InvariantError(
                f"port {name} names system contract {port.contract.name}: no packet may reach "
                "a system contract"
            )

    def receive(context: TransactionContext, arguments: bytes) -> bytes:
        request = decode_arguments(context, interchain_pb2.PacketsReceiveArguments, arguments)
        return encode(
            interchain_pb2.PacketsRelayResult(outcomes=[_receive(context, ports, request)])
        )

    def acknowledge(context: TransactionContext, arguments: bytes) -> bytes:
        request = decode_arguments(context, interchain_pb2.PacketsAcknowledgeArguments, arguments)
        outcome = _acknowledge(context, ports, request)
        return encode(interchain_pb2.PacketsRelayResult(outcomes=[outcome]))

    def timeout(context: TransactionContext, arguments: bytes) -> bytes:
        request = decode_arguments(context, interchain_pb2.PacketsTimeoutArguments, arguments)
        return encode(
            interchain_pb2.PacketsRelayResult(outcomes=[_timeout(context, ports, request)])
        )

    def relay(context: TransactionContext, arguments: bytes) -> bytes:
        request = decode_arguments(context, interchain_pb2.PacketsRelayArguments, arguments)
        deliveries = len(request.receives) + len(request.acknowledgements) + len(request.timeouts)
        if len(request.updates) > RELAY_UPDATES_MAX:
            raise failure(
                _INVALID,
                f"the batch updates {len(request.updates)} clients, above the limit of "
                f"{RELAY_UPDATES_MAX}",
            )
        if deliveries > RELAY_DELIVERIES_MAX:
            raise failure(
                _INVALID,
                f"the batch carries {deliveries} deliveries, above the limit of "
                f"{RELAY_DELIVERIES_MAX}",
            )
        for update in request.updates:
            # An earlier update of this batch may have proven a fork and frozen the client: the
            # freeze must be written, so the rest of its updates are skipped, not failed (a
            # failure would undo the whole transaction, freeze included).
            if clients.client_state(context, update.client_id).frozen_height:
                continue
            clients.update_client(context, update)
        outcomes: list[str] = []
        work: list[Callable[[], str]] = [
            *(_bind(_receive, context, ports, item) for item in request.receives),
            *(_bind(_acknowledge, context, ports, item) for item in request.acknowledgements),
            *(_bind(_timeout, context, ports, item) for item in request.timeouts),
        ]
        for delivery in work:
            # One failed delivery (a proof too old, a packet another relayer timed out) must not
            # fail the others: each runs in its own savepoint and reports its outcome.
            savepoint = context.savepoint()
            try:
                outcome = delivery()
            except RequestError as error:
                context.rollback_to(savepoint)
                outcome = f"failed: {error.message}"
            else:
                context.release(savepoint)
            outcomes.append(outcome)
        return encode(interchain_pb2.PacketsRelayResult(outcomes=outcomes))

    def bind_port(context: TransactionContext, arguments: bytes) -> bytes:
        context.require_policy(context.config.config.governance_policy, "packets.bind_port")
        request = decode_arguments(context, interchain_pb2.PacketsBindPortArguments, arguments)
        _check_port(request.port, "port")
        port = ports.get(request.port)
        if port is None or port.contract.name != request.contract:
            raise failure(
                _NOT_FOUND,
                f"no application {request.contract!r} is registered for port {request.port!r}",
            )
        bound = _bound_contract(context, request.port)
        if bound is not None:
            raise failure(_CONFLICT, f"port {request.port!r} is bound to {bound} already")
        context.put(port_key(request.port), request.contract.encode())
        context.emit("bind_port", (("port", request.port), ("contract", request.contract)))
        return b""

    def get(context: TransactionContext, arguments: bytes) -> bytes:
        request = decode_arguments(context, interchain_pb2.PacketsGetArguments, arguments)
        _check_client_id(request.client_id, "client")
        result = interchain_pb2.PacketsGetResult()
        if request.side == SIDE_SENT:
            record = _read_record(context, sent_key(request.client_id, request.sequence))
            if record is not None:
                result.sent.CopyFrom(record)
        elif request.side == SIDE_RECEIVED:
            receipt = _read_receipt(context, received_key(request.client_id, request.sequence))
            if receipt is not None:
                result.received.CopyFrom(receipt)
        else:
            raise failure(_INVALID, f"side is {request.side!r}, not 'sent' or 'received'")
        return encode(result)

    def list_packets(context: TransactionContext, arguments: bytes) -> bytes:
        request = decode_arguments(context, interchain_pb2.PacketsListArguments, arguments)
        _check_client_id(request.client_id, "client")
        limit = request.limit or LIST_LIMIT_DEFAULT
        if limit > LIST_LIMIT_MAX:
            raise failure(_INVALID, f"limit {limit} is above the maximum of {LIST_LIMIT_MAX}")
        if request.side == SIDE_SENT:
            prefix = per_client_prefix(SENT_PREFIX, request.client_id)
        elif request.side == SIDE_RECEIVED:
            prefix = per_client_prefix(RECEIVED_PREFIX, request.client_id)
        else:
            raise failure(_INVALID, f"side is {request.side!r}, not 'sent' or 'received'")
        start_after = (
            prefix + f"{request.start_after:020d}".encode() if request.start_after else b""
        )
        result = interchain_pb2.PacketsListResult()
        if request.side == SIDE_SENT and request.in_flight_only:
            # The commitments are exactly the packets in flight: listing them costs what is in
            # flight, not every packet the client ever sent (a relayer asks every round).
            commitments = per_client_prefix(COMMITMENT_PREFIX, request.client_id)
            after = (
                commitments + f"{request.start_after:020d}".encode() if request.start_after else b""
            )
            for key, _commitment in context.range(commitments, after, limit):
                sequence = int(key[len(commitments) :])
                record = _read_record(context, sent_key(request.client_id, sequence))
                if record is None:
                    raise InvariantError(
                        f"packet {request.client_id}/{sequence} has a commitment but no record"
                    )
                result.sent.append(record)
            return encode(result)
        while len(result.sent) + len(result.received) < limit:
            entries = context.range(prefix, start_after, limit)
            if not entries:
                break
            for _key, value in entries:
                if request.side == SIDE_SENT:
                    result.sent.append(
                        decode(interchain_pb2.PacketRecord, value, bytes_max=len(value))
                    )
                else:
                    result.received.append(
                        decode(interchain_pb2.ReceiptRecord, value, bytes_max=len(value))
                    )
                if len(result.sent) + len(result.received) >= limit:
                    break
            start_after = entries[-1][0]
            if len(entries) < limit:
                break
        return encode(result)

    methods = {
        "relay": Method(relay),
        "receive": Method(receive),
        "acknowledge": Method(acknowledge),
        "timeout": Method(timeout),
        "bind_port": Method(bind_port, arguments=interchain_pb2.PacketsBindPortArguments),
        "get": Method(get, read_only=True),
        "list": Method(list_packets, read_only=True),
    }
    return Contract(name=CONTRACT, methods=methods, namespace=PACKETS_NAMESPACE)

"""transfer: fungible tokens between chains over packets, with ICS-20's rules (port "transfer").

Sending over client C (this chain's client of the receiving chain):

- a voucher whose path starts with ``transfer/C/`` came from that chain and is going home: it is
  burned here (the receiving chain releases the tokens it escrowed);
- anything else (a native denomination, or a voucher from a third chain) moves into the escrow
  account of C (``bank.escrow_account("transfer", C)``) until it comes back.

Receiving a packet that came over the receiver's client D of the sending chain (whose own client
of this chain is S, the packet's source client):

- a denomination starting with ``transfer/S/`` is one of this chain's own tokens coming back: the
  prefix is stripped and that much is released from the escrow of D. Escrow is per client, so a
  counterparty can never release more than was sent to it, whatever it claims;
- anything else is minted as the voucher ``transfer/D/<denomination>``: the path records where it
  came from, so vouchers of the same name from two chains never mix.

An error acknowledgement or a timeout refunds the sender: the escrow is released back, or the
burned voucher minted again. Hence, per denomination, what a chain holds in escrow equals the
vouchers outstanding on the chains it sent to plus what is in flight (issue 8's invariant).

Every failure on receive is a RequestError: the packets contract reverts the handler's writes and
acknowledges an error, which refunds the sender on its chain.

**Forwarding (on a hub).** A packet whose memo is ``forward_memo(chain_id, receiver, timeout_ms)``
asks the receiving chain to pass the tokens on to member chain ``chain_id`` of its hub registry:
they are received as above into ``FORWARDING_ACCOUNT`` (not paid to the packet's receiver) and sent
on at once, in the same transaction, over the hub's client of that chain; the incoming packet is
acknowledged only when the forwarded one ends (``transfer/forward/<client>/<sequence>`` keeps it
meanwhile). A success acknowledges success; an error or a timeout refunds the forwarded tokens to
the forwarding account, undoes the receipt (burns the voucher, or puts the tokens back in
escrow) and acknowledges an error, which refunds the original sender. Each link keeps its own
escrow and vouchers, so conservation holds link by link.

**EVM counterparties.** Over a client of an EVM chain (consensus "evm-committee") the packet data
is the Solidity ABI form the EVM transfer app reads (``causeway.interchain.evm``: encoding
"application/x-solidity-abi", abi.encode(string denom, uint256 amount, string sender, string
receiver, bytes memo)), and the receiver there is an address, "0x" and 40 hex digits. Data
arriving from such a chain must be in that form; an amount that does not fit this chain's 64-bit
balances is refused with an error acknowledgement (the EVM app then refunds its sender). The
rules above (escrow, vouchers, forwarding) are the same.
"""

from __future__ import annotations

import re

from causeway.errors import DecodeError, RequestError
from causeway.execution import Contract, Method, TransactionContext, decode_arguments, failure
from causeway.interchain import bank, clients, evm, hub, packets
from causeway.interchain.keys import TRANSFER_CONTRACT, TRANSFER_NAMESPACE, forward_key
from causeway.interchain.v1 import interchain_pb2
from causeway.types import decode, encode
from causeway.types.v1 import types_pb2

CONTRACT = TRANSFER_CONTRACT
NAMESPACE = TRANSFER_NAMESPACE
PORT = "transfer"
VERSION = "ics20-1"
ENCODING = "application/x-protobuf"
# An EVM receiver: an address, in lower case or with its checksum capitals.
_EVM_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")

# The longest denomination path, a voucher's prefix included (the bank's bound, which holds every
# denomination sent): a received denomination whose voucher would be longer is refused (an error
# acknowledgement, which refunds the sender).
TRANSFER_DENOM_BYTES_MAX = bank.BANK_DENOM_BYTES_MAX
# Free text for the receiving application (a hub reads a forwarding request here).
TRANSFER_MEMO_BYTES_MAX = 1_024
# The encoded TransferPacketData: room for the longest denomination, sender, receiver and memo.
TRANSFER_PACKET_DATA_BYTES_MAX = 2_048

# A memo that starts with this asks a hub to forward the tokens: the rest is a TransferForward.
FORWARD_MEMO_PREFIX = b"forward:"
# Holds forwarded tokens between their arrival and their departure (one transaction), and again
# when a forwarded packet fails, until the receipt is undone. An escrow account (no member holds
# it, no bank method pays into it); client ids are "client-<n>", never "forwarding".
FORWARDING_ACCOUNT = bank.escrow_account(PORT, "forwarding")

_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT


def _voucher_prefix(client_id: str) -> str:
    return f"{PORT}/{client_id}/"


def _counterparty_is_evm(context: TransactionContext, client_id: str) -> bool:
    """Whether ``client_id`` (this chain's client at one end of a packet) is of an EVM chain.
    A client that does not exist is no EVM chain's: the packets contract checks every path's
    clients before transfer sees a packet, so only a direct caller can name one."""
    try:
        client = clients.client_state(context, client_id)
    except RequestError:
        return False
    return client.consensus == clients.EVM_CONSENSUS


def _check_payload(payload: interchain_pb2.Payload, encoding: str) -> None:
    if payload.source_port != PORT or payload.destination_port != PORT:
        raise failure(
            _INVALID,
            f"transfer packet goes from port {payload.source_port!r} to "
            f"{payload.destination_port!r}: both must be {PORT!r}",
        )
    if payload.version != VERSION:
        raise failure(_INVALID, f"transfer packet version {payload.version!r} is not {VERSION!r}")
    if payload.encoding != encoding:
        raise failure(
            _INVALID,
            f"transfer packet encoding {payload.encoding!r} is not {encoding!r}, the encoding "
            "of its path",
        )


def _decode_data(packet: interchain_pb2.Packet) -> interchain_pb2.TransferPacketData:
    """The packet's transfer data in its encoding (protobuf, or the ABI form of an EVM path),
    strictly; DecodeError (a RequestError) for bytes that are not that form."""
    value = packet.payload.value
    if packet.payload.encoding == evm.SOLIDITY_ABI_ENCODING:
        if len(value) > TRANSFER_PACKET_DATA_BYTES_MAX:
            raise DecodeError(
                f"transfer packet data is {len(value)} bytes, above the limit of "
                f"{TRANSFER_PACKET_DATA_BYTES_MAX}"
            )
        return evm.decode_transfer_data(value)
    return decode(interchain_pb2.TransferPacketData, value, bytes_max=len(value))


def _check_memo(memo: bytes) -> None:
    if len(memo) > TRANSFER_MEMO_BYTES_MAX:
        raise failure(
            _INVALID,
            f"transfer memo is {len(memo)} bytes, above the limit of {TRANSFER_MEMO_BYTES_MAX}",
        )


def _check_amount(amount: int) -> None:
    if amount <= 0:
        raise failure(_INVALID, f"transfer amount must be positive, not {amount}")


def packet_data(
    packet: interchain_pb2.Packet, encoding: str = ENCODING
) -> interchain_pb2.TransferPacketData:
    """The transfer data a packet carries, decoded strictly (canonical, bounded) and checked;
    ``encoding`` is its path's (ENCODING, or evm.SOLIDITY_ABI_ENCODING from an EVM chain)."""
    _check_payload(packet.payload, encoding)
    if encoding == evm.SOLIDITY_ABI_ENCODING:
        data = _decode_data(packet)
    else:
        data = decode(
            interchain_pb2.TransferPacketData,
            packet.payload.value,
            bytes_max=TRANSFER_PACKET_DATA_BYTES_MAX,
        )
    _check_amount(data.amount)
    bank.check_denom(data.denom, "transfer packet")
    bank.check_account(data.sender, "transfer packet sender")
    bank.check_payee(data.receiver, "transfer packet receiver")
    _check_memo(data.memo)
    return data


def _enter(context: TransactionContext) -> TransactionContext:
    if context.contract == TRANSFER_CONTRACT:
        return context
    return context.enter(TRANSFER_CONTRACT, TRANSFER_NAMESPACE, ())


# -- sending -------------------------------------------------------------------------------------


def send_tokens(
    context: TransactionContext,
    *,
    sender: str,
    source_client: str,
    denom: str,
    amount: int,
    receiver: str,
    timeout_ms: int,
    memo: bytes = b"",
) -> interchain_pb2.Packet:
    """Takes the tokens from `sender` (burned when going home, escrowed otherwise) and sends the
    packet; for the ``send`` method and for a hub passing tokens on from its forwarding account.
    A failure is a RequestError: it fails the sender's transaction, or (forwarding) the packet
    being received, whole."""
    _check_amount(amount)
    bank.check_denom(denom, "transfer")
    bank.check_payee(receiver, "transfer receiver")
    _check_memo(memo)
    escrow = bank.escrow_account(PORT, source_client)
    transfer_context = _enter(context)
    to_evm = _counterparty_is_evm(transfer_context, source_client)
    if to_evm and _EVM_ADDRESS.fullmatch(receiver) is None:
        raise failure(
            _INVALID,
            f"transfer receiver {receiver[:80]!r} on an EVM chain must be an address: 0x and 40 "
            "hex digits",
        )
    if denom.startswith(_voucher_prefix(source_client)):
        bank.burn(transfer_context, sender, denom, amount)
    else:
        bank.move(transfer_context, sender, escrow, denom, amount)
    data = interchain_pb2.TransferPacketData(
        denom=denom, amount=amount, sender=sender, receiver=receiver, memo=memo
    )
    packet: interchain_pb2.Packet = packets.send_packet(
        transfer_context,
        source_client=source_client,
        timeout_ms=timeout_ms,
        payload=interchain_pb2.Payload(
            source_port=PORT,
            destination_port=PORT,
            version=VERSION,
            encoding=evm.SOLIDITY_ABI_ENCODING if to_evm else ENCODING,
            value=evm.encode_transfer_data(data) if to_evm else encode(data),
        ),
    )
    transfer_context.emit(
        "send",
        (
            ("source_client", source_client),
            ("sequence", str(packet.sequence)),
            ("sender", sender),
            ("receiver", receiver),
            ("denom", denom),
            ("amount", str(amount)),
        ),
    )
    return packet


def send(context: TransactionContext, arguments: bytes) -> bytes:
    """Sends the sender's own tokens to `receiver` on the chain of `source_client`."""
    request = decode_arguments(context, interchain_pb2.TransferSendArguments, arguments)
    packet = send_tokens(
        context,
        sender=context.sender.id,
        source_client=request.source_client,
        denom=request.denom,
        amount=request.amount,
        receiver=request.receiver,
        timeout_ms=request.timeout_ms,
        memo=request.memo,
    )
    return encode(interchain_pb2.TransferSendResult(sequence=packet.sequence))


# -- the port's handler --------------------------------------------------------------------------


def _refund(context: TransactionContext, packet: interchain_pb2.Packet, why: str) -> None:
    """Gives the sender back what ``send_tokens`` took for a packet that did not deliver.

    The packet is this chain's own (the packets contract matched it to its commitment), so only
    what the refund needs is read: the receive-side checks (receiver, memo) are not repeated, and
    a bound changed since the packet left cannot keep its sender from being refunded."""
    data = _decode_data(packet)
    if data.denom.startswith(_voucher_prefix(packet.source_client)):
        bank.mint(context, data.sender, data.denom, data.amount)
    else:
        escrow = bank.escrow_account(PORT, packet.source_client)
        bank.move(context, escrow, data.sender, data.denom, data.amount)
    context.emit(
        "refund",
        (
            ("source_client", packet.source_client),
            ("sequence", str(packet.sequence)),
            ("sender", data.sender),
            ("denom", data.denom),
            ("amount", str(data.amount)),
            ("reason", why),
        ),
    )


def _credit(
    context: TransactionContext,
    packet: interchain_pb2.Packet,
    data: interchain_pb2.TransferPacketData,
    holder: str,
) -> str:
    """Pays an arriving packet's tokens to `holder`; returns their denomination here."""
    returning = _voucher_prefix(packet.source_client)
    if data.denom.startswith(returning):
        # One of this chain's tokens coming home: out of the escrow of the client it left by.
        denom = data.denom[len(returning) :]
        escrow = bank.escrow_account(PORT, packet.destination_client)
        bank.move(context, escrow, holder, denom, data.amount)
        return denom
    denom = _voucher_prefix(packet.destination_client) + data.denom
    size = len(denom.encode())
    if size > TRANSFER_DENOM_BYTES_MAX:
        raise failure(
            _INVALID,
            f"transfer voucher {denom[:80]!r}... would be {size} bytes, above the limit "
            f"of {TRANSFER_DENOM_BYTES_MAX}",
        )
    bank.mint(context, holder, denom, data.amount)
    return denom


def _undo_credit(context: TransactionContext, packet: interchain_pb2.Packet) -> None:
    """Takes back from FORWARDING_ACCOUNT what ``_credit`` paid it for `packet`."""
    data = _decode_data(packet)
    returning = _voucher_prefix(packet.source_client)
    if data.denom.startswith(returning):
        escrow = bank.escrow_account(PORT, packet.destination_client)
        bank.move(context, FORWARDING_ACCOUNT, escrow, data.denom[len(returning) :], data.amount)
    else:
        voucher = _voucher_prefix(packet.destination_client) + data.denom
        bank.burn(context, FORWARDING_ACCOUNT, voucher, data.amount)


def forward_memo(chain_id: str, receiver: str, timeout_ms: int) -> bytes:
    """The memo that asks a hub to pass the tokens on to `receiver` on member chain `chain_id`,
    in a packet that times out at `timeout_ms` (that chain's time)."""
    forward = interchain_pb2.TransferForward(
        chain_id=chain_id, receiver=receiver, timeout_ms=timeout_ms
    )
    return FORWARD_MEMO_PREFIX + encode(forward)


def forward_request(memo: bytes) -> interchain_pb2.TransferForward | None:
    """The forwarding a memo asks for, decoded strictly; None for any other memo."""
    if not memo.startswith(FORWARD_MEMO_PREFIX):
        return None
    forward = decode(
        interchain_pb2.TransferForward,
        memo[len(FORWARD_MEMO_PREFIX) :],
        bytes_max=TRANSFER_MEMO_BYTES_MAX,
    )
    if not forward.chain_id:
        raise failure(_INVALID, "transfer forwarding names no chain")
    return forward


def _forward(
    context: TransactionContext,
    packet: interchain_pb2.Packet,
    denom: str,
    amount: int,
    forward: interchain_pb2.TransferForward,
) -> None:
    """Sends what `packet` brought on to the member chain `forward` names, and remembers
    `packet` to acknowledge it when the forwarded packet ends."""
    member = hub.member_chain(context, forward.chain_id)
    if member.client_id == packet.destination_client:
        raise failure(
            _INVALID,
            f"transfer forwarding to {forward.chain_id!r}, the chain the packet came from",
        )
    onward = send_tokens(
        context,
        sender=FORWARDING_ACCOUNT,
        source_client=member.client_id,
        denom=denom,
        amount=amount,
        receiver=forward.receiver,
        timeout_ms=forward.timeout_ms,
    )
    context.put(forward_key(onward.source_client, onward.sequence), encode(packet))
    context.emit(
        "forward",
        (
            ("destination_client", packet.destination_client),
            ("sequence", str(packet.sequence)),
            ("forward_client", onward.source_client),
            ("forward_sequence", str(onward.sequence)),
            ("chain_id", forward.chain_id),
        ),
    )


def _end_forwarded(
    context: TransactionContext, onward: interchain_pb2.Packet, error: str | None
) -> None:
    """When `onward` was forwarded for a packet received earlier, acknowledges that packet: a
    success, or (the onward tokens refunded already) the receipt undone and an error."""
    key = forward_key(onward.source_client, onward.sequence)
    stored = context.get(key)
    if stored is None:
        return
    context.delete(key)
    incoming = decode(interchain_pb2.Packet, stored, bytes_max=len(stored))
    if error is None:
        acknowledgement = interchain_pb2.Acknowledgement(success=True)
    else:
        _undo_credit(context, incoming)
        message = f"forwarded on {onward.source_client}/{onward.sequence}: {error}"
        acknowledgement = interchain_pb2.Acknowledgement(
            success=False, error=message[: packets.ACKNOWLEDGEMENT_ERROR_CHARACTERS_MAX]
        )
    packets.write_acknowledgement(context, incoming, acknowledgement)


class TransferHandler:
    """The PortHandler of port "transfer" (causeway.interchain.ports)."""

    def on_receive(
        self, context: TransactionContext, packet: interchain_pb2.Packet
    ) -> interchain_pb2.Acknowledgement | None:
        from_evm = _counterparty_is_evm(context, packet.destination_client)
        data = packet_data(packet, evm.SOLIDITY_ABI_ENCODING if from_evm else ENCODING)
        forward = forward_request(data.memo)
        holder = data.receiver if forward is None else FORWARDING_ACCOUNT
        denom = _credit(context, packet, data, holder)
        context.emit(
            "receive",
            (
                ("destination_client", packet.destination_client),
                ("sequence", str(packet.sequence)),
                ("sender", data.sender),
                ("receiver", holder),
                ("denom", denom),
                ("amount", str(data.amount)),
            ),
        )
        if forward is None:
            return interchain_pb2.Acknowledgement(success=True)
        _forward(context, packet, denom, data.amount, forward)
        return None

    def on_acknowledge(
        self,
        context: TransactionContext,
        packet: interchain_pb2.Packet,
        acknowledgement: interchain_pb2.Acknowledgement,
    ) -> None:
        error = None if acknowledgement.success else acknowledgement.error
        if not acknowledgement.success:
            _refund(context, packet, "error acknowledgement")
        _end_forwarded(context, packet, error)

    def on_timeout(self, context: TransactionContext, packet: interchain_pb2.Packet) -> None:
        _refund(context, packet, "timeout")
        _end_forwarded(context, packet, "the forwarded packet timed out")


HANDLER = TransferHandler()

METHODS: dict[str, Method] = {"send": Method(send)}

TRANSFER = Contract(name=CONTRACT, methods=METHODS, namespace=TRANSFER_NAMESPACE)

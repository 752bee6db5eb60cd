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
"""

from __future__ import annotations

from causeway.execution import Contract, Method, TransactionContext, decode_arguments, failure
from causeway.interchain import bank, packets
from causeway.interchain.keys import TRANSFER_CONTRACT, TRANSFER_NAMESPACE
from causeway.interchain.v1 import interchain_pb2
from causeway.types import decode, encode
from causeway.types.v1 import types_pb2

CONTRACT = TRANSFER_CONTRACT
NAMESPACE = TRANSFER_NAMESPACE
PORT = "transfer"
VERSION = "ics20-1"
ENCODING = "application/x-protobuf"

# The longest denomination path, a voucher's prefix included (the bank's bound, which holds every
# denomination sent): a received denomination whose voucher would be longer is refused (an error
# acknowledgement, which refunds the sender).
TRANSFER_DENOM_BYTES_MAX = bank.BANK_DENOM_BYTES_MAX
# Free text for the receiving application (a hub reads a forwarding request here).
TRANSFER_MEMO_BYTES_MAX = 1_024
# The encoded TransferPacketData: room for the longest denomination, sender, receiver and memo.
TRANSFER_PACKET_DATA_BYTES_MAX = 2_048

_INVALID = types_pb2.RESULT_STATUS_INVALID_ARGUMENT


def _voucher_prefix(client_id: str) -> str:
    return f"{PORT}/{client_id}/"


def _check_payload(payload: interchain_pb2.Payload) -> None:
    if payload.source_port != PORT or payload.destination_port != PORT:
        raise failure(
            _INVALID,
            f"transfer packet goes from port {payload.source_port!r} to "
            f"{payload.destination_port!r}: both must be {PORT!r}",
        )
    if payload.version != VERSION:
        raise failure(_INVALID, f"transfer packet version {payload.version!r} is not {VERSION!r}")
    if payload.encoding != ENCODING:
        raise failure(
            _INVALID, f"transfer packet encoding {payload.encoding!r} is not {ENCODING!r}"
        )


def _check_memo(memo: bytes) -> None:
    if len(memo) > TRANSFER_MEMO_BYTES_MAX:
        raise failure(
            _INVALID,
            f"transfer memo is {len(memo)} bytes, above the limit of {TRANSFER_MEMO_BYTES_MAX}",
        )


def _check_amount(amount: int) -> None:
    if amount <= 0:
        raise failure(_INVALID, f"transfer amount must be positive, not {amount}")


def packet_data(packet: interchain_pb2.Packet) -> interchain_pb2.TransferPacketData:
    """The transfer data a packet carries, decoded strictly (canonical, bounded) and checked."""
    _check_payload(packet.payload)
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
    packet; for the ``send`` method and for native contracts that send from an account of their
    own (a hub passing tokens on). Any failure fails the whole transaction."""
    _check_amount(amount)
    bank.check_denom(denom, "transfer")
    bank.check_payee(receiver, "transfer receiver")
    _check_memo(memo)
    escrow = bank.escrow_account(PORT, source_client)
    transfer_context = _enter(context)
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
            encoding=ENCODING,
            value=encode(data),
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
    data = decode(
        interchain_pb2.TransferPacketData,
        packet.payload.value,
        bytes_max=len(packet.payload.value),
    )
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


class TransferHandler:
    """The PortHandler of port "transfer" (causeway.interchain.ports)."""

    def on_receive(
        self, context: TransactionContext, packet: interchain_pb2.Packet
    ) -> interchain_pb2.Acknowledgement:
        data = packet_data(packet)
        returning = _voucher_prefix(packet.source_client)
        if data.denom.startswith(returning):
            # One of this chain's tokens coming home: out of the escrow of the client it left by.
            denom = data.denom[len(returning) :]
            escrow = bank.escrow_account(PORT, packet.destination_client)
            bank.move(context, escrow, data.receiver, denom, data.amount)
        else:
            denom = _voucher_prefix(packet.destination_client) + data.denom
            size = len(denom.encode())
            if size > TRANSFER_DENOM_BYTES_MAX:
                raise failure(
                    _INVALID,
                    f"transfer voucher {denom[:80]!r}... would be {size} bytes, above the limit "
                    f"of {TRANSFER_DENOM_BYTES_MAX}",
                )
            bank.mint(context, data.receiver, denom, data.amount)
        context.emit(
            "receive",
            (
                ("destination_client", packet.destination_client),
                ("sequence", str(packet.sequence)),
                ("sender", data.sender),
                ("receiver", data.receiver),
                ("denom", denom),
                ("amount", str(data.amount)),
            ),
        )
        return interchain_pb2.Acknowledgement(success=True)

    def on_acknowledge(
        self,
        context: TransactionContext,
        packet: interchain_pb2.Packet,
        acknowledgement: interchain_pb2.Acknowledgement,
    ) -> None:
        if not acknowledgement.success:
            _refund(context, packet, "error acknowledgement")

    def on_timeout(self, context: TransactionContext, packet: interchain_pb2.Packet) -> None:
        _refund(context, packet, "timeout")


HANDLER = TransferHandler()

METHODS: dict[str, Method] = {"send": Method(send)}

TRANSFER = Contract(name=CONTRACT, methods=METHODS, namespace=TRANSFER_NAMESPACE)

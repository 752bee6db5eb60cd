"""One gateway's round: what one committee member does, from the state of both chains.

A round reads the hub (through a ``relaying.ChainEndpoint``: the SDK's verified reads on a real
network) and the EVM chain (``EvmSide``), then:

- EVM -> hub: each PacketSent log not yet received on the hub is received there (``packets.relay``
  with an EvmReceiptProof) once its block is attested; once the hub acknowledged it, the gateway
  signs ``acknowledgePacket`` on the EVM side after checking the acknowledgement's commitment in
  the hub's state; if the hub's time passes its timeout with no receipt (proven absent), it signs
  ``timeoutPacket``.
- hub -> EVM: each packet the hub sent to the EVM chain and still in flight is signed for
  ``receivePacket`` after its commitment is proven in the hub's state; its AcknowledgementWritten
  log, once attested, acknowledges it on the hub; if the EVM chain's time passes its timeout with
  no receipt, ``received[packetHash]`` is proven empty at an attested block and the hub times it
  out.
- Attestations: the blocks those proofs need, and every ``checkpoint_blocks``-th block (so that
  the hub's client stays fresh and timeouts have a block to be proven at), each once
  ``confirmations`` blocks are on top. Every gateway picks the same blocks, so k of them meet.

Nothing kept between rounds matters for correctness: the scan of logs restarts from
``start_block`` after a restart and every action is checked against both chains first, and every
action is idempotent on both chains (a second gateway's duplicate is a no-op), so several gateways
do no harm.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from google.protobuf.message import Message

from causeway.crypto import get_profile
from causeway.errors import CausewayError, ProofError
from causeway.interchain import evm
from causeway.interchain.gateways.evm_side import EndpointEvent, EvmSide
from causeway.interchain.keys import (
    CLIENTS_NAMESPACE,
    PACKETS_NAMESPACE,
    acknowledgement_path,
    attestation_key,
    commitment_path,
    consensus_state_key,
    receipt_path,
    received_key,
)
from causeway.interchain.packets import (
    SIDE_SENT,
    acknowledgement_commitment,
    packet_commitment,
)
from causeway.interchain.relaying import IN_FLIGHT_PAGE_MAX, RESULT_BYTES_MAX, ChainEndpoint
from causeway.interchain.v1 import interchain_pb2
from causeway.types import decode
from causeway.types.v1 import types_pb2

logger = logging.getLogger("causeway.gateway")

CHECKPOINT_BLOCKS_DEFAULT = 10
LOG_BLOCKS_PER_REQUEST_MAX = 2_000
# The hub's packets in flight to the EVM chain read per round: one page of a read-only call
# (relaying's page); more wait for the next round.
HUB_IN_FLIGHT_MAX = IN_FLIGHT_PAGE_MAX
# Hub deliveries per relay transaction: well under the packets contract's bound, and within a
# transaction's gas for receipt proofs.
RELAY_DELIVERIES_PER_TRANSACTION = 32
ACTIVE = "active"


@dataclass(slots=True)
class GatewayReport:
    """What one round did (counts of actions this gateway took) and saw."""

    attestations: int = 0
    hub_receives: int = 0
    hub_acknowledgements: int = 0
    hub_timeouts: int = 0
    evm_receives: int = 0
    evm_acknowledgements: int = 0
    evm_timeouts: int = 0
    failures: list[str] = field(default_factory=list)
    evm_pending: int = 0
    hub_pending: int = 0

    @property
    def actions(self) -> int:
        return (
            self.attestations
            + self.hub_receives
            + self.hub_acknowledgements
            + self.hub_timeouts
            + self.evm_receives
            + self.evm_acknowledgements
            + self.evm_timeouts
        )


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    hub_client_id: str
    hub_crypto: str = "intl"
    confirmations: int = 2
    checkpoint_blocks: int = CHECKPOINT_BLOCKS_DEFAULT
    start_block: int = 1


class Gateway:
    """One committee member's rounds between ``hub`` and ``evm_side``."""

    def __init__(self, hub: ChainEndpoint, evm_side: EvmSide, settings: GatewaySettings) -> None:
        self.hub = hub
        self.evm = evm_side
        self.settings = settings
        self.hub_hash = get_profile(settings.hub_crypto).hash
        # Scanned logs still to act on, by packet hash; and the last block scanned.
        self.sent: dict[bytes, EndpointEvent] = {}
        self.written: dict[bytes, EndpointEvent] = {}
        self.scanned_to = settings.start_block - 1

    # -- hub reads ---------------------------------------------------------------------------

    def _client(self) -> interchain_pb2.ClientsGetResult:
        data = self.hub.query(
            "clients",
            "get",
            interchain_pb2.ClientsGetArguments(client_id=self.settings.hub_client_id),
        )
        return decode(interchain_pb2.ClientsGetResult, data, bytes_max=RESULT_BYTES_MAX)

    def _hub_in_flight(self) -> list[interchain_pb2.PacketRecord]:
        data = self.hub.query(
            "packets",
            "list",
            interchain_pb2.PacketsListArguments(
                side=SIDE_SENT,
                client_id=self.settings.hub_client_id,
                in_flight_only=True,
                limit=HUB_IN_FLIGHT_MAX,
            ),
        )
        return list(decode(interchain_pb2.PacketsListResult, data, bytes_max=RESULT_BYTES_MAX).sent)

    def _prove_one(self, key: bytes, height: int) -> bytes | None:
        ((value, _proof),) = self.hub.prove([key], height)
        return value

    # -- the round ---------------------------------------------------------------------------

    def run_round(self) -> GatewayReport:
        report = GatewayReport()
        self.evm.check_chain()
        client = self._client()
        if client.status != ACTIVE:
            report.failures.append(
                f"the hub's client {self.settings.hub_client_id} is {client.status}: nothing to do"
            )
            return report
        tip = self.evm.block_number()
        confirmed = tip - self.settings.confirmations
        if confirmed < 1:
            return report
        self._scan(confirmed)
        hub_height = self.hub.latest_height()
        hub_time_ms = self.hub.signed_header(hub_height)[0].time_ms
        checkpoint = confirmed - confirmed % self.settings.checkpoint_blocks
        to_attest: set[int] = set()
        if checkpoint > client.client.latest_height:
            to_attest.add(checkpoint)
        relay = interchain_pb2.PacketsRelayArguments()
        self._evm_to_hub(
            hub_height=hub_height,
            hub_time_ms=hub_time_ms,
            relay=relay,
            to_attest=to_attest,
            report=report,
        )
        self._hub_to_evm(
            hub_height=hub_height,
            confirmed=confirmed,
            checkpoint=checkpoint,
            relay=relay,
            to_attest=to_attest,
            report=report,
        )
        self._attest(sorted(to_attest), hub_height, report)
        self._relay(relay, report)
        report.evm_pending = len(self.sent)
        return report

    def _scan(self, confirmed: int) -> None:
        while self.scanned_to < confirmed:
            first = self.scanned_to + 1
            last = min(confirmed, first + LOG_BLOCKS_PER_REQUEST_MAX - 1)
            for event in self.evm.endpoint_events(first, last):
                if event.kind == "sent":
                    self.sent[event.packet_hash] = event
                else:
                    self.written[event.packet_hash] = event
            self.scanned_to = last

    def _attested(self, height: int, hub_height: int) -> bool:
        """Whether the hub's client stores the consensus state of EVM block ``height``."""
        key = CLIENTS_NAMESPACE + consensus_state_key(self.settings.hub_client_id, height)
        return self._prove_one(key, hub_height) is not None

    def _evm_to_hub(
        self,
        *,
        hub_height: int,
        hub_time_ms: int,
        relay: interchain_pb2.PacketsRelayArguments,
        to_attest: set[int],
        report: GatewayReport,
    ) -> None:
        hub_client = self.settings.hub_client_id
        for packet_hash, event in list(self.sent.items()):
            packet = event.packet
            try:
                if not self.evm.in_flight(packet_hash):
                    # Acknowledged or timed out on the EVM side: nothing left to do.
                    del self.sent[packet_hash]
                    continue
                receipt_data = self._prove_one(
                    PACKETS_NAMESPACE + received_key(hub_client, packet.sequence), hub_height
                )
                if receipt_data is not None:
                    receipt = decode(
                        interchain_pb2.ReceiptRecord, receipt_data, bytes_max=RESULT_BYTES_MAX
                    )
                    if receipt.HasField("acknowledgement"):
                        self._sign_acknowledgement(
                            packet, receipt.acknowledgement, hub_height, report
                        )
                    continue
                if hub_time_ms >= packet.timeout_ms:
                    # Proven absent (the receipt's commitment too) at a hub height whose time is
                    # past the timeout.
                    if self._prove_one(receipt_path(hub_client, packet.sequence), hub_height):
                        continue
                    self._sign_evm(
                        self.evm.timeout_digest(packet_hash),
                        "timeoutPacket",
                        (evm.encode_packet(packet),),
                        "evm_timeouts",
                        report,
                    )
                    continue
                if self._attested(event.block_number, hub_height):
                    relay.receives.append(
                        interchain_pb2.PacketsReceiveArguments(
                            packet=packet, evm_proof=self.evm.receipt_proof(event)
                        )
                    )
                else:
                    to_attest.add(event.block_number)
            except CausewayError as error:
                report.failures.append(f"EVM packet {packet.sequence}: {error.message}")

    def _sign_acknowledgement(
        self,
        packet: interchain_pb2.Packet,
        acknowledgement: interchain_pb2.Acknowledgement,
        hub_height: int,
        report: GatewayReport,
    ) -> None:
        proven = self._prove_one(
            acknowledgement_path(self.settings.hub_client_id, packet.sequence), hub_height
        )
        if proven != acknowledgement_commitment(acknowledgement, self.hub_hash):
            raise ProofError(
                f"the hub's acknowledgement of EVM packet {packet.sequence} is not proven in its "
                "state"
            )
        encoded = evm.encode_acknowledgement(acknowledgement)
        packet_hash = evm.packet_hash(packet)
        self._sign_evm(
            self.evm.acknowledge_digest(packet_hash, encoded),
            "acknowledgePacket",
            (evm.encode_packet(packet), encoded),
            "evm_acknowledgements",
            report,
        )

    def _sign_evm(
        self,
        digest: bytes,
        function: str,
        arguments: tuple[bytes, ...],
        counter: str,
        report: GatewayReport,
    ) -> None:
        """Signs ``digest`` and calls the endpoint's committee-signed ``function`` with
        ``arguments`` and the signature, unless this gateway signed it already or the committee
        executed it."""
        if self.evm.signed_or_executed(digest):
            return
        call = getattr(self.evm.endpoint.functions, function)(*arguments, self.evm.sign(digest))
        self.evm.transact(call)
        setattr(report, counter, getattr(report, counter) + 1)

    def _hub_to_evm(
        self,
        *,
        hub_height: int,
        confirmed: int,
        checkpoint: int,
        relay: interchain_pb2.PacketsRelayArguments,
        to_attest: set[int],
        report: GatewayReport,
    ) -> None:
        records = self._hub_in_flight()
        report.hub_pending = len(records)
        in_flight = set()
        checkpoint_time_ms: int | None = None
        confirmed_time_ms: int | None = None
        for record in records:
            packet = record.packet
            packet_hash = evm.packet_hash(packet)
            in_flight.add(packet_hash)
            try:
                if self.evm.received(packet_hash):
                    event = self.written.get(packet_hash)
                    if event is None:
                        continue  # written in a block not yet confirmed
                    if self._attested(event.block_number, hub_height):
                        relay.acknowledgements.append(
                            interchain_pb2.PacketsAcknowledgeArguments(
                                packet=packet,
                                acknowledgement=evm.decode_acknowledgement(event.acknowledgement),
                                evm_proof=self.evm.receipt_proof(event),
                            )
                        )
                    else:
                        to_attest.add(event.block_number)
                    continue
                if checkpoint_time_ms is None and checkpoint >= 1:
                    checkpoint_time_ms = self.evm.header(checkpoint)[2]
                if checkpoint_time_ms is not None and checkpoint_time_ms >= packet.timeout_ms:
                    if self._attested(checkpoint, hub_height):
                        relay.timeouts.append(
                            interchain_pb2.PacketsTimeoutArguments(
                                packet=packet,
                                evm_proof=self.evm.storage_proof(packet_hash, checkpoint),
                            )
                        )
                    else:
                        to_attest.add(checkpoint)
                    continue
                if confirmed_time_ms is None:
                    confirmed_time_ms = self.evm.header(confirmed)[2]
                if confirmed_time_ms >= packet.timeout_ms:
                    continue  # the endpoint would refuse it; the hub times it out
                proven = self._prove_one(
                    commitment_path(packet.source_client, packet.sequence), hub_height
                )
                if proven != packet_commitment(packet, self.hub_hash):
                    raise ProofError(
                        f"hub packet {packet.sequence}: its commitment is not proven in the "
                        "hub's state"
                    )
                self._sign_evm(
                    self.evm.receive_digest(packet_hash),
                    "receivePacket",
                    (evm.encode_packet(packet),),
                    "evm_receives",
                    report,
                )
            except CausewayError as error:
                report.failures.append(f"hub packet {packet.sequence}: {error.message}")
        if len(records) < HUB_IN_FLIGHT_MAX:
            for packet_hash in list(self.written):
                if packet_hash not in in_flight:
                    del self.written[packet_hash]

    def _attest(
        self,
        heights: Sequence[int],
        hub_height: int,
        report: GatewayReport,
    ) -> None:
        attestations: list[Message] = []
        for height in heights:
            try:
                if self._attested(height, hub_height):
                    continue
                header_rlp, block_hash, _time_ms = self.evm.header(height)
                record_data = self._prove_one(
                    CLIENTS_NAMESPACE
                    + attestation_key(self.settings.hub_client_id, height, block_hash),
                    hub_height,
                )
                if record_data is not None:
                    record = decode(
                        interchain_pb2.EvmAttestation, record_data, bytes_max=RESULT_BYTES_MAX
                    )
                    if self.evm.account.address.lower() in {
                        "0x" + signer.hex() for signer in record.signers
                    }:
                        continue
                digest = evm.header_digest(self.evm.chain_id, block_hash)
                attestations.append(
                    interchain_pb2.ClientsAttestArguments(
                        client_id=self.settings.hub_client_id,
                        header_rlp=header_rlp,
                        signature=self.evm.sign(digest),
                    )
                )
            except CausewayError as error:
                report.failures.append(f"attestation of EVM block {height}: {error.message}")
        if not attestations:
            return
        try:
            results = self.hub.submit_all("clients", "attest", attestations)
        except CausewayError as error:
            report.failures.append(f"attestations: {error.message}")
            return
        for result in results:
            if result.status == types_pb2.RESULT_STATUS_OK:
                report.attestations += 1
            else:
                report.failures.append(f"attestation refused: {result.error}")

    def _relay(self, relay: interchain_pb2.PacketsRelayArguments, report: GatewayReport) -> None:
        """The round's hub deliveries, in transactions of at most RELAY_DELIVERIES_PER_TRANSACTION
        (each delivery a no-op when another gateway made it first)."""
        deliveries: list[tuple[str, str, Message]] = [
            *(("receives", "hub_receives", item) for item in relay.receives),
            *(
                ("acknowledgements", "hub_acknowledgements", item)
                for item in relay.acknowledgements
            ),
            *(("timeouts", "hub_timeouts", item) for item in relay.timeouts),
        ]
        for start in range(0, len(deliveries), RELAY_DELIVERIES_PER_TRANSACTION):
            chunk = deliveries[start : start + RELAY_DELIVERIES_PER_TRANSACTION]
            transaction = interchain_pb2.PacketsRelayArguments()
            for field_name, _kind, item in chunk:
                getattr(transaction, field_name).append(item)
            try:
                (result,) = self.hub.submit_all("packets", "relay", [transaction])
            except CausewayError as error:
                report.failures.append(f"hub relay: {error.message}")
                return
            if result.status != types_pb2.RESULT_STATUS_OK:
                report.failures.append(f"hub relay refused: {result.error}")
                return
            outcomes = decode(
                interchain_pb2.PacketsRelayResult, result.return_value, bytes_max=RESULT_BYTES_MAX
            ).outcomes
            for (_field_name, kind, _item), outcome in zip(chunk, outcomes, strict=True):
                if outcome == "done":
                    setattr(report, kind, getattr(report, kind) + 1)
                elif outcome.startswith("failed"):
                    report.failures.append(f"{kind}: {outcome}")

"""What a relayer does, over any two chains it can read and write: find the packets waiting on a
link, and carry them with the client updates that prove them.

A relayer holds no state of its own that matters: every round starts from the chains' state (the
sender's in-flight packets, the receiver's receipts and acknowledgements, each client's latest
height), so a relayer that crashed, restarted, or runs beside others does the right thing, and
at worst repeats a delivery that is then a no-op. It is untrusted: the chains check everything it
brings against the headers their clients verified; all it can do wrong is not relay.

I/O goes through ``ChainEndpoint``: the simulator implements it over chains in one process, the
``causeway relayer`` process over the SDK. Everything else here is deterministic.

One round on a link between X (whose client of Y is ``x_client``) and Y (``y_client`` of X):

1. X's in-flight packets on ``x_client`` (``packets.list``) and, for each, Y's receipt record.
2. Not received and Y's latest time is before the timeout: a receive on Y, proven at X's
   newest certified height, with Y's client of X updated to that height first.
3. Received and acknowledged: the acknowledgement on X, proven at Y's newest certified height,
   with X's client of Y updated first. Not received and Y's time is at or past the timeout: a
   timeout on X, proving the receipt's absence at that height.
4. The same from Y to X; and a client whose newest consensus state is older than a third of its
   trusting period is updated even without packets, so that it never expires on a quiet link.

Each chain gets one ``packets.relay`` transaction per round: its client update first, then up to
``packets.RELAY_DELIVERIES_MAX`` deliveries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from google.protobuf.message import Message

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import get_profile
from causeway.errors import CausewayError
from causeway.interchain.keys import (
    PACKETS_NAMESPACE,
    acknowledgement_path,
    commitment_path,
    receipt_path,
    received_key,
)
from causeway.interchain.packets import (
    RELAY_DELIVERIES_MAX,
    RELAY_UPDATES_MAX,
    SIDE_SENT,
)
from causeway.interchain.v1 import interchain_pb2
from causeway.light import CertificateQuorum, verify_header
from causeway.types import decode
from causeway.types.v1 import types_pb2

# A client is refreshed once its newest consensus state is this share of its trusting period old.
REFRESH_AFTER_TRUSTING_PERIOD_SHARE = 1 / 3
# How far below the newest height a relayer looks for a header whose certificate holds more than
# two thirds (a raft node completes its certificates a moment after the block).
CERTIFIED_HEIGHT_SEARCH_MAX = 16
# How many heights a relayer walks to find where a validator set changed, when the trusted set
# cannot vouch for the newest header directly.
VALIDATOR_CHANGE_SEARCH_MAX = 1_024
RESULT_BYTES_MAX = 16 * 1024 * 1024
# What a transaction holds beside its arguments (body fields, signature, the relayer's id): the
# arguments of one relay transaction get the chain's transaction_bytes_max less this.
TRANSACTION_OVERHEAD_BYTES = 2_048
# Packets read per call when a relayer lists those in flight: each costs a few thousand gas, and
# a read-only call has the chain's transaction gas limit too.
IN_FLIGHT_PAGE_MAX = 64
# What one delivery costs in gas, about (a proof checked, a record or two written): relay
# transactions start with the chain's transaction_gas_max over this many deliveries.
GAS_PER_DELIVERY_ESTIMATE = 12_000
# A delivery inside the relay arguments: tag and length prefix, at most.
DELIVERY_FRAMING_BYTES = 6


class ChainEndpoint(Protocol):
    """What a relayer reads from and sends to one chain."""

    @property
    def chain_id(self) -> str: ...

    def latest_height(self) -> int: ...

    def signed_header(
        self, height: int
    ) -> tuple[types_pb2.BlockHeader, types_pb2.CommitCertificate]: ...

    def validator_set(self, height: int) -> types_pb2.ValidatorSet:
        """The set that signs ``height``."""
        ...

    def prove(
        self, keys: Sequence[bytes], height: int
    ) -> list[tuple[bytes | None, types_pb2.StateProof]]:
        """Each key's value at ``height`` (None: absent) with its proof."""
        ...

    def query(self, contract: str, method: str, arguments: Message) -> bytes:
        """A read-only call at the latest state; RequestError when it fails."""
        ...

    def submit(self, contract: str, method: str, arguments: Message) -> types_pb2.TransactionResult:
        """Signs with the relayer's key on this chain, submits, and waits for the result."""
        ...


@dataclass(frozen=True, slots=True)
class LinkEnd:
    endpoint: ChainEndpoint
    # This chain's client of the other chain.
    client_id: str


@dataclass(slots=True)
class RoundReport:
    """What one round on a link did, per chain id."""

    updates: dict[str, int] = field(default_factory=dict)
    receives: dict[str, int] = field(default_factory=dict)
    acknowledgements: dict[str, int] = field(default_factory=dict)
    timeouts: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, list[str]] = field(default_factory=dict)
    # Transactions submitted, and those that failed as a whole.
    transactions: int = 0
    failed_transactions: list[str] = field(default_factory=list)
    # Packets seen in flight at the start of the round, per sending chain.
    pending: dict[str, int] = field(default_factory=dict)
    # Their sequences (the first batch of them, lowest first), per sending chain: a relayer
    # process measures relay latency from when a sequence appears to when it is gone.
    in_flight: dict[str, list[int]] = field(default_factory=dict)


@dataclass(slots=True)
class _Batch:
    updates: list[interchain_pb2.ClientsUpdateArguments] = field(default_factory=list)
    receives: list[interchain_pb2.PacketsReceiveArguments] = field(default_factory=list)
    acknowledgements: list[interchain_pb2.PacketsAcknowledgeArguments] = field(default_factory=list)
    timeouts: list[interchain_pb2.PacketsTimeoutArguments] = field(default_factory=list)

    def deliveries(self) -> int:
        return len(self.receives) + len(self.acknowledgements) + len(self.timeouts)


def _client(end: LinkEnd) -> interchain_pb2.ClientsGetResult:
    data = end.endpoint.query(
        "clients", "get", interchain_pb2.ClientsGetArguments(client_id=end.client_id)
    )
    return decode(interchain_pb2.ClientsGetResult, data, bytes_max=RESULT_BYTES_MAX)


def _in_flight(end: LinkEnd, limit: int) -> list[interchain_pb2.PacketRecord]:
    """Up to ``limit`` packets the end sent that are in flight, in pages a read-only call's gas
    allows."""
    found: list[interchain_pb2.PacketRecord] = []
    start_after = 0
    while len(found) < limit:
        page_size = min(IN_FLIGHT_PAGE_MAX, limit - len(found))
        data = end.endpoint.query(
            "packets",
            "list",
            interchain_pb2.PacketsListArguments(
                side=SIDE_SENT,
                client_id=end.client_id,
                in_flight_only=True,
                start_after=start_after,
                limit=page_size,
            ),
        )
        page = decode(interchain_pb2.PacketsListResult, data, bytes_max=RESULT_BYTES_MAX).sent
        found.extend(page)
        if len(page) < page_size:
            break
        start_after = page[-1].packet.sequence
    return found


def _receipts(end: LinkEnd, sequences: Sequence[int]) -> list[interchain_pb2.ReceiptRecord | None]:
    """The receiver's records of these packets at its latest height, in one read of state (a
    query per packet would cost a signed call each)."""
    endpoint = end.endpoint
    height = endpoint.latest_height()
    paths = [PACKETS_NAMESPACE + received_key(end.client_id, sequence) for sequence in sequences]
    records: list[interchain_pb2.ReceiptRecord | None] = []
    for value, _proof in endpoint.prove(paths, height):
        records.append(
            None
            if value is None
            else decode(interchain_pb2.ReceiptRecord, value, bytes_max=RESULT_BYTES_MAX)
        )
    return records


def _halves(
    arguments: interchain_pb2.PacketsRelayArguments,
) -> list[interchain_pb2.PacketsRelayArguments] | None:
    """The deliveries of ``arguments`` in two transactions (the updates in the first), or None
    when there is nothing to split."""
    deliveries: list[tuple[str, Message]] = [
        *(("receives", item) for item in arguments.receives),
        *(("acknowledgements", item) for item in arguments.acknowledgements),
        *(("timeouts", item) for item in arguments.timeouts),
    ]
    if len(deliveries) < 2:
        return None
    first = interchain_pb2.PacketsRelayArguments(updates=arguments.updates)
    second = interchain_pb2.PacketsRelayArguments()
    middle = len(deliveries) // 2
    for index, (field_name, item) in enumerate(deliveries):
        getattr(first if index < middle else second, field_name).append(item)
    return [first, second]


class Relayer:
    """Relays on links, one round at a time (``relay_round``); holds nothing between rounds but
    its endpoints."""

    def __init__(self, *, batch_deliveries_max: int = RELAY_DELIVERIES_MAX) -> None:
        self.batch_deliveries_max = min(batch_deliveries_max, RELAY_DELIVERIES_MAX)

    # -- headers ---------------------------------------------------------------------------------

    def _certified_height(self, source: ChainEndpoint, above: int, profile_name: str) -> int | None:
        """The newest height above ``above`` whose certificate holds more than two thirds of its
        set (what a light client needs), or None."""
        latest = source.latest_height()
        profile = get_profile(profile_name)
        lowest = max(above + 1, latest - CERTIFIED_HEIGHT_SEARCH_MAX)
        for height in range(latest, lowest - 1, -1):
            header, certificate = source.signed_header(height)
            try:
                verify_header(
                    header,
                    certificate,
                    chain_id=source.chain_id,
                    validators=source.validator_set(height),
                    profile=profile,
                    quorum=CertificateQuorum.MORE_THAN_TWO_THIRDS,
                )
            except CausewayError:
                continue
            return height
        return None

    def _update(
        self,
        source: ChainEndpoint,
        client_id: str,
        trusted_height: int,
        height: int,
    ) -> interchain_pb2.ClientsUpdateArguments:
        header, certificate = source.signed_header(height)
        return interchain_pb2.ClientsUpdateArguments(
            client_id=client_id,
            header=interchain_pb2.ClientHeader(
                header=header,
                certificate=certificate,
                validator_set=source.validator_set(height),
                trusted_height=trusted_height,
                trusted_validator_set=source.validator_set(trusted_height + 1),
            ),
        )

    def updates_to(
        self,
        source: ChainEndpoint,
        client: interchain_pb2.ClientsGetResult,
        height: int,
    ) -> list[interchain_pb2.ClientsUpdateArguments]:
        """The updates that take ``client`` (of ``source``) from its latest height to ``height``:
        one when the set the client trusts still signs, else, at each height where the set
        changed, one to the height before (signed by the trusted set) and one to that height
        (adjacent: the trusted header names the new set as next)."""
        trusted = client.client.latest_height
        if height <= trusted:
            return []
        client_id = client.client.client_id
        trusted_next = client.latest.next_validator_set_hash
        if source.signed_header(height)[0].validator_set_hash == trusted_next:
            return [self._update(source, client_id, trusted, height)]
        updates: list[interchain_pb2.ClientsUpdateArguments] = []
        current = trusted
        last_probe = min(height, trusted + VALIDATOR_CHANGE_SEARCH_MAX)
        for probe in range(trusted + 1, last_probe + 1):
            header = source.signed_header(probe)[0]
            if header.validator_set_hash == trusted_next:
                continue
            if probe - 1 > current:
                updates.append(self._update(source, client_id, current, probe - 1))
            updates.append(self._update(source, client_id, probe - 1, probe))
            current = probe
            trusted_next = header.next_validator_set_hash
        if current < height:
            updates.append(self._update(source, client_id, current, height))
        return updates

    # -- a round -----------------------------------------------------------------------------------

    def _plan_updates(
        self, other: ChainEndpoint, client: interchain_pb2.ClientsGetResult
    ) -> tuple[int, list[interchain_pb2.ClientsUpdateArguments]]:
        """The height that deliveries to this client's chain are proven at, and the updates that
        take the client there: the other chain's newest certified height when the client is
        behind it; the client's own latest height when nothing newer is certified."""
        trusted = client.client.latest_height
        if client.status != "active":
            return trusted, []
        height = self._certified_height(other, trusted, client.client.crypto_profile)
        if height is None:
            return trusted, []
        updates = self.updates_to(other, client, height)
        if len(updates) > RELAY_UPDATES_MAX:
            # Many changes to cross: this round goes as far as one transaction may, the next
            # round on from there.
            updates = updates[:RELAY_UPDATES_MAX]
            height = updates[-1].header.header.height
        return height, updates

    def _direction(
        self,
        sender: LinkEnd,
        receiver: LinkEnd,
        *,
        sender_proof_height: int,
        receiver_proof_height: int,
        to_receiver: _Batch,
        to_sender: _Batch,
        report: RoundReport,
    ) -> None:
        """Plans the deliveries of the packets ``sender`` sent to ``receiver``: receives proven
        at ``sender_proof_height`` (a height of the sender that the receiver's client will
        hold), acknowledgements and timeouts at ``receiver_proof_height``."""
        packets = _in_flight(sender, self.batch_deliveries_max)
        report.pending[sender.endpoint.chain_id] = len(packets)
        report.in_flight[sender.endpoint.chain_id] = [record.packet.sequence for record in packets]
        if not packets:
            return
        receiver_time = receiver.endpoint.signed_header(receiver_proof_height)[0].time_ms
        receives: list[interchain_pb2.PacketRecord] = []
        acknowledged: list[tuple[interchain_pb2.PacketRecord, interchain_pb2.Acknowledgement]] = []
        timed_out: list[interchain_pb2.PacketRecord] = []
        receipts = _receipts(receiver, [record.packet.sequence for record in packets])
        for record, receipt in zip(packets, receipts, strict=True):
            if receipt is None:
                if receiver_time >= record.packet.timeout_ms:
                    timed_out.append(record)
                elif record.sent_height <= sender_proof_height:
                    receives.append(record)
            elif receipt.HasField("acknowledgement"):
                acknowledged.append((record, receipt.acknowledgement))
        receive_space = self.batch_deliveries_max - to_receiver.deliveries()
        receives = receives[: max(0, receive_space)]
        if receives:
            proven = sender.endpoint.prove(
                [
                    commitment_path(record.packet.source_client, record.packet.sequence)
                    for record in receives
                ],
                sender_proof_height,
            )
            for record, (value, proof) in zip(receives, proven, strict=True):
                if value is not None:
                    to_receiver.receives.append(
                        interchain_pb2.PacketsReceiveArguments(
                            packet=record.packet, proof=proof, proof_height=sender_proof_height
                        )
                    )
        answer_space = self.batch_deliveries_max - to_sender.deliveries()
        acknowledged = acknowledged[: max(0, answer_space)]
        timed_out = timed_out[: max(0, answer_space - len(acknowledged))]
        if acknowledged:
            proven = receiver.endpoint.prove(
                [
                    acknowledgement_path(record.packet.destination_client, record.packet.sequence)
                    for record, _ in acknowledged
                ],
                receiver_proof_height,
            )
            for (record, acknowledgement), (value, proof) in zip(acknowledged, proven, strict=True):
                # Written after the proof height (the receiver is ahead of its certificates):
                # the next round proves it.
                if value is not None:
                    to_sender.acknowledgements.append(
                        interchain_pb2.PacketsAcknowledgeArguments(
                            packet=record.packet,
                            acknowledgement=acknowledgement,
                            proof=proof,
                            proof_height=receiver_proof_height,
                        )
                    )
        if timed_out:
            proven = receiver.endpoint.prove(
                [
                    receipt_path(record.packet.destination_client, record.packet.sequence)
                    for record in timed_out
                ],
                receiver_proof_height,
            )
            for record, (value, proof) in zip(timed_out, proven, strict=True):
                if value is None:
                    to_sender.timeouts.append(
                        interchain_pb2.PacketsTimeoutArguments(
                            packet=record.packet, proof=proof, proof_height=receiver_proof_height
                        )
                    )

    def _refresh_due(self, client: interchain_pb2.ClientsGetResult, now_ms: int) -> bool:
        """Whether a client's newest consensus state is old enough to renew without packets."""
        age_ms = now_ms - client.latest.time_ms
        return age_ms >= client.client.trusting_period_ms * REFRESH_AFTER_TRUSTING_PERIOD_SHARE

    def _relay_arguments(
        self, end: LinkEnd, batch: _Batch
    ) -> list[interchain_pb2.PacketsRelayArguments]:
        """The batch as relay transactions that each fit the chain's transaction size limit
        (read from its configuration): the client updates in the first, the deliveries spread
        over as many as they need, in order."""
        config = decode(
            types_pb2.ChainConfig,
            end.endpoint.query("config", "get", contracts_pb2.ConfigGetArguments()),
            bytes_max=RESULT_BYTES_MAX,
        )
        budget = config.transaction_bytes_max - TRANSACTION_OVERHEAD_BYTES
        # Gas as well as bytes: a first guess from a delivery's typical cost, corrected by
        # splitting a transaction that runs out of gas (_submit).
        per_transaction = max(1, config.transaction_gas_max // GAS_PER_DELIVERY_ESTIMATE)
        transactions = [interchain_pb2.PacketsRelayArguments(updates=batch.updates)]
        size = transactions[0].ByteSize()
        count = 0
        deliveries: list[tuple[str, Message]] = [
            *(("receives", item) for item in batch.receives),
            *(("acknowledgements", item) for item in batch.acknowledgements),
            *(("timeouts", item) for item in batch.timeouts),
        ]
        for field_name, item in deliveries:
            # A repeated field's element costs its size plus a tag and a length prefix.
            item_bytes = item.ByteSize() + DELIVERY_FRAMING_BYTES
            current = transactions[-1]
            has_deliveries = bool(current.receives or current.acknowledgements or current.timeouts)
            if (size + item_bytes > budget or count >= per_transaction) and (
                has_deliveries or current.updates
            ):
                transactions.append(interchain_pb2.PacketsRelayArguments())
                size = 0
                count = 0
            getattr(transactions[-1], field_name).append(item)
            size += item_bytes
            count += 1
        return transactions

    def _submit(self, end: LinkEnd, batch: _Batch, report: RoundReport) -> None:
        chain_id = end.endpoint.chain_id
        if not batch.updates and not batch.deliveries():
            return
        report.updates[chain_id] = 0
        report.receives[chain_id] = 0
        report.acknowledgements[chain_id] = 0
        report.timeouts[chain_id] = 0
        report.outcomes[chain_id] = []
        queue = self._relay_arguments(end, batch)
        while queue:
            arguments = queue.pop(0)
            result = end.endpoint.submit("packets", "relay", arguments)
            report.transactions += 1
            halves = _halves(arguments)
            if result.status == types_pb2.RESULT_STATUS_OUT_OF_GAS and halves is not None:
                # The guess was too large for these deliveries: the same work in two.
                queue[:0] = halves
                continue
            if result.status != types_pb2.RESULT_STATUS_OK:
                # The rest would be proven against a client update that did not happen, or
                # after a failure the next round sees afresh.
                report.failed_transactions.append(f"{chain_id}: {result.error}")
                return
            outcomes = decode(
                interchain_pb2.PacketsRelayResult, result.return_value, bytes_max=RESULT_BYTES_MAX
            ).outcomes
            report.updates[chain_id] += len(arguments.updates)
            report.receives[chain_id] += len(arguments.receives)
            report.acknowledgements[chain_id] += len(arguments.acknowledgements)
            report.timeouts[chain_id] += len(arguments.timeouts)
            report.outcomes[chain_id].extend(outcomes)

    def relay_round(self, first: LinkEnd, second: LinkEnd) -> RoundReport:
        """One round on the link between ``first`` and ``second`` (each naming its client of
        the other): reads both chains, submits to each the relay transactions its batch needs
        (one, unless the batch exceeds the chain's transaction size limit)."""
        report = RoundReport()
        first_client = _client(first)
        second_client = _client(second)
        # Deliveries to first are proven at a height of second that first's client will hold
        # once this round's update (if any) is in, and the reverse.
        second_height, first_updates = self._plan_updates(second.endpoint, first_client)
        first_height, second_updates = self._plan_updates(first.endpoint, second_client)
        to_first = _Batch(updates=first_updates)
        to_second = _Batch(updates=second_updates)
        self._direction(
            first,
            second,
            sender_proof_height=first_height,
            receiver_proof_height=second_height,
            to_receiver=to_second,
            to_sender=to_first,
            report=report,
        )
        self._direction(
            second,
            first,
            sender_proof_height=second_height,
            receiver_proof_height=first_height,
            to_receiver=to_first,
            to_sender=to_second,
            report=report,
        )
        # An update with nothing to deliver is worth a transaction only for a client growing old.
        for end, batch, client in (
            (first, to_first, first_client),
            (second, to_second, second_client),
        ):
            if batch.updates and not batch.deliveries():
                now_ms = end.endpoint.signed_header(end.endpoint.latest_height())[0].time_ms
                if not self._refresh_due(client, now_ms):
                    batch.updates.clear()
        self._submit(first, to_first, report)
        self._submit(second, to_second, report)
        return report

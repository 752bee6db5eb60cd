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
5. Atomic transactions (causeway.interchain.atomic), with each chain taken in turn as the hub
   and the other as a participant: when the hub's earliest open transaction is past its
   deadline in the hub's latest block time, ``atomic.decide`` on the hub (a sweep, a no-op if
   another relayer was first); for each PREPARED leg the participant holds for that hub whose
   decision the hub wrote at least ``settle_after_ms`` before its latest block, ``atomic.settle``
   on the participant with a proof of the decision at the height deliveries to it are proven
   at (its client of the hub updated first, in the round's relay transaction). A chain without
   the atomic contract, or a participant that registered no such hub, is skipped.

A round looks at up to ``round_packets_max`` packets in flight each way. Each chain gets its
deliveries in ``packets.relay`` transactions of up to ``batch_deliveries_max`` (fewer when the
chain's byte or gas limit per transaction says so), after a transaction holding the client
update (or with it, when everything fits in one), all submitted at once and waited for together.
A chain keeps a submission's arrival order, so the update commits before the deliveries it
proves; were it not so, those transactions would only fail, and the next round would do them
again. ``plan_round`` reads, ``deliver`` writes to one chain; a relayer process delivers to the
two chains of a link at the same time (``relay_round`` does one after the other, which is what
the simulator needs to stay deterministic).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from google.protobuf.message import Message

from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import get_profile
from causeway.errors import CausewayError, RequestError
from causeway.interchain.keys import (
    ATOMIC_CONTRACT,
    PACKETS_NAMESPACE,
    acknowledgement_path,
    atomic_decision_path,
    commitment_path,
    receipt_path,
    received_key,
)
from causeway.interchain.packets import (
    RELAY_DELIVERIES_MAX,
    RELAY_UPDATES_MAX,
    SIDE_SENT,
)
from causeway.interchain.v1 import atomic_pb2, interchain_pb2
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
# Packets a round looks at in flight each way (and so deliveries per chain per round). A round
# costs a few reads whatever its size and two commit latencies, so the window sets throughput:
# this many per round and direction. Bounded because a round reads, proves and holds them all.
ROUND_PACKETS_DEFAULT = 1_024
ROUND_PACKETS_MAX = 16_384
# How far a round reads in flight, in windows of round_packets_max: enough to find a window of
# packets to receive beyond those waiting for their acknowledgements, which may be two windows
# (the last round's receives, not yet provable at the receiver's newest certified height, and
# the round's before).
IN_FLIGHT_SCAN_WINDOWS = 4
# How long after the hub decided a relayer settles a PREPARED leg by proof rather than wait for
# the DECISION packet (about two relay rounds on the devnet): both then race, and the later is a
# no-op. 0 settles at once, the latency lever of ADR 0004.
SETTLE_AFTER_MS_DEFAULT = 10_000
# PREPARED legs a round looks at per participant and hub.
ATOMIC_SETTLES_PER_ROUND_MAX = 64


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

    def submit_all(
        self, contract: str, method: str, arguments: Sequence[Message]
    ) -> list[types_pb2.TransactionResult]:
        """Signs a transaction per element with the relayer's key on this chain, submits them
        together in this order, and waits for every result (one per element, in order)."""
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
    # Transactions submitted (in all, and per chain), and those that failed as a whole.
    transactions: int = 0
    chain_transactions: dict[str, int] = field(default_factory=dict)
    failed_transactions: list[str] = field(default_factory=list)
    # Packets seen in flight at the start of the round, per sending chain.
    pending: dict[str, int] = field(default_factory=dict)
    # Their sequences (the lowest in flight, as many as the round read), per sending chain: a
    # relayer process measures relay latency from when a sequence appears to when it is gone.
    in_flight: dict[str, list[int]] = field(default_factory=dict)
    # Whether the round read every packet in flight (else those above the last in in_flight
    # were not looked at).
    in_flight_complete: dict[str, bool] = field(default_factory=dict)
    # Atomic duties: atomic.decide sweeps and atomic.settle transactions, per chain.
    decides: dict[str, int] = field(default_factory=dict)
    settles: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class ChainDelivery:
    """What ``deliver`` did on one chain."""

    chain_id: str
    updates: int = 0
    receives: int = 0
    acknowledgements: int = 0
    timeouts: int = 0
    outcomes: list[str] = field(default_factory=list)
    transactions: int = 0
    failed_transactions: list[str] = field(default_factory=list)
    decides: int = 0
    settles: int = 0


@dataclass(slots=True)
class _Batch:
    updates: list[interchain_pb2.ClientsUpdateArguments] = field(default_factory=list)
    receives: list[interchain_pb2.PacketsReceiveArguments] = field(default_factory=list)
    acknowledgements: list[interchain_pb2.PacketsAcknowledgeArguments] = field(default_factory=list)
    timeouts: list[interchain_pb2.PacketsTimeoutArguments] = field(default_factory=list)
    # Atomic duties, after the relay transactions (which hold the client update settles need).
    decide: bool = False
    settles: list[atomic_pb2.AtomicSettleArguments] = field(default_factory=list)

    def deliveries(self) -> int:
        return len(self.receives) + len(self.acknowledgements) + len(self.timeouts)


@dataclass(frozen=True, slots=True)
class RoundPlan:
    """A round read and planned: what each end's chain is to be sent (``Relayer.deliver``)."""

    report: RoundReport
    deliveries: tuple[tuple[LinkEnd, _Batch], ...]

    def finish(self, delivered: Sequence[ChainDelivery]) -> RoundReport:
        """The round's report, with what ``deliver`` did on each chain."""
        report = self.report
        for delivery in delivered:
            if not delivery.transactions:
                continue
            chain_id = delivery.chain_id
            report.updates[chain_id] = delivery.updates
            report.receives[chain_id] = delivery.receives
            report.acknowledgements[chain_id] = delivery.acknowledgements
            report.timeouts[chain_id] = delivery.timeouts
            report.outcomes[chain_id] = list(delivery.outcomes)
            report.transactions += delivery.transactions
            report.chain_transactions[chain_id] = delivery.transactions
            report.failed_transactions.extend(delivery.failed_transactions)
            if delivery.decides:
                report.decides[chain_id] = delivery.decides
            if delivery.settles:
                report.settles[chain_id] = delivery.settles
        return report


def _client(end: LinkEnd) -> interchain_pb2.ClientsGetResult:
    data = end.endpoint.query(
        "clients", "get", interchain_pb2.ClientsGetArguments(client_id=end.client_id)
    )
    return decode(interchain_pb2.ClientsGetResult, data, bytes_max=RESULT_BYTES_MAX)


def _in_flight_pages(end: LinkEnd, limit: int) -> Iterator[list[interchain_pb2.PacketRecord]]:
    """The packets the end sent that are in flight, lowest sequence first, up to ``limit``, in
    pages a read-only call's gas allows (read as they are asked for)."""
    found = 0
    start_after = 0
    while found < limit:
        page_size = min(IN_FLIGHT_PAGE_MAX, limit - found)
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
        page = list(decode(interchain_pb2.PacketsListResult, data, bytes_max=RESULT_BYTES_MAX).sent)
        if page:
            yield page
        found += len(page)
        if len(page) < page_size:
            return
        start_after = page[-1].packet.sequence


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


def _deliveries(
    arguments: interchain_pb2.PacketsRelayArguments | _Batch,
) -> list[tuple[str, Message]]:
    """The deliveries of a relay transaction or batch in order, each with its field's name."""
    return [
        *(("receives", item) for item in arguments.receives),
        *(("acknowledgements", item) for item in arguments.acknowledgements),
        *(("timeouts", item) for item in arguments.timeouts),
    ]


def _halves(
    arguments: interchain_pb2.PacketsRelayArguments,
) -> list[interchain_pb2.PacketsRelayArguments] | None:
    """The work of ``arguments`` in two transactions, or None when there is nothing to split:
    its updates apart from its deliveries when it has both (the deliveries are proven against
    the updates, so the updates must not be what fails), else its deliveries in two halves."""
    deliveries = _deliveries(arguments)
    if arguments.updates and deliveries:
        rest = interchain_pb2.PacketsRelayArguments()
        rest.CopyFrom(arguments)
        del rest.updates[:]
        return [interchain_pb2.PacketsRelayArguments(updates=arguments.updates), rest]
    if len(deliveries) < 2:
        return None
    first = interchain_pb2.PacketsRelayArguments()
    second = interchain_pb2.PacketsRelayArguments()
    middle = len(deliveries) // 2
    for index, (field_name, item) in enumerate(deliveries):
        getattr(first if index < middle else second, field_name).append(item)
    return [first, second]


class Relayer:
    """Relays on links, one round at a time (``relay_round``); holds nothing between rounds but
    its endpoints."""

    def __init__(
        self,
        *,
        batch_deliveries_max: int = RELAY_DELIVERIES_MAX,
        round_packets_max: int = ROUND_PACKETS_DEFAULT,
        settle_after_ms: int = SETTLE_AFTER_MS_DEFAULT,
        atomic_duties: bool = True,
    ) -> None:
        if batch_deliveries_max < 1 or round_packets_max < 1:
            raise ValueError(
                f"batch_deliveries_max {batch_deliveries_max} and round_packets_max "
                f"{round_packets_max} must be at least 1"
            )
        if settle_after_ms < 0:
            raise ValueError(f"settle_after_ms {settle_after_ms} must not be negative")
        self.batch_deliveries_max = min(batch_deliveries_max, RELAY_DELIVERIES_MAX)
        self.round_packets_max = min(round_packets_max, ROUND_PACKETS_MAX)
        self.settle_after_ms = settle_after_ms
        self.atomic_duties = atomic_duties

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

    def plan_updates(
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
        receive_space = max(0, self.round_packets_max - to_receiver.deliveries())
        answer_space = max(0, self.round_packets_max - to_sender.deliveries())
        receiver_time: int | None = None
        receives: list[interchain_pb2.PacketRecord] = []
        acknowledged: list[tuple[interchain_pb2.PacketRecord, interchain_pb2.Acknowledgement]] = []
        timed_out: list[interchain_pb2.PacketRecord] = []
        sequences: list[int] = []
        complete = True
        # Past the packets that wait for their acknowledgement (the lowest in flight, received
        # in the last round) to those that wait to be received: a round carries both, where a
        # window of the lowest alone would hold only the first kind every other round.
        scan_limit = IN_FLIGHT_SCAN_WINDOWS * self.round_packets_max
        for page in _in_flight_pages(sender, scan_limit):
            if receiver_time is None:
                receiver_time = receiver.endpoint.signed_header(receiver_proof_height)[0].time_ms
            sequences.extend(record.packet.sequence for record in page)
            receipts = _receipts(receiver, [record.packet.sequence for record in page])
            for record, receipt in zip(page, receipts, strict=True):
                if receipt is None:
                    if receiver_time >= record.packet.timeout_ms:
                        timed_out.append(record)
                    elif record.sent_height <= sender_proof_height:
                        receives.append(record)
                elif receipt.HasField("acknowledgement"):
                    acknowledged.append((record, receipt.acknowledgement))
            if (
                len(receives) >= receive_space
                and len(acknowledged) + len(timed_out) >= answer_space
            ):
                complete = False
                break
        else:
            complete = len(sequences) < scan_limit
        report.pending[sender.endpoint.chain_id] = len(sequences)
        report.in_flight[sender.endpoint.chain_id] = sequences
        report.in_flight_complete[sender.endpoint.chain_id] = complete
        if not sequences:
            return
        receives = receives[:receive_space]
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
        acknowledged = acknowledged[:answer_space]
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
        """The batch as relay transactions that each fit the chain's transaction size and gas
        limits (read from its configuration) and ``batch_deliveries_max``: the deliveries in
        order over as many as they need, the client updates in a transaction of their own before
        them (in the one transaction when everything fits in one)."""
        config = decode(
            types_pb2.ChainConfig,
            end.endpoint.query("config", "get", contracts_pb2.ConfigGetArguments()),
            bytes_max=RESULT_BYTES_MAX,
        )
        budget = config.transaction_bytes_max - TRANSACTION_OVERHEAD_BYTES
        # Gas as well as bytes: a first guess from a delivery's typical cost, corrected by
        # splitting a transaction that runs out of gas (_submit).
        per_transaction = min(
            self.batch_deliveries_max,
            max(1, config.transaction_gas_max // GAS_PER_DELIVERY_ESTIMATE),
        )
        transactions: list[interchain_pb2.PacketsRelayArguments] = []
        size = 0
        count = 0
        for field_name, item in _deliveries(batch):
            # A repeated field's element costs its size plus a tag and a length prefix.
            item_bytes = item.ByteSize() + DELIVERY_FRAMING_BYTES
            if not transactions or size + item_bytes > budget or count >= per_transaction:
                transactions.append(interchain_pb2.PacketsRelayArguments())
                size = 0
                count = 0
            getattr(transactions[-1], field_name).append(item)
            size += item_bytes
            count += 1
        if not batch.updates:
            return transactions
        updates = interchain_pb2.PacketsRelayArguments(updates=batch.updates)
        if len(transactions) == 1 and updates.ByteSize() + size <= budget:
            # Little to deliver: one transaction (the update first in it).
            transactions[0].updates.extend(batch.updates)
            return transactions
        # The update alone first, so that a delivery transaction that fails (out of gas, most
        # likely) never takes the update down with it, and the deliveries after it, submitted
        # with it, are proven against it.
        return [updates, *transactions]

    def deliver(self, end: LinkEnd, batch: _Batch) -> ChainDelivery:
        """Submits ``batch`` to ``end``'s chain: its relay transactions all at once, then again
        the halves of any that ran out of gas."""
        chain_id = end.endpoint.chain_id
        delivery = ChainDelivery(chain_id)
        if not batch.updates and not batch.deliveries() and not batch.decide and not batch.settles:
            return delivery
        queue = self._relay_arguments(end, batch)
        while queue:
            results = end.endpoint.submit_all("packets", "relay", queue)
            if len(results) != len(queue):
                raise RequestError(
                    f"chain {chain_id}: {len(queue)} transactions submitted, {len(results)} results"
                )
            delivery.transactions += len(queue)
            retry: list[interchain_pb2.PacketsRelayArguments] = []
            for arguments, result in zip(queue, results, strict=True):
                halves = _halves(arguments)
                if result.status == types_pb2.RESULT_STATUS_OUT_OF_GAS and halves is not None:
                    # The guess was too large for these deliveries: the same work in two.
                    retry.extend(halves)
                    continue
                if result.status != types_pb2.RESULT_STATUS_OK:
                    # The next round sees what is left afresh (a delivery proven against an
                    # update that failed, or one that another relayer made meanwhile).
                    delivery.failed_transactions.append(f"{chain_id}: {result.error}")
                    continue
                outcomes = decode(
                    interchain_pb2.PacketsRelayResult,
                    result.return_value,
                    bytes_max=RESULT_BYTES_MAX,
                ).outcomes
                delivery.updates += len(arguments.updates)
                delivery.receives += len(arguments.receives)
                delivery.acknowledgements += len(arguments.acknowledgements)
                delivery.timeouts += len(arguments.timeouts)
                delivery.outcomes.extend(outcomes)
            queue = retry
        self._submit_atomic(end, batch, delivery)
        return delivery

    # -- atomic transactions -----------------------------------------------------------------

    def _decide_due(self, hub_end: LinkEnd) -> bool:
        """Whether the chain's earliest open atomic transaction is past its deadline in the
        chain's latest block time (so atomic.decide would abort it)."""
        endpoint = hub_end.endpoint
        try:
            data = endpoint.query(
                ATOMIC_CONTRACT, "list", atomic_pb2.AtomicListArguments(open_only=True, limit=1)
            )
        except RequestError:
            return False  # no atomic contract on this chain
        records = decode(atomic_pb2.AtomicListResult, data, bytes_max=RESULT_BYTES_MAX).records
        if not records:
            return False
        now_ms = endpoint.signed_header(endpoint.latest_height())[0].time_ms
        return records[0].body.deadline_ms <= now_ms

    def _settles(
        self, hub_end: LinkEnd, participant: LinkEnd, proof_height: int
    ) -> list[atomic_pb2.AtomicSettleArguments]:
        """atomic.settle for each PREPARED leg ``participant`` holds for ``hub_end``'s chain
        whose decision exists at ``proof_height`` (a height of the hub the participant's client
        will hold) and was written at least settle_after_ms before the hub's latest block."""
        hub_chain_id = hub_end.endpoint.chain_id
        try:
            data = participant.endpoint.query(
                ATOMIC_CONTRACT,
                "prepared",
                atomic_pb2.AtomicPreparedArguments(
                    hub_chain_id=hub_chain_id, limit=ATOMIC_SETTLES_PER_ROUND_MAX
                ),
            )
        except RequestError:
            return []  # no atomic contract on the participant
        legs = decode(atomic_pb2.AtomicPreparedResult, data, bytes_max=RESULT_BYTES_MAX).records
        if not legs:
            return []
        hub = hub_end.endpoint
        now_ms = hub.signed_header(hub.latest_height())[0].time_ms
        transactions = list(dict.fromkeys(leg.transaction_id for leg in legs))
        proven = hub.prove(
            [atomic_decision_path(transaction) for transaction in transactions], proof_height
        )
        decisions = dict(zip(transactions, proven, strict=True))
        settles: list[atomic_pb2.AtomicSettleArguments] = []
        for leg in legs:
            value, proof = decisions[leg.transaction_id]
            if value is None:
                continue  # undecided, or decided after the proof height: a later round
            decision = decode(atomic_pb2.AtomicDecisionRecord, value, bytes_max=RESULT_BYTES_MAX)
            if decision.decided_time_ms + self.settle_after_ms > now_ms:
                continue  # the DECISION packet is still expected
            settles.append(
                atomic_pb2.AtomicSettleArguments(
                    hub_chain_id=hub_chain_id,
                    leg_index=leg.leg.index,
                    decision=decision,
                    proof_height=proof_height,
                    proof=proof,
                )
            )
        return settles

    def _plan_atomic(
        self,
        first: LinkEnd,
        second: LinkEnd,
        *,
        first_height: int,
        second_height: int,
        to_first: _Batch,
        to_second: _Batch,
    ) -> None:
        """Step 5 of the module docstring, each chain of the link taken as the hub in turn."""
        for hub_end, to_hub, participant, to_participant, height in (
            (first, to_first, second, to_second, first_height),
            (second, to_second, first, to_first, second_height),
        ):
            to_hub.decide = to_hub.decide or self._decide_due(hub_end)
            to_participant.settles.extend(self._settles(hub_end, participant, height))

    def _submit_atomic(self, end: LinkEnd, batch: _Batch, delivery: ChainDelivery) -> None:
        """The batch's atomic.decide sweep and atomic.settle transactions, after its relay
        transactions (whose client update the settles are proven against)."""
        chain_id = end.endpoint.chain_id
        if batch.decide:
            results = end.endpoint.submit_all(
                ATOMIC_CONTRACT, "decide", [atomic_pb2.AtomicDecideArguments()]
            )
            delivery.transactions += len(results)
            for result in results:
                if result.status == types_pb2.RESULT_STATUS_OK:
                    delivery.decides += 1
                else:
                    delivery.failed_transactions.append(f"{chain_id}: decide: {result.error}")
        if batch.settles:
            results = end.endpoint.submit_all(ATOMIC_CONTRACT, "settle", batch.settles)
            delivery.transactions += len(results)
            for result in results:
                if result.status == types_pb2.RESULT_STATUS_OK:
                    delivery.settles += 1
                else:
                    # Another relayer's settle or the DECISION packet may have been first; the
                    # next round reads the legs afresh.
                    delivery.failed_transactions.append(f"{chain_id}: settle: {result.error}")

    def plan_round(self, first: LinkEnd, second: LinkEnd) -> RoundPlan:
        """Reads both chains of the link between ``first`` and ``second`` (each naming its
        client of the other) and plans what each is to be sent."""
        report = RoundReport()
        first_client = _client(first)
        second_client = _client(second)
        # Deliveries to first are proven at a height of second that first's client will hold
        # once this round's update (if any) is in, and the reverse.
        second_height, first_updates = self.plan_updates(second.endpoint, first_client)
        first_height, second_updates = self.plan_updates(first.endpoint, second_client)
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
        if self.atomic_duties:
            self._plan_atomic(
                first,
                second,
                first_height=first_height,
                second_height=second_height,
                to_first=to_first,
                to_second=to_second,
            )
        # An update with nothing to deliver is worth a transaction only for a client growing old
        # (or for the settles proven against it).
        for end, batch, client in (
            (first, to_first, first_client),
            (second, to_second, second_client),
        ):
            if batch.updates and not batch.deliveries() and not batch.settles:
                now_ms = end.endpoint.signed_header(end.endpoint.latest_height())[0].time_ms
                if not self._refresh_due(client, now_ms):
                    batch.updates.clear()
        return RoundPlan(report=report, deliveries=((first, to_first), (second, to_second)))

    def relay_round(self, first: LinkEnd, second: LinkEnd) -> RoundReport:
        """One round on the link between ``first`` and ``second``: ``plan_round``, then
        ``deliver`` to each chain in turn."""
        plan = self.plan_round(first, second)
        return plan.finish([self.deliver(end, batch) for end, batch in plan.deliveries])

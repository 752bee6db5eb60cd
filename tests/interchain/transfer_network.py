"""Two real chains joined for transfer, for its tests: A (intl, tbft, 4 validators) and B (gm,
raft, 3 validators) on one clock, running every contract a node runs (CHAIN_CONTRACTS, so bank
and transfer as the package assembles them) and a driver contract (bank_chain.Driver); clients
of each other, port "transfer" bound on both, and a relayer between them.

B creates a spare client first, so that A's client of B (``client-0``) and B's client of A
(``client-1``) differ: a mix-up of the two ends shows.

``deliver`` plays the packets contract for a packet a test makes up (what a counterparty chain
that lies would send, its proofs taken as good): transfer's handler with transfer's own context,
inside a savepoint whose writes a RequestError rolls back into an error acknowledgement, as
``packets`` does. Everything else goes through the real packets contract and relayer.

``check_conservation`` is issue 8's invariant, read from the two chains' state only: per
denomination native to A, what A holds in the escrow of its client of B equals B's vouchers of
it outstanding plus what is in flight (sent, and neither arrived nor refunded).
"""

from __future__ import annotations

from dataclasses import dataclass

from bank_chain import DRIVER, Driver, assert_supply_is_sum_of_balances, balance, ok
from interchain_chain import Clock, Endpoint, InterchainChain
from link_support import bind_port, create_client_of, register_counterparty

from causeway.errors import RequestError
from causeway.execution import TransactionContext
from causeway.interchain import CHAIN_CONTRACTS, LinkEnd, Relayer, bank, keys, transfer
from causeway.interchain.v1 import interchain_pb2
from causeway.types import decode, encode
from causeway.types.v1 import types_pb2

A_CLIENT_OF_B = "client-0"
B_CLIENT_OF_A = "client-1"
ESCROW_A = bank.escrow_account("transfer", A_CLIENT_OF_B)
ESCROW_B = bank.escrow_account("transfer", B_CLIENT_OF_A)
GOLD_ON_B = f"transfer/{B_CLIENT_OF_A}/gold"
GOLD_ISSUED = 1_000
TIMEOUT_AFTER_MS = 600_000


# ---- a counterparty's packet, played ------------------------------------------------------------


def application(context: TransactionContext) -> TransactionContext:
    return context.enter(transfer.CONTRACT, transfer.NAMESPACE, ())


def deliver(
    chain: InterchainChain, driver: Driver, packet: interchain_pb2.Packet
) -> interchain_pb2.Acknowledgement:
    """Runs transfer's on_receive as the packets contract does; returns the acknowledgement."""
    acknowledgements: list[interchain_pb2.Acknowledgement | None] = []

    def body(context: TransactionContext) -> None:
        savepoint = context.savepoint()
        try:
            acknowledgement = transfer.HANDLER.on_receive(application(context), packet)
        except RequestError as error:
            context.rollback_to(savepoint)
            acknowledgement = interchain_pb2.Acknowledgement(success=False, error=error.message)
        else:
            context.release(savepoint)
        acknowledgements.append(acknowledgement)

    driver.body = body
    ok(chain.run("org1/relayer", DRIVER, "run"))
    (acknowledgement,) = acknowledgements
    assert acknowledgement is not None, "transfer acknowledges later only what it forwards"
    return acknowledgement


def incoming(
    denom: str,
    amount: int = 10,
    *,
    receiver: str = "org2/bob",
    sender: str = "org1/alice",
    source_client: str = A_CLIENT_OF_B,
    destination_client: str = B_CLIENT_OF_A,
    sequence: int = 1,
    memo: bytes = b"",
    value: bytes | None = None,
    **payload: str,
) -> interchain_pb2.Packet:
    """A packet as a counterparty would send it to transfer, with `payload` fields overridden."""
    data = interchain_pb2.TransferPacketData(
        denom=denom, amount=amount, sender=sender, receiver=receiver, memo=memo
    )
    fields = {
        "source_port": "transfer",
        "destination_port": "transfer",
        "version": "ics20-1",
        "encoding": "application/x-protobuf",
    }
    fields.update(payload)
    return interchain_pb2.Packet(
        source_client=source_client,
        destination_client=destination_client,
        sequence=sequence,
        timeout_ms=2_000_000_000_000,
        payload=interchain_pb2.Payload(value=encode(data) if value is None else value, **fields),
    )


def refused(acknowledgement: interchain_pb2.Acknowledgement, fragment: str) -> None:
    assert not acknowledgement.success
    assert fragment in acknowledgement.error, acknowledgement.error


def data_of(packet: interchain_pb2.Packet) -> interchain_pb2.TransferPacketData:
    return interchain_pb2.TransferPacketData.FromString(packet.payload.value)


# ---- two linked chains --------------------------------------------------------------------------


def _record(chain: InterchainChain, key: bytes, message_type: type) -> object | None:
    data = chain.state.get(keys.PACKETS_NAMESPACE + key)
    return None if data is None else decode(message_type, data, bytes_max=len(data))


@dataclass
class Network:
    a: InterchainChain
    b: InterchainChain
    driver: Driver

    def client_of(self, chain: InterchainChain) -> str:
        return A_CLIENT_OF_B if chain is self.a else B_CLIENT_OF_A

    def send(
        self,
        chain: InterchainChain,
        sender: str,
        denom: str,
        amount: int,
        receiver: str,
        *,
        timeout_after_ms: int = TIMEOUT_AFTER_MS,
        memo: bytes = b"",
    ) -> interchain_pb2.Packet:
        """transfer.send on `chain`; returns the packet as the sender recorded it."""
        client = self.client_of(chain)
        arguments = interchain_pb2.TransferSendArguments(
            source_client=client,
            denom=denom,
            amount=amount,
            receiver=receiver,
            timeout_ms=chain.time_ms + timeout_after_ms,
            memo=memo,
        )
        result = ok(chain.run(sender, "transfer", "send", arguments))
        sequence = interchain_pb2.TransferSendResult.FromString(result.return_value).sequence
        return self.sent(chain, sequence).packet

    def sent(self, chain: InterchainChain, sequence: int) -> interchain_pb2.PacketRecord:
        record = _record(
            chain, keys.sent_key(self.client_of(chain), sequence), interchain_pb2.PacketRecord
        )
        assert isinstance(record, interchain_pb2.PacketRecord)
        return record

    def received(
        self, chain: InterchainChain, sequence: int
    ) -> interchain_pb2.ReceiptRecord | None:
        return _received(chain, self.client_of(chain), sequence)

    def relay(self, rounds: int = 1) -> None:
        """Relayer rounds: the first receives what is in flight, the next acknowledges it."""
        for _ in range(rounds):
            Relayer().relay_round(
                LinkEnd(Endpoint(self.a), A_CLIENT_OF_B), LinkEnd(Endpoint(self.b), B_CLIENT_OF_A)
            )

    def acknowledgement_on_arrival(
        self, packet: interchain_pb2.Packet
    ) -> interchain_pb2.Acknowledgement:
        """The acknowledgement the receiving chain wrote for `packet`."""
        receiving = self.b if packet.source_client == A_CLIENT_OF_B else self.a
        record = self.received(receiving, packet.sequence)
        assert record is not None and record.HasField("acknowledgement")
        return record.acknowledgement

    def in_flight(self, sending: InterchainChain, denoms: tuple[str, ...]) -> int:
        receiving = self.b if sending is self.a else self.a
        return in_flight(
            sending, self.client_of(sending), receiving, self.client_of(receiving), denoms
        )


def _received(
    chain: InterchainChain, client: str, sequence: int
) -> interchain_pb2.ReceiptRecord | None:
    record = _record(chain, keys.received_key(client, sequence), interchain_pb2.ReceiptRecord)
    assert record is None or isinstance(record, interchain_pb2.ReceiptRecord)
    return record


def in_flight(
    sending: InterchainChain,
    sending_client: str,
    receiving: InterchainChain,
    receiving_client: str,
    denoms: tuple[str, ...],
) -> int:
    """What `sending` sent of `denoms` over `sending_client` that has neither arrived nor been
    refunded: its record is in flight, and the receiver has not received it or acknowledged it
    with an error (a receipt still waiting for its acknowledgement, as a hub's forwarding one
    does, has arrived: its tokens were paid)."""
    prefix = keys.PACKETS_NAMESPACE + keys.per_client_prefix(keys.SENT_PREFIX, sending_client)
    total = 0
    for key, value in sending.state.items():
        if not key.startswith(prefix):
            continue
        record = interchain_pb2.PacketRecord.FromString(value)
        data = data_of(record.packet)
        if record.state != "in_flight" or data.denom not in denoms:
            continue
        receipt = _received(receiving, receiving_client, record.packet.sequence)
        if receipt is None or (
            receipt.HasField("acknowledgement") and not receipt.acknowledgement.success
        ):
            total += data.amount
    return total


def check_link_conservation(
    home: InterchainChain,
    home_client: str,
    away: InterchainChain,
    away_client: str,
    denom: str,
) -> None:
    """Issue 8's invariant on one link, from state only: what `home` holds in the escrow of its
    client of `away` in `denom` (as `home` names it) equals `away`'s vouchers of it outstanding
    plus what is in flight either way; and on both chains every supply is the sum of its
    balances."""
    voucher = f"transfer/{away_client}/{denom}"
    escrowed = balance(home, bank.escrow_account("transfer", home_client), denom)
    outstanding = bank_supply(away, voucher)
    moving = in_flight(home, home_client, away, away_client, (denom,)) + in_flight(
        away, away_client, home, home_client, (voucher,)
    )
    assert escrowed == outstanding + moving, (escrowed, outstanding, moving)
    assert_supply_is_sum_of_balances(home.state)
    assert_supply_is_sum_of_balances(away.state)


def check_conservation(network: Network, denom: str = "gold") -> None:
    """Issue 8's invariant for A's native `denom` on the link from A to B."""
    check_link_conservation(network.a, A_CLIENT_OF_B, network.b, B_CLIENT_OF_A, denom)


def bank_supply(chain: InterchainChain, denom: str) -> int:
    result = ok(chain.query("bank", "supply", interchain_pb2.BankSupplyArguments(denom=denom)))
    return interchain_pb2.BankBalanceResult.FromString(result.return_value).amount


def build_network() -> Network:
    """A and B linked, port "transfer" bound on both, org1/alice holding 1000 gold native to A."""
    driver = Driver()
    contracts = {**CHAIN_CONTRACTS, DRIVER: driver.contract}
    clock = Clock()
    a = InterchainChain("chain-a", "intl", contracts=contracts, clock=clock)
    b = InterchainChain(
        "chain-b",
        "gm",
        consensus="raft",
        validators=3,
        organisations=3,
        contracts=contracts,
        clock=clock,
    )
    a.advance(1)
    b.advance(1)
    create_client_of(b, a)  # spare: B's client of A is then client-1
    assert create_client_of(a, b) == A_CLIENT_OF_B
    assert create_client_of(b, a) == B_CLIENT_OF_A
    register_counterparty(a, A_CLIENT_OF_B, B_CLIENT_OF_A)
    register_counterparty(b, B_CLIENT_OF_A, A_CLIENT_OF_B)
    for chain in (a, b):
        bind_port(chain, transfer.PORT, transfer.CONTRACT)
    issued = interchain_pb2.BankIssueArguments(
        denom="gold", account="org1/alice", amount=GOLD_ISSUED
    )
    ok(a.run("org1/admin", "bank", "issue", issued))
    return Network(a, b, driver)


def run_driver(
    network: Network, chain: InterchainChain, body: object
) -> types_pb2.TransactionResult:
    network.driver.body = body  # type: ignore[assignment]
    return chain.run("org1/alice", DRIVER, "run")

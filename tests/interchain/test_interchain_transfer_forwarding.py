"""Tokens forwarded through a hub: A (intl tbft) -> hub H (intl tbft) -> B (gm raft), each link
with its own clients and relayer, A and B registered members of H. The sender on A hears only
when B's answer has come back through H; conservation holds on each link at every step."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from bank_chain import DRIVER, Driver, balance, ok
from interchain_chain import Clock, Endpoint, InterchainChain
from link_support import bind_port, create_client_of, register_counterparty
from transfer_network import bank_supply, check_link_conservation, data_of, refused

from causeway.interchain import CHAIN_CONTRACTS, LinkEnd, Relayer, bank, keys, transfer
from causeway.interchain.v1 import interchain_pb2
from causeway.types import decode

# Client ids: A's of H, H's of A, H's of B, B's of H (H has a spare first, so ids differ).
A_OF_H = "client-0"
H_OF_A = "client-1"
H_OF_B = "client-2"
B_OF_H = "client-0"
GOLD_ON_H = f"transfer/{H_OF_A}/gold"
GOLD_ON_B = f"transfer/{B_OF_H}/{GOLD_ON_H}"
ESCROW_A = bank.escrow_account("transfer", A_OF_H)
ESCROW_H = bank.escrow_account("transfer", H_OF_B)


@dataclass
class Hubbed:
    a: InterchainChain
    h: InterchainChain
    b: InterchainChain
    driver: Driver

    def relay_a_h(self) -> None:
        Relayer().relay_round(LinkEnd(Endpoint(self.a), A_OF_H), LinkEnd(Endpoint(self.h), H_OF_A))

    def relay_h_b(self) -> None:
        Relayer().relay_round(LinkEnd(Endpoint(self.h), H_OF_B), LinkEnd(Endpoint(self.b), B_OF_H))

    def send(
        self, amount: int, memo: bytes, *, timeout_after_ms: int = 600_000
    ) -> interchain_pb2.Packet:
        arguments = interchain_pb2.TransferSendArguments(
            source_client=A_OF_H,
            denom="gold",
            amount=amount,
            receiver="org1/relayer",  # on the hub: not paid when the memo forwards
            timeout_ms=self.a.time_ms + timeout_after_ms,
            memo=memo,
        )
        result = ok(self.a.run("org1/alice", "transfer", "send", arguments))
        sequence = interchain_pb2.TransferSendResult.FromString(result.return_value).sequence
        return self.sent(self.a, A_OF_H, sequence).packet

    def sent(
        self, chain: InterchainChain, client: str, sequence: int
    ) -> interchain_pb2.PacketRecord:
        data = chain.state[keys.PACKETS_NAMESPACE + keys.sent_key(client, sequence)]
        return decode(interchain_pb2.PacketRecord, data, bytes_max=len(data))

    def receipt(
        self, chain: InterchainChain, client: str, sequence: int
    ) -> interchain_pb2.ReceiptRecord:
        data = chain.state[keys.PACKETS_NAMESPACE + keys.received_key(client, sequence)]
        return decode(interchain_pb2.ReceiptRecord, data, bytes_max=len(data))

    def check(self) -> None:
        check_link_conservation(self.a, A_OF_H, self.h, H_OF_A, "gold")
        check_link_conservation(self.h, H_OF_B, self.b, B_OF_H, GOLD_ON_H)
        # Nothing is left in the hub's forwarding account between transactions but what a
        # failed forward holds until its receipt is undone, in the same transaction.
        assert balance(self.h, transfer.FORWARDING_ACCOUNT, GOLD_ON_H) == 0


def register_member(hub: InterchainChain, chain: InterchainChain, client_id: str) -> None:
    member = interchain_pb2.MemberChain(
        chain_id=chain.chain_id,
        genesis_hash=chain.genesis_hash,
        crypto_profile=chain.profile_name,
        consensus=chain.consensus,
        validator_set=chain.blocks[chain.height].validator_set,
        endpoints=["127.0.0.1:7101"],
        client_id=client_id,
    )
    ok(hub.governance("hub", "register", interchain_pb2.HubRegisterArguments(member=member)))


@pytest.fixture
def hubbed() -> Hubbed:
    driver = Driver()
    contracts = {**CHAIN_CONTRACTS, DRIVER: driver.contract}
    clock = Clock()
    a = InterchainChain("chain-a", "intl", contracts=contracts, clock=clock)
    h = InterchainChain("hub", "intl", contracts=contracts, clock=clock)
    b = InterchainChain(
        "chain-b",
        "gm",
        consensus="raft",
        validators=3,
        organisations=3,
        contracts=contracts,
        clock=clock,
    )
    for chain in (a, h, b):
        chain.advance(1)
    create_client_of(h, b)  # spare: H's ids of A and B are then client-1 and client-2
    assert create_client_of(a, h) == A_OF_H
    assert create_client_of(h, a) == H_OF_A
    assert create_client_of(h, b) == H_OF_B
    assert create_client_of(b, h) == B_OF_H
    register_counterparty(a, A_OF_H, H_OF_A)
    register_counterparty(h, H_OF_A, A_OF_H)
    register_counterparty(h, H_OF_B, B_OF_H)
    register_counterparty(b, B_OF_H, H_OF_B)
    register_member(h, a, H_OF_A)
    register_member(h, b, H_OF_B)
    for chain in (a, h, b):
        bind_port(chain, transfer.PORT, transfer.CONTRACT)
    issued = interchain_pb2.BankIssueArguments(denom="gold", account="org1/alice", amount=1_000)
    ok(a.run("org1/admin", "bank", "issue", issued))
    return Hubbed(a, h, b, driver)


def to_b(hubbed: Hubbed, receiver: str = "org2/bob", timeout_after_ms: int = 600_000) -> bytes:
    return transfer.forward_memo("chain-b", receiver, hubbed.b.time_ms + timeout_after_ms)


def test_tokens_pass_through_the_hub_and_the_sender_hears_when_the_far_end_answers(
    hubbed: Hubbed,
) -> None:
    packet = hubbed.send(40, to_b(hubbed))
    hubbed.check()
    hubbed.relay_a_h()  # H receives, holds its answer, and sends on to B
    receipt = hubbed.receipt(hubbed.h, H_OF_A, packet.sequence)
    assert not receipt.HasField("acknowledgement")
    assert balance(hubbed.h, "org1/relayer", GOLD_ON_H) == 0
    assert balance(hubbed.h, ESCROW_H, GOLD_ON_H) == 40
    onward = hubbed.sent(hubbed.h, H_OF_B, 1)
    assert data_of(onward.packet) == interchain_pb2.TransferPacketData(
        denom=GOLD_ON_H, amount=40, sender=transfer.FORWARDING_ACCOUNT, receiver="org2/bob"
    )
    hubbed.check()
    hubbed.relay_a_h()  # nothing for A yet
    assert hubbed.sent(hubbed.a, A_OF_H, 1).state == "in_flight"
    hubbed.relay_h_b()  # B receives
    assert balance(hubbed.b, "org2/bob", GOLD_ON_B) == 40
    hubbed.check()
    hubbed.relay_h_b()  # H hears B's success and answers A's packet
    assert hubbed.sent(hubbed.h, H_OF_B, 1).state == "acknowledged"
    assert hubbed.receipt(hubbed.h, H_OF_A, 1).acknowledgement.success
    assert keys.TRANSFER_NAMESPACE + keys.forward_key(H_OF_B, 1) not in hubbed.h.state
    hubbed.relay_a_h()
    assert hubbed.sent(hubbed.a, A_OF_H, 1).state == "acknowledged"
    assert balance(hubbed.a, "org1/alice", "gold") == 960
    hubbed.check()


def test_a_forward_the_far_chain_refuses_refunds_the_original_sender(hubbed: Hubbed) -> None:
    # B's voucher supply is full (filled by hand for the test): B refuses the forwarded tokens.
    hubbed.driver.body = lambda context: bank.mint(
        context, "org2/admin", GOLD_ON_B, bank.AMOUNT_MAX
    )
    ok(hubbed.b.run("org2/admin", DRIVER, "run"))
    hubbed.send(40, to_b(hubbed))
    hubbed.relay_a_h()
    hubbed.relay_h_b()  # B refuses
    hubbed.relay_h_b()  # H refunds the forwarding, undoes its receipt, answers A with the error
    answer = hubbed.receipt(hubbed.h, H_OF_A, 1).acknowledgement
    refused(answer, f"forwarded on {H_OF_B}/1: ")
    assert "past 2^64-1" in answer.error
    assert bank_supply(hubbed.h, GOLD_ON_H) == 0
    assert balance(hubbed.h, ESCROW_H, GOLD_ON_H) == 0
    hubbed.relay_a_h()
    assert balance(hubbed.a, "org1/alice", "gold") == 1_000
    assert balance(hubbed.a, ESCROW_A, "gold") == 0
    check_link_conservation(hubbed.a, A_OF_H, hubbed.h, H_OF_A, "gold")


def test_a_forward_that_times_out_refunds_the_original_sender(hubbed: Hubbed) -> None:
    hubbed.send(40, to_b(hubbed, timeout_after_ms=5_000))
    hubbed.relay_a_h()
    hubbed.check()
    hubbed.b.advance(10)  # B's time passes the forwarded packet's timeout
    hubbed.relay_h_b()
    assert hubbed.sent(hubbed.h, H_OF_B, 1).state == "timed_out"
    refused(hubbed.receipt(hubbed.h, H_OF_A, 1).acknowledgement, "timed out")
    hubbed.check()
    hubbed.relay_a_h()
    assert hubbed.sent(hubbed.a, A_OF_H, 1).state == "acknowledged"
    assert balance(hubbed.a, "org1/alice", "gold") == 1_000
    hubbed.check()


@pytest.mark.parametrize(
    ("memo", "fragment"),
    [
        (transfer.forward_memo("chain-x", "org2/bob", 2_000_000_000_000), "not a member"),
        (transfer.forward_memo("chain-a", "org2/bob", 2_000_000_000_000), "the packet came from"),
        (transfer.forward_memo("", "org2/bob", 2_000_000_000_000), "names no chain"),
        (transfer.forward_memo("chain-b", "bob smith", 2_000_000_000_000), "visible ASCII"),
        (transfer.forward_memo("chain-b", "org2/bob", 1), "timeout 1 ms is not after"),
        (transfer.FORWARD_MEMO_PREFIX + b"\xff", "not a valid TransferForward"),
    ],
)
def test_a_forward_the_hub_cannot_make_is_refused_at_once_and_refunded(
    hubbed: Hubbed, memo: bytes, fragment: str
) -> None:
    hubbed.send(40, memo)
    hubbed.relay_a_h()
    refused(hubbed.receipt(hubbed.h, H_OF_A, 1).acknowledgement, fragment)
    assert bank_supply(hubbed.h, GOLD_ON_H) == 0
    assert hubbed.h.state.get(keys.PACKETS_NAMESPACE + keys.sent_key(H_OF_B, 1)) is None
    hubbed.relay_a_h()
    assert balance(hubbed.a, "org1/alice", "gold") == 1_000


def test_a_memo_that_does_not_ask_for_forwarding_pays_the_receiver_on_the_hub(
    hubbed: Hubbed,
) -> None:
    hubbed.send(40, b"forward to chain-b, please")
    hubbed.relay_a_h()
    assert hubbed.receipt(hubbed.h, H_OF_A, 1).acknowledgement.success
    assert balance(hubbed.h, "org1/relayer", GOLD_ON_H) == 40
    hubbed.check()

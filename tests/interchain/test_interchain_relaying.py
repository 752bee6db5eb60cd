"""The relayer's round: work found in the chains' state, no memory needed, harmless in numbers,
following validator-set changes and keeping quiet clients alive."""

from __future__ import annotations

import pytest
from interchain_chain import Endpoint, check_ok
from link_support import TRUSTING_PERIOD_MS, Link, build_link

from causeway.contracts.v1 import contracts_pb2
from causeway.interchain import LinkEnd, Relayer, keys
from causeway.interchain.relaying import REFRESH_AFTER_TRUSTING_PERIOD_SHARE
from causeway.interchain.v1 import interchain_pb2
from causeway.types import decode
from causeway.types.v1 import types_pb2


def states(link: Link) -> list[str]:
    listed = interchain_pb2.PacketsListResult.FromString(
        check_ok(
            link.a.query(
                "packets",
                "list",
                interchain_pb2.PacketsListArguments(side="sent", client_id=link.a_client),
            )
        ).return_value
    )
    return [record.state for record in listed.sent]


def client_height(link: Link, *, on_b: bool) -> int:
    chain, client_id = (link.b, link.b_client) if on_b else (link.a, link.a_client)
    result = check_ok(
        chain.query("clients", "get", interchain_pb2.ClientsGetArguments(client_id=client_id))
    )
    return interchain_pb2.ClientsGetResult.FromString(result.return_value).client.latest_height


def test_packets_both_ways_in_the_same_rounds() -> None:
    link = build_link()
    link.send(b"to b")
    link.send(b"to a", from_b=True)
    first = Relayer().relay_round(link.a_end, link.b_end)
    assert first.receives == {"chain-a": 1, "chain-b": 1}
    assert first.pending == {"chain-a": 1, "chain-b": 1}
    second = Relayer().relay_round(link.a_end, link.b_end)
    assert second.acknowledgements == {"chain-a": 1, "chain-b": 1}
    assert states(link) == ["acknowledged"]
    assert b"echo/acknowledged/" + b"%020d" % 1 in link.b.state


def test_racing_relayers_deliver_each_packet_once() -> None:
    link = build_link()
    for value in (b"one", b"two", b"three"):
        link.send(value)
    # A second relayer, with its own member and its own view of both chains.
    for chain in (link.a, link.b):
        identity = chain.new_identity("org2/relayer", (types_pb2.ROLE_CLIENT,))
        check_ok(
            chain.governance(
                "membership",
                "add_member",
                contracts_pb2.MembershipAddMemberArguments(member=identity.member),
            )
        )
    other_a, other_b = Endpoint(link.a, "org2/relayer"), Endpoint(link.b, "org2/relayer")
    # Both plan from the same state before either submits: the second relayer's deliveries
    # land after the first's, as no-ops.
    first_b = link.b_endpoint.submitted
    Relayer().relay_round(link.a_end, link.b_end)
    report = Relayer().relay_round(LinkEnd(other_a, link.a_client), LinkEnd(other_b, link.b_client))
    assert len(first_b) == 1
    # The second relayer found the packets received (a's commitments stay until acknowledged):
    # it acknowledges on a instead. Run both again: nothing is delivered twice.
    assert report.acknowledgements.get("chain-a") == 3
    assert states(link) == ["acknowledged"] * 3
    for _ in range(2):
        Relayer().relay_round(link.a_end, link.b_end)
        Relayer().relay_round(LinkEnd(other_a, link.a_client), LinkEnd(other_b, link.b_client))
    received = [
        key for key in link.b.state if key.startswith(keys.PACKETS_NAMESPACE + keys.RECEIPT_PREFIX)
    ]
    assert len(received) == 3


def test_the_same_deliveries_from_two_relayers_are_no_ops_for_the_second() -> None:
    link = build_link()
    link.send(b"once")
    # Two relayers plan the same receive; the chain takes the first, the second is a no-op.
    relayer = Relayer()
    planned: list[interchain_pb2.PacketsRelayArguments] = []

    class Recording(Endpoint):
        def submit_all(self, contract, method, arguments):  # type: ignore[no-untyped-def]
            planned.extend(arguments)
            return super().submit_all(contract, method, arguments)

    relayer.relay_round(link.a_end, LinkEnd(Recording(link.b), link.b_client))
    (batch,) = planned
    duplicate = interchain_pb2.PacketsRelayArguments(receives=batch.receives)
    result = check_ok(link.b.run("org1/relayer", "packets", "relay", duplicate))
    assert list(interchain_pb2.PacketsRelayResult.FromString(result.return_value).outcomes) == [
        "noop"
    ]


def test_a_relayer_that_restarts_finds_its_work_in_the_chains() -> None:
    link = build_link()
    link.send(b"work")
    Relayer().relay_round(link.a_end, link.b_end)  # received; then the relayer "crashes"
    fresh = Relayer()  # nothing carried over
    report = fresh.relay_round(
        LinkEnd(Endpoint(link.a), link.a_client), LinkEnd(Endpoint(link.b), link.b_client)
    )
    assert report.acknowledgements == {"chain-a": 1}
    assert states(link) == ["acknowledged"]


def test_a_round_is_bounded_and_the_rest_goes_next_round() -> None:
    link = build_link()
    for value in range(5):
        link.send(b"%d" % value)
    relayer = Relayer(round_packets_max=2)
    report = relayer.relay_round(link.a_end, link.b_end)
    assert report.receives == {"chain-b": 2}
    for _ in range(6):
        relayer.relay_round(link.a_end, link.b_end)
    assert states(link) == ["acknowledged"] * 5


def test_a_round_larger_than_a_transaction_goes_in_several_submitted_together() -> None:
    link = build_link()
    for value in range(5):
        link.send(b"%d" % value)
    submissions: list[list[interchain_pb2.PacketsRelayArguments]] = []

    class Recording(Endpoint):
        def submit_all(self, contract, method, arguments):  # type: ignore[no-untyped-def]
            submissions.append(list(arguments))
            return super().submit_all(contract, method, arguments)

    relayer = Relayer(batch_deliveries_max=2)
    report = relayer.relay_round(link.a_end, LinkEnd(Recording(link.b), link.b_client))
    assert report.receives == {"chain-b": 5}
    assert report.transactions == 4
    # One call: the update alone first, the deliveries two by two after it.
    (transactions,) = submissions
    assert [len(item.updates) for item in transactions] == [1, 0, 0, 0]
    assert [len(item.receives) for item in transactions] == [0, 2, 2, 1]
    relayer.relay_round(link.a_end, link.b_end)
    relayer.relay_round(link.a_end, link.b_end)
    assert states(link) == ["acknowledged"] * 5


def test_a_round_receives_beyond_the_packets_that_wait_for_their_acknowledgement() -> None:
    link = build_link()
    for value in range(4):
        link.send(b"%d" % value)
    relayer = Relayer(round_packets_max=2)
    first = relayer.relay_round(link.a_end, link.b_end)
    assert first.receives == {"chain-b": 2}
    # The two lowest wait for their acknowledgement; the round reads on past them and
    # receives the next two as well.
    second = relayer.relay_round(link.a_end, link.b_end)
    assert second.acknowledgements == {"chain-a": 2, "chain-b": 0}
    assert second.receives == {"chain-a": 0, "chain-b": 2}
    assert second.in_flight == {"chain-a": [1, 2, 3, 4], "chain-b": []}
    assert second.in_flight_complete == {"chain-a": False, "chain-b": True}
    assert second.chain_transactions == {"chain-a": 1, "chain-b": 1}
    relayer.relay_round(link.a_end, link.b_end)
    assert states(link) == ["acknowledged"] * 4


def test_a_failed_transaction_of_a_round_does_not_stop_the_others() -> None:
    link = build_link()
    for value in range(4):
        link.send(b"%d" % value)

    class FailingSecond(Endpoint):
        def submit_all(self, contract, method, arguments):  # type: ignore[no-untyped-def]
            results = super().submit_all(contract, method, arguments[:1])
            # The second transaction is "refused by the chain": as if another relayer had
            # delivered something it held in a way that failed it as a whole.
            failed = types_pb2.TransactionResult(
                status=types_pb2.RESULT_STATUS_INVALID_ARGUMENT, error="refused for the test"
            )
            return [*results, failed, *super().submit_all(contract, method, arguments[2:])]

    relayer = Relayer(batch_deliveries_max=1)
    report = relayer.relay_round(link.a_end, LinkEnd(FailingSecond(link.b), link.b_client))
    assert report.receives == {"chain-b": 3}
    assert report.failed_transactions == ["chain-b: refused for the test"]
    # The next rounds carry the one left behind.
    for _ in range(3):
        relayer.relay_round(link.a_end, link.b_end)
    assert states(link) == ["acknowledged"] * 4


def test_a_round_that_fits_one_transaction_sends_the_update_with_the_deliveries() -> None:
    link = build_link()
    link.send(b"one")
    report = Relayer().relay_round(link.a_end, link.b_end)
    assert report.transactions == 1
    assert report.updates == {"chain-b": 1}
    assert report.receives == {"chain-b": 1}


def test_bounds_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Relayer(batch_deliveries_max=0)
    with pytest.raises(ValueError, match="at least 1"):
        Relayer(round_packets_max=0)


def test_a_validator_set_change_is_crossed_height_by_height() -> None:
    link = build_link()
    # Chain a replaces two of its four validators: the set b's client trusts cannot vouch for
    # a's newest header directly (half of it signs), so the relayer steps through the change.
    for member_id in ("org3/node5", "org4/node6"):
        identity = link.a.new_identity(member_id, (types_pb2.ROLE_CONSENSUS,))
        check_ok(
            link.a.governance(
                "membership",
                "add_member",
                contracts_pb2.MembershipAddMemberArguments(member=identity.member),
            )
        )
    check_ok(
        link.a.governance(
            "validators",
            "update",
            contracts_pb2.ValidatorsUpdateArguments(
                updates=[
                    contracts_pb2.ValidatorPowerUpdate(member_id="org3/node3", voting_power=0),
                    contracts_pb2.ValidatorPowerUpdate(member_id="org4/node4", voting_power=0),
                    contracts_pb2.ValidatorPowerUpdate(member_id="org3/node5", voting_power=10),
                    contracts_pb2.ValidatorPowerUpdate(member_id="org4/node6", voting_power=10),
                ]
            ),
        )
    )
    link.a.advance(3)
    link.send(b"after the change")
    report = Relayer().relay_round(link.a_end, link.b_end)
    assert report.outcomes["chain-b"] == ["done"]
    # Two updates step across the change (to the height before it, then adjacent to it), the
    # third goes on to the newest height, where the packet is proven.
    assert report.updates["chain-b"] == 3
    assert client_height(link, on_b=True) == link.a.height


def test_a_quiet_client_is_refreshed_before_it_expires_and_not_before_it_is_due() -> None:
    link = build_link()
    before = client_height(link, on_b=True)
    Relayer().relay_round(link.a_end, link.b_end)
    assert client_height(link, on_b=True) == before  # nothing to do, nothing spent
    assert link.b_endpoint.submitted == []
    due_ms = int(TRUSTING_PERIOD_MS * REFRESH_AFTER_TRUSTING_PERIOD_SHARE)
    link.a.advance(1, interval_ms=due_ms)
    link.b.advance(1)
    newest = link.a.height
    report = Relayer().relay_round(link.a_end, link.b_end)
    assert report.updates.get("chain-b") == 1
    assert report.outcomes["chain-b"] == []
    assert client_height(link, on_b=True) == newest


def test_a_height_whose_certificate_holds_too_little_is_not_proven_at() -> None:
    link = build_link()
    link.send(b"x")
    weak_height = link.a.height + 1
    link.a.advance(1)

    class MajorityOnly(Endpoint):
        """A node whose newest block carries a certificate of a bare majority (3 of 4 holds
        more than two thirds; 2 of 4 does not)."""

        def signed_header(self, height):  # type: ignore[no-untyped-def]
            header, certificate = super().signed_header(height)
            if height == weak_height:
                certificate = self.chain.certificate(height, self.chain.validator_ids[:2])
            return header, certificate

    report = Relayer().relay_round(LinkEnd(MajorityOnly(link.a), link.a_client), link.b_end)
    assert report.outcomes["chain-b"] == ["done"]
    assert client_height(link, on_b=True) == weak_height - 1


def test_the_relayer_reads_the_acknowledgement_from_the_receiver() -> None:
    link = build_link()
    link.send(b"ack me")
    Relayer().relay_round(link.a_end, link.b_end)
    Relayer().relay_round(link.a_end, link.b_end)
    data = link.a.state[keys.PACKETS_NAMESPACE + keys.sent_key(link.a_client, 1)]
    record = decode(interchain_pb2.PacketRecord, data, bytes_max=len(data))
    assert record.acknowledgement.result == b"echo:ack me"


def test_a_batch_larger_than_the_chain_takes_goes_in_several_transactions() -> None:
    link = build_link()
    config = types_pb2.ChainConfig()
    config.CopyFrom(link.b.genesis.config)
    config.transaction_bytes_max = 8_192
    check_ok(
        link.b.governance("config", "update", contracts_pb2.ConfigUpdateArguments(config=config))
    )
    for value in range(30):
        link.send(b"%d" % value)
    report = Relayer().relay_round(link.a_end, link.b_end)
    assert report.receives == {"chain-b": 30}
    assert report.outcomes["chain-b"] == ["done"] * 30
    relays = link.b_endpoint.submitted
    assert len(relays) >= 3
    assert all(result.status == types_pb2.RESULT_STATUS_OK for result in relays)
    # The client update rides in the first transaction only.
    assert report.updates == {"chain-b": 1}
    link.relay()
    assert states(link) == ["acknowledged"] * 30


def test_a_relay_transaction_that_runs_out_of_gas_is_split_and_sent_again() -> None:
    link = build_link()
    config = types_pb2.ChainConfig()
    config.CopyFrom(link.a.genesis.config)
    # Ten acknowledgements and an update of a's client of the gm chain cost about 210,000 gas:
    # the relayer's first guess (gas limit / GAS_PER_DELIVERY_ESTIMATE deliveries) is too many.
    config.transaction_gas_max = 160_000
    check_ok(
        link.a.governance("config", "update", contracts_pb2.ConfigUpdateArguments(config=config))
    )
    for value in range(10):
        link.send(b"%d" % value)
    link.relay()  # received on b
    report = Relayer().relay_round(link.a_end, link.b_end)
    statuses = [result.status for result in link.a_endpoint.submitted]
    assert statuses[0] == types_pb2.RESULT_STATUS_OUT_OF_GAS
    assert statuses[-1] == types_pb2.RESULT_STATUS_OK
    assert report.acknowledgements == {"chain-a": 10}
    assert report.failed_transactions == []
    assert states(link) == ["acknowledged"] * 10


def test_in_flight_packets_are_listed_from_their_commitments_in_pages() -> None:
    link = build_link()
    for value in range(70):
        link.send(b"%d" % value)
    # 70 in flight: more than a page (IN_FLIGHT_PAGE_MAX); the relayer reads them all.
    report = Relayer().relay_round(link.a_end, link.b_end)
    assert report.pending == {"chain-a": 70, "chain-b": 0}
    assert report.receives == {"chain-b": 70}
    link.relay()
    page = interchain_pb2.PacketsListResult.FromString(
        check_ok(
            link.a.query(
                "packets",
                "list",
                interchain_pb2.PacketsListArguments(
                    side="sent", client_id=link.a_client, in_flight_only=True, limit=10
                ),
            )
        ).return_value
    )
    assert list(page.sent) == []
    link.send(b"late one")
    link.send(b"late two")
    second_page = interchain_pb2.PacketsListResult.FromString(
        check_ok(
            link.a.query(
                "packets",
                "list",
                interchain_pb2.PacketsListArguments(
                    side="sent", client_id=link.a_client, in_flight_only=True, start_after=71
                ),
            )
        ).return_value
    )
    assert [record.packet.sequence for record in second_page.sent] == [72]

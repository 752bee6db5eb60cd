"""Packets between two real chains (intl tbft and gm raft): sent, proven, received once,
acknowledged or timed out exactly once, whatever relayers bring."""

from __future__ import annotations

import pytest
from clients_support import forged_header
from interchain_chain import check_ok
from link_support import (
    ECHO,
    ECHO_PORT,
    LINK_CONTRACTS,
    PORTS,
    REFUSED_VALUE,
    Link,
    build_link,
)

from causeway.errors import InvariantError
from causeway.execution import Contract
from causeway.interchain import Port, keys
from causeway.interchain.clients import CLIENTS
from causeway.interchain.packets import (
    PACKET_COMMITMENT_DOMAIN,
    PAYLOAD_VALUE_BYTES_MAX,
    RELAY_DELIVERIES_MAX,
    RELAY_UPDATES_MAX,
    TIMEOUT_AHEAD_MAX_MS,
    acknowledgement_commitment,
    packet_commitment,
    packets_contract,
)
from causeway.interchain.v1 import interchain_pb2
from causeway.types import decode
from causeway.types.v1 import types_pb2


@pytest.fixture
def link() -> Link:
    return build_link()


def status(result: types_pb2.TransactionResult) -> str:
    return types_pb2.ResultStatus.Name(result.status).removeprefix("RESULT_STATUS_")


def relay(
    link: Link, arguments: interchain_pb2.PacketsRelayArguments, *, to_b: bool = True
) -> types_pb2.TransactionResult:
    chain = link.b if to_b else link.a
    return chain.run("org1/relayer", "packets", "relay", arguments)


def outcomes(result: types_pb2.TransactionResult) -> list[str]:
    assert status(result) == "OK", result.error
    return list(interchain_pb2.PacketsRelayResult.FromString(result.return_value).outcomes)


def sent_record(link: Link, sequence: int) -> interchain_pb2.PacketRecord:
    data = link.a.state[keys.PACKETS_NAMESPACE + keys.sent_key(link.a_client, sequence)]
    return decode(interchain_pb2.PacketRecord, data, bytes_max=len(data))


def commitment_present(link: Link, sequence: int) -> bool:
    return keys.commitment_path(link.a_client, sequence) in link.a.state


def receive_arguments(
    link: Link, packet: interchain_pb2.Packet, height: int | None = None
) -> interchain_pb2.PacketsRelayArguments:
    """Updates b's client of a to a's latest height and receives ``packet`` proven there."""
    height = link.a.height if height is None else height
    client = decode_client(link, on_b=True)
    updates = []
    if height > client.client.latest_height:
        updates.append(
            interchain_pb2.ClientsUpdateArguments(
                client_id=link.b_client,
                header=link.a.client_header(height, trusted_height=client.client.latest_height),
            )
        )
    return interchain_pb2.PacketsRelayArguments(
        updates=updates,
        receives=[
            interchain_pb2.PacketsReceiveArguments(
                packet=packet,
                proof=link.a.prove(
                    keys.commitment_path(packet.source_client, packet.sequence), height
                ),
                proof_height=height,
            )
        ],
    )


def decode_client(link: Link, *, on_b: bool) -> interchain_pb2.ClientsGetResult:
    chain, client_id = (link.b, link.b_client) if on_b else (link.a, link.a_client)
    result = check_ok(
        chain.query("clients", "get", interchain_pb2.ClientsGetArguments(client_id=client_id))
    )
    return interchain_pb2.ClientsGetResult.FromString(result.return_value)


# -- the life of a packet -----------------------------------------------------------------------


def test_a_packet_is_sent_received_and_acknowledged_once(link: Link) -> None:
    packet = link.send(b"hello")
    assert packet.sequence == 1
    assert packet.source_client == link.a_client
    assert packet.destination_client == link.b_client
    # The commitment is the packet's hash in the sender's profile; the record keeps the data.
    commitment = link.a.state[keys.commitment_path(link.a_client, 1)]
    assert commitment == packet_commitment(packet, link.a.profile.hash)
    assert sent_record(link, 1).state == "in_flight"

    link.relay()  # receive on b
    assert link.b.state[b"echo/received/" + b"%020d" % 1] == b"hello"
    acknowledgement = interchain_pb2.Acknowledgement(success=True, result=b"echo:hello")
    # The acknowledgement's commitment uses the receiver's (gm: SM3) hash.
    assert link.b.state[keys.acknowledgement_path(link.b_client, 1)] == (
        acknowledgement_commitment(acknowledgement, link.b.profile.hash)
    )
    assert keys.receipt_path(link.b_client, 1) in link.b.state
    assert commitment_present(link, 1)

    link.relay()  # acknowledge on a
    assert not commitment_present(link, 1)
    record = sent_record(link, 1)
    assert record.state == "acknowledged"
    assert record.acknowledgement == acknowledgement
    assert link.a.state[b"echo/acknowledged/" + b"%020d" % 1] == acknowledgement.SerializeToString()
    # Nothing more to do: a further round submits nothing.
    before = len(link.a_endpoint.submitted) + len(link.b_endpoint.submitted)
    link.relay()
    assert len(link.a_endpoint.submitted) + len(link.b_endpoint.submitted) == before


def test_sequences_count_per_source_client_from_one(link: Link) -> None:
    assert [link.send(b"%d" % n).sequence for n in range(3)] == [1, 2, 3]
    assert link.send(b"back", from_b=True).sequence == 1


def test_a_second_delivery_of_a_received_packet_is_a_noop(link: Link) -> None:
    packet = link.send(b"twice")
    arguments = receive_arguments(link, packet)
    assert outcomes(relay(link, arguments)) == ["done"]
    again = interchain_pb2.PacketsRelayArguments(receives=arguments.receives)
    result = relay(link, again)
    assert outcomes(result) == ["noop"]
    assert [event.name for event in result.events] == []


def test_a_refusing_application_reverts_its_writes_keeps_the_receipt_and_acknowledges_the_error(
    link: Link,
) -> None:
    link.send(REFUSED_VALUE)
    link.relay()
    # The handler wrote before refusing: reverted. The receipt stays.
    assert b"echo/received/" + b"%020d" % 1 not in link.b.state
    assert keys.receipt_path(link.b_client, 1) in link.b.state
    link.relay()
    record = sent_record(link, 1)
    assert record.state == "acknowledged"
    assert not record.acknowledgement.success
    assert record.acknowledgement.error == "echo refuses this value"


def test_a_packet_to_an_unbound_port_is_acknowledged_with_an_error(link: Link) -> None:
    link.send(b"nobody", destination_port="nobody")
    link.relay()
    link.relay()
    record = sent_record(link, 1)
    assert not record.acknowledgement.success
    assert record.acknowledgement.error == "no application is bound to port 'nobody'"


def test_an_asynchronous_acknowledgement_is_written_later_by_the_port_contract(link: Link) -> None:
    packet = link.send(b"later")
    link.relay()
    received = link.b.state[keys.PACKETS_NAMESPACE + keys.received_key(link.b_client, 1)]
    assert not interchain_pb2.ReceiptRecord.FromString(received).HasField("acknowledgement")
    assert keys.acknowledgement_path(link.b_client, 1) not in link.b.state
    link.relay()
    assert commitment_present(link, 1)  # nothing to acknowledge yet
    check_ok(link.b.run("org1/alice", "echo", "acknowledge_later", packet))
    second = link.b.run("org1/alice", "echo", "acknowledge_later", packet)
    assert status(second) == "CONFLICT"
    assert "is acknowledged already" in second.error
    link.relay()
    assert sent_record(link, 1).acknowledgement.result == b"late"


# -- timeouts -------------------------------------------------------------------------------------


def test_a_packet_not_received_before_its_timeout_times_out_once(link: Link) -> None:
    packet = link.send(b"slow", timeout_after_ms=5_000)
    link.b.advance(10)  # the receiver's time passes the timeout, nobody relays
    late = relay(link, receive_arguments(link, packet))
    assert outcomes(late) == [
        f"failed: packet {link.a_client}/1 timed out at {packet.timeout_ms} ms; this block is at "
        f"{link.b.time_ms} ms (the sender may time it out)"
    ]
    assert keys.receipt_path(link.b_client, 1) not in link.b.state
    link.relay()
    record = sent_record(link, 1)
    assert record.state == "timed_out"
    assert not commitment_present(link, 1)
    assert link.a.state[b"echo/timed_out/" + b"%020d" % 1] == b"slow"
    # Ended: a late receive on b is refused, and a timeout again is a no-op.
    link.relay()
    assert sent_record(link, 1).state == "timed_out"


def test_a_timeout_needs_a_proof_height_at_or_past_the_timeout(link: Link) -> None:
    packet = link.send(b"slow", timeout_after_ms=5_000)
    # A proof of absence from before the timeout proves nothing about after it.
    early_height = link.b.height
    link.b.advance(10)
    client = decode_client(link, on_b=False)
    update = interchain_pb2.ClientsUpdateArguments(
        client_id=link.a_client,
        header=link.b.client_header(early_height, trusted_height=client.client.latest_height),
    )
    arguments = interchain_pb2.PacketsRelayArguments(
        updates=[update] if early_height > client.client.latest_height else [],
        timeouts=[
            interchain_pb2.PacketsTimeoutArguments(
                packet=packet,
                proof=link.b.prove(keys.receipt_path(link.b_client, 1), early_height),
                proof_height=early_height,
            )
        ],
    )
    result = link.a.run("org1/relayer", "packets", "relay", arguments)
    (outcome,) = outcomes(result)
    assert outcome.startswith(f"failed: packet {link.a_client}/1 times out at {packet.timeout_ms}")
    assert commitment_present(link, 1)


def test_a_received_packet_cannot_be_timed_out(link: Link) -> None:
    packet = link.send(b"quick", timeout_after_ms=5_000)
    link.relay()  # received in time
    link.b.advance(10)
    height = link.b.height
    client = decode_client(link, on_b=False)
    arguments = interchain_pb2.PacketsRelayArguments(
        updates=[
            interchain_pb2.ClientsUpdateArguments(
                client_id=link.a_client,
                header=link.b.client_header(height, trusted_height=client.client.latest_height),
            )
        ],
        timeouts=[
            interchain_pb2.PacketsTimeoutArguments(
                packet=packet,
                proof=link.b.prove(keys.receipt_path(link.b_client, 1), height),
                proof_height=height,
            )
        ],
    )
    (outcome,) = outcomes(link.a.run("org1/relayer", "packets", "relay", arguments))
    assert outcome.startswith("failed:")
    assert commitment_present(link, 1)
    link.relay()
    assert sent_record(link, 1).state == "acknowledged"


# -- what a relayer cannot do ----------------------------------------------------------------------


def test_wormhole_a_proof_at_a_height_the_client_never_verified_is_refused(link: Link) -> None:
    packet = link.send(b"data")
    arguments = receive_arguments(link, packet)
    unverified = interchain_pb2.PacketsRelayArguments(
        receives=[
            interchain_pb2.PacketsReceiveArguments(
                packet=packet, proof=arguments.receives[0].proof, proof_height=link.a.height
            )
        ]
    )
    (outcome,) = outcomes(relay(link, unverified))
    assert outcome.startswith("failed:")
    assert f"height {link.a.height}" in outcome
    assert keys.receipt_path(link.b_client, 1) not in link.b.state


def test_forged_packet_data_does_not_match_the_commitment(link: Link) -> None:
    packet = link.send(b"pay 1")
    arguments = receive_arguments(link, packet)
    forged = arguments.receives[0].packet
    forged.payload.value = b"pay 1000"
    (outcome,) = outcomes(relay(link, arguments))
    assert outcome.startswith("failed:")
    assert keys.receipt_path(link.b_client, 1) not in link.b.state
    assert b"echo/received/" + b"%020d" % 1 not in link.b.state


def test_a_proof_of_another_packet_is_refused(link: Link) -> None:
    first = link.send(b"first")
    second = link.send(b"second")
    arguments = receive_arguments(link, second)
    arguments.receives[0].proof.CopyFrom(
        link.a.prove(keys.commitment_path(first.source_client, 1), link.a.height)
    )
    (outcome,) = outcomes(relay(link, arguments))
    assert outcome.startswith("failed:")


def test_nomad_an_exclusion_proof_never_proves_a_commitment(link: Link) -> None:
    packet = link.send(b"data")
    arguments = receive_arguments(link, packet)
    # A packet never sent: the sender's state proves the commitment absent, which is no proof.
    never_sent = interchain_pb2.Packet()
    never_sent.CopyFrom(packet)
    never_sent.sequence = 7
    arguments.receives[0].packet.CopyFrom(never_sent)
    arguments.receives[0].proof.CopyFrom(
        link.a.prove(keys.commitment_path(packet.source_client, 7), link.a.height)
    )
    (outcome,) = outcomes(relay(link, arguments))
    assert outcome.startswith("failed:")
    assert keys.receipt_path(link.b_client, 7) not in link.b.state


def test_a_packet_on_a_path_whose_ends_do_not_name_each_other_is_refused(link: Link) -> None:
    packet = link.send(b"data")
    arguments = receive_arguments(link, packet)
    arguments.receives[0].packet.source_client = "client-9"
    (outcome,) = outcomes(relay(link, arguments))
    assert outcome == (
        f"failed: the packet's source client is 'client-9', but the counterparty of "
        f"{link.b_client} is '{link.a_client}'"
    )


def test_an_acknowledgement_for_a_packet_never_sent_or_changed_is_refused(link: Link) -> None:
    packet = link.send(b"data")
    link.relay()
    changed = interchain_pb2.Packet()
    changed.CopyFrom(packet)
    changed.payload.value = b"other"
    acknowledgement = interchain_pb2.Acknowledgement(success=True, result=b"echo:data")
    height = link.b.height
    client = decode_client(link, on_b=False)
    arguments = interchain_pb2.PacketsRelayArguments(
        updates=[
            interchain_pb2.ClientsUpdateArguments(
                client_id=link.a_client,
                header=link.b.client_header(height, trusted_height=client.client.latest_height),
            )
        ],
        acknowledgements=[
            interchain_pb2.PacketsAcknowledgeArguments(
                packet=changed,
                acknowledgement=acknowledgement,
                proof=link.b.prove(keys.acknowledgement_path(link.b_client, 1), height),
                proof_height=height,
            ),
            interchain_pb2.PacketsAcknowledgeArguments(
                packet=packet,
                acknowledgement=interchain_pb2.Acknowledgement(success=False, error="forged"),
                proof=link.b.prove(keys.acknowledgement_path(link.b_client, 1), height),
                proof_height=height,
            ),
        ],
    )
    first, second = outcomes(link.a.run("org1/relayer", "packets", "relay", arguments))
    assert first == (
        f"failed: packet {link.a_client}/1 is not the packet this chain sent with that sequence"
    )
    assert second.startswith("failed:")
    assert commitment_present(link, 1)


def test_one_failed_delivery_does_not_fail_the_batch(link: Link) -> None:
    good = link.send(b"good")
    bad = link.send(b"bad")
    arguments = receive_arguments(link, good)
    forged = interchain_pb2.PacketsReceiveArguments()
    forged.CopyFrom(arguments.receives[0])
    forged.packet.CopyFrom(bad)  # the proof is good's
    arguments.receives.insert(0, forged)
    first, second = outcomes(relay(link, arguments))
    assert first.startswith("failed:")
    assert second == "done"
    assert keys.receipt_path(link.b_client, 1) in link.b.state
    assert keys.receipt_path(link.b_client, 2) not in link.b.state


# -- ports (Poly Network) -----------------------------------------------------------------------


def test_poly_network_no_port_can_name_a_system_contract() -> None:
    with pytest.raises(InvariantError, match="no packet may reach a system contract"):
        packets_contract({"clients": Port(contract=CLIENTS, handler=PORTS[ECHO_PORT].handler)})


def test_poly_network_governance_cannot_bind_a_port_to_a_contract_not_registered_for_it(
    link: Link,
) -> None:
    for port, contract in (("validators", "validators"), ("clients", "clients"), ("echo2", "echo")):
        result = link.a.governance(
            "packets",
            "bind_port",
            interchain_pb2.PacketsBindPortArguments(port=port, contract=contract),
        )
        assert status(result) == "NOT_FOUND"
        assert f"no application {contract!r} is registered for port {port!r}" in result.error


def test_a_port_is_bound_once_and_only_by_governance(link: Link) -> None:
    result = link.a.run(
        "org1/admin",
        "packets",
        "bind_port",
        interchain_pb2.PacketsBindPortArguments(port=ECHO_PORT, contract="echo"),
    )
    assert status(result) == "ENDORSEMENT_POLICY_NOT_SATISFIED"
    again = link.a.governance(
        "packets",
        "bind_port",
        interchain_pb2.PacketsBindPortArguments(port=ECHO_PORT, contract="echo"),
    )
    assert status(again) == "CONFLICT"
    assert "port 'echo' is bound to echo already" in again.error


def test_only_the_contract_bound_to_a_port_sends_from_it() -> None:
    other = Contract(name="other", methods=ECHO.methods, namespace=b"other/")
    link = build_link(contracts={**LINK_CONTRACTS, "other": other})
    result = link.a.run(
        "org1/alice",
        "other",
        "send",
        interchain_pb2.TransferSendArguments(
            source_client=link.a_client, timeout_ms=link.a.time_ms + 60_000, memo=b"x"
        ),
    )
    assert status(result) == "PERMISSION_DENIED"
    assert "contract other may not send from port 'echo': it is bound to echo" in result.error


# -- bounds ---------------------------------------------------------------------------------------


def send_result(
    link: Link, value: bytes, timeout_after_ms: int = 60_000
) -> types_pb2.TransactionResult:
    return link.a.run(
        "org1/alice",
        "echo",
        "send",
        interchain_pb2.TransferSendArguments(
            source_client=link.a_client,
            timeout_ms=link.a.time_ms + 1_000 + timeout_after_ms,
            memo=value,
        ),
    )


def test_a_payload_at_its_limit_is_sent_and_one_byte_more_is_refused(link: Link) -> None:
    assert status(send_result(link, b"x" * PAYLOAD_VALUE_BYTES_MAX)) == "OK"
    result = send_result(link, b"x" * (PAYLOAD_VALUE_BYTES_MAX + 1))
    assert status(result) == "INVALID_ARGUMENT"
    assert f"above the limit of {PAYLOAD_VALUE_BYTES_MAX}" in result.error


def test_a_timeout_at_its_limit_ahead_is_sent_and_one_millisecond_more_is_refused(
    link: Link,
) -> None:
    # send_result dates the timeout from the next block's time (one interval on).
    assert status(send_result(link, b"x", TIMEOUT_AHEAD_MAX_MS)) == "OK"
    result = send_result(link, b"x", TIMEOUT_AHEAD_MAX_MS + 1)
    assert status(result) == "INVALID_ARGUMENT"
    assert f"more than {TIMEOUT_AHEAD_MAX_MS} ms after" in result.error
    now = link.a.run(
        "org1/alice",
        "echo",
        "send",
        interchain_pb2.TransferSendArguments(
            source_client=link.a_client, timeout_ms=link.a.time_ms + 1_000, memo=b"x"
        ),
    )
    assert status(now) == "INVALID_ARGUMENT"
    assert "is not after this block's time" in now.error


def test_a_relay_batch_is_bounded(link: Link) -> None:
    empty = interchain_pb2.PacketsReceiveArguments()
    over = interchain_pb2.PacketsRelayArguments(receives=[empty] * (RELAY_DELIVERIES_MAX + 1))
    result = relay(link, over)
    assert status(result) == "INVALID_ARGUMENT"
    assert f"above the limit of {RELAY_DELIVERIES_MAX}" in result.error
    at = interchain_pb2.PacketsRelayArguments(receives=[empty] * RELAY_DELIVERIES_MAX)
    assert len(outcomes(relay(link, at))) == RELAY_DELIVERIES_MAX
    updates = interchain_pb2.PacketsRelayArguments(
        updates=[interchain_pb2.ClientsUpdateArguments()] * (RELAY_UPDATES_MAX + 1)
    )
    result = relay(link, updates)
    assert status(result) == "INVALID_ARGUMENT"
    assert f"above the limit of {RELAY_UPDATES_MAX}" in result.error


def test_commitments_are_domain_separated(link: Link) -> None:
    packet = link.send(b"x")
    acknowledgement = interchain_pb2.Acknowledgement(success=True)
    assert packet_commitment(packet, link.a.profile.hash) != link.a.profile.hash(
        packet.SerializeToString()
    )
    assert PACKET_COMMITMENT_DOMAIN in b"causeway/packet-commitment/v1\x00"
    assert acknowledgement_commitment(acknowledgement, link.a.profile.hash) != packet_commitment(
        interchain_pb2.Packet(), link.a.profile.hash
    )


def test_packets_get_and_list_answer_from_state(link: Link) -> None:
    for value in (b"one", b"two", b"three"):
        link.send(value)
    link.relay()
    link.relay()
    listed = interchain_pb2.PacketsListResult.FromString(
        check_ok(
            link.a.query(
                "packets",
                "list",
                interchain_pb2.PacketsListArguments(side="sent", client_id=link.a_client),
            )
        ).return_value
    )
    assert [record.packet.payload.value for record in listed.sent] == [b"one", b"two", b"three"]
    assert {record.state for record in listed.sent} == {"acknowledged"}
    in_flight = interchain_pb2.PacketsListResult.FromString(
        check_ok(
            link.a.query(
                "packets",
                "list",
                interchain_pb2.PacketsListArguments(
                    side="sent", client_id=link.a_client, in_flight_only=True
                ),
            )
        ).return_value
    )
    assert list(in_flight.sent) == []
    received = interchain_pb2.PacketsGetResult.FromString(
        check_ok(
            link.b.query(
                "packets",
                "get",
                interchain_pb2.PacketsGetArguments(
                    side="received", client_id=link.b_client, sequence=2
                ),
            )
        ).return_value
    )
    assert received.received.packet.payload.value == b"two"
    assert received.received.acknowledgement.result == b"echo:two"
    bad = link.a.query(
        "packets", "get", interchain_pb2.PacketsGetArguments(side="both", client_id="client-0")
    )
    assert status(bad) == "INVALID_ARGUMENT"
    assert "side is 'both', not 'sent' or 'received'" in bad.error


def test_a_fork_proven_by_one_update_of_a_batch_stays_proven(link: Link) -> None:
    link.a.advance(2)
    client = decode_client(link, on_b=True)
    trusted = client.client.latest_height
    height = link.a.height
    fork = forged_header(link.a, height, trusted_height=trusted, state_root=b"\x07" * 32)
    honest = link.a.client_header(height, trusted_height=trusted)
    # The honest header first, then the fork of the same height (freezes), then another update.
    link.a.advance(1)
    later = link.a.client_header(link.a.height, trusted_height=height)
    arguments = interchain_pb2.PacketsRelayArguments(
        updates=[
            interchain_pb2.ClientsUpdateArguments(client_id=link.b_client, header=honest),
            interchain_pb2.ClientsUpdateArguments(client_id=link.b_client, header=fork),
            interchain_pb2.ClientsUpdateArguments(client_id=link.b_client, header=later),
        ]
    )
    result = relay(link, arguments)
    assert status(result) == "OK", result.error
    after = decode_client(link, on_b=True)
    assert after.client.frozen_height == height
    assert after.status == "frozen"

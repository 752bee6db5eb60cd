"""The multi-chain checkers (causeway.sim.interchain_checkers) catch what they claim to: each rule
is broken by hand in the record of a clean run, and the checker must name it."""

from __future__ import annotations

import pytest

from causeway.interchain.keys import BANK_NAMESPACE, supply_key
from causeway.interchain.v1 import interchain_pb2
from causeway.sim import SimulationFailure
from causeway.sim.interchain import (
    ChainSpec,
    InterchainConfig,
    InterchainResult,
    InterchainSimulation,
    native_denom,
)
from causeway.sim.interchain_checkers import (
    check_interchain,
    client_problems,
    conservation_problems,
    ending_problems,
    fault_problems,
    packet_problems,
)
from causeway.types.v1 import types_pb2


@pytest.fixture
def clean() -> InterchainResult:
    config = InterchainConfig(
        chains=(ChainSpec("chain-a"), ChainSpec("chain-b")),
        links=((0, 1),),
        packets=6,
        transfer_share=0.5,
        timeout_after_ms=(60_000, 60_000),
    )
    result = InterchainSimulation(3, config, scenario="clean").run()
    check_interchain(result)
    return result


def _find(
    result: InterchainResult, name: str
) -> tuple[str, int, types_pb2.TransactionResult, types_pb2.Event]:
    """The first committed event called ``name``: (chain id, height, its result, the event)."""
    for chain_id, chain in result.chains.items():
        for height in sorted(chain.blocks):
            for transaction_result in chain.blocks[height].results:
                for event in transaction_result.events:
                    if event.name == name:
                        return chain_id, height, transaction_result, event
    raise AssertionError(f"no {name} event")


def _later_block(
    result: InterchainResult, chain_id: str, height: int, event: types_pb2.Event
) -> None:
    """Commits ``event`` again, in a transaction of its own, in the chain's block after
    ``height``."""
    results = result.chains[chain_id].blocks[height + 1].results
    results.append(types_pb2.TransactionResult(status=types_pb2.RESULT_STATUS_OK, events=[event]))


def test_a_packet_received_twice_is_caught(clean: InterchainResult) -> None:
    chain_id, height, _, event = _find(clean, "receive_packet")
    _later_block(clean, chain_id, height, event)
    assert any("received more than once" in p for p in packet_problems(clean))


def test_a_packet_acknowledged_twice_is_caught(clean: InterchainResult) -> None:
    chain_id, height, _, event = _find(clean, "acknowledge_packet")
    _later_block(clean, chain_id, height, event)
    assert any("ended 2 times" in p for p in packet_problems(clean))


def test_a_received_packet_that_times_out_is_caught(clean: InterchainResult) -> None:
    _, _, _, event = _find(clean, "acknowledge_packet")
    event.name = "timeout_packet"
    assert any("timed out on its sender but was received" in p for p in packet_problems(clean))


def test_a_packet_received_other_than_it_was_sent_is_caught(clean: InterchainResult) -> None:
    _, _, _, event = _find(clean, "send_packet")
    packet = interchain_pb2.Packet.FromString(event.data)
    packet.payload.value = b"changed"
    event.data = packet.SerializeToString()
    assert any("other than it was sent" in p for p in packet_problems(clean))


def test_an_acknowledgement_other_than_the_one_written_is_caught(clean: InterchainResult) -> None:
    _, _, _, event = _find(clean, "acknowledge_packet")
    for attribute in event.attributes:
        if attribute.key == "success":
            attribute.value = "false" if attribute.value == "true" else "true"
    assert any("but the receiver wrote success=" in p for p in packet_problems(clean))


def test_a_packet_that_never_ends_is_caught(clean: InterchainResult) -> None:
    _, _, transaction_result, event = _find(clean, "acknowledge_packet")
    transaction_result.events.remove(event)
    assert any("never ended" in p for p in ending_problems(clean))


def test_a_consensus_state_of_no_real_block_is_caught(clean: InterchainResult) -> None:
    chain_id, _, _, event = _find(clean, "update_client")
    height = int(next(a.value for a in event.attributes if a.key == "height"))
    remote = clean.chains["chain-b" if chain_id == "chain-a" else "chain-a"]
    remote.blocks[height].block_hash = bytes(32)
    assert any(
        f"stored a consensus state for height {height} that is not the real block" in p
        for p in client_problems(clean)
    )


def test_a_frozen_client_that_accepts_an_update_is_caught(clean: InterchainResult) -> None:
    chain_id, height, _, event = _find(clean, "update_client")
    client_id = next(a.value for a in event.attributes if a.key == "client_id")
    frozen = types_pb2.Event(
        name="client_frozen",
        attributes=[
            types_pb2.EventAttribute(key="client_id", value=client_id),
            types_pb2.EventAttribute(key="height", value="1"),
            types_pb2.EventAttribute(key="reason", value="by hand"),
        ],
    )
    clean.chains[chain_id].blocks[height - 1].results.append(
        types_pb2.TransactionResult(status=types_pb2.RESULT_STATUS_OK, events=[frozen])
    )
    assert any(f"frozen client {client_id}" in p for p in client_problems(clean))


def test_a_freeze_that_did_not_happen_is_caught(clean: InterchainResult) -> None:
    link = clean.links[0]
    clean.expected.append((link.a, link.a_client, "frozen"))
    problems = fault_problems(clean)
    assert any("did not freeze for the twins' fork" in p for p in problems)
    assert any("was never recovered by governance" in p for p in problems)


def test_a_client_recovered_though_no_fault_froze_or_expired_it_is_caught(
    clean: InterchainResult,
) -> None:
    link = clean.links[0]
    assert fault_problems(clean) == []
    chain_id, height, _, _ = _find(clean, "update_client")
    client_id = link.a_client if chain_id == link.a else link.b_client
    recovered = types_pb2.Event(
        name="recover_client",
        attributes=[types_pb2.EventAttribute(key="client_id", value=client_id)],
    )
    _later_block(clean, chain_id, height, recovered)
    assert any(
        f"client {client_id} on {chain_id} was frozen or expired, and recovered, though no "
        "fault planned it" in p
        for p in fault_problems(clean)
    )


def test_an_accepted_forgery_is_caught(clean: InterchainResult) -> None:
    for record in clean.blocks:
        for index, transaction_result in enumerate(record.results):
            if any(event.name == "receive_packet" for event in transaction_result.events):
                record.origins[index] = "byzantine:changed-payload"
                problems = fault_problems(clean)
                assert any(
                    "a forgery (byzantine:changed-payload) was accepted" in p for p in problems
                )
                return
    raise AssertionError("no receive in the clean run")


def test_a_failure_names_the_seed_and_its_replay(clean: InterchainResult) -> None:
    chain_id, height, _, event = _find(clean, "receive_packet")
    _later_block(clean, chain_id, height, event)
    with pytest.raises(SimulationFailure) as raised:
        check_interchain(clean)
    message = str(raised.value)
    assert "seed: 3 (scenario clean)" in message
    assert "replay: CAUSEWAY_SIM_SEED=3 .venv/bin/pytest" in message


def test_vouchers_minted_from_nothing_are_caught(clean: InterchainResult) -> None:
    """Conservation: a voucher supply that the other chain's escrow does not back."""
    link = clean.links[0]
    voucher = f"transfer/{link.b_client}/{native_denom(link.a)}"
    key = BANK_NAMESPACE + supply_key(voucher)
    chain = clean.chains[link.b]
    held = int.from_bytes(chain.state.get(key, bytes(8)), "big")
    chain.state[key] = (held + 1).to_bytes(8, "big")
    assert any(
        "chain-a escrows" in p and f"{held + 1} of {voucher} outstanding" in p
        for p in conservation_problems(clean)
    )


def test_a_clean_run_sends_tokens_both_ways_and_conserves_them(clean: InterchainResult) -> None:
    sends = [
        attributes
        for chain in clean.chains.values()
        for committed in chain.blocks.values()
        for transaction_result in committed.results
        for event in transaction_result.events
        if event.name == "send" and event.contract == "transfer"
        for attributes in [{a.key: a.value for a in event.attributes}]
    ]
    assert sends
    assert conservation_problems(clean) == []

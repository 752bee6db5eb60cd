"""Four (or more) tbft cores talking through the in-test network."""

from __future__ import annotations

import hashlib

from tbft_harness import FOUR, TIMEOUTS, Network, certificate_power

from causeway.consensus.tbft import TbftStep, TbftTimeouts
from causeway.consensus.v1 import consensus_pb2


def assert_agreement(network: Network, height: int) -> None:
    """Every node committed heights 1..height once each, in order, the same blocks."""
    reference = None
    for node in network.nodes.values():
        heights = [commit.height for commit in node.commits[:height]]
        assert heights == list(range(1, height + 1))
        hashes = [commit.certificate.block_hash for commit in node.commits[:height]]
        if reference is None:
            reference = hashes
        assert hashes == reference
        for commit in node.commits:
            assert commit.certificate.height == commit.height
            assert commit.block.header.height == commit.height
            assert 3 * certificate_power(commit.certificate, network.powers) > 2 * sum(
                network.powers.values()
            )


def test_happy_path_commits_each_height_once_with_a_certificate() -> None:
    network = Network(FOUR)
    network.start()
    network.run_until(network.all_committed(5))
    assert_agreement(network, 5)
    for node in network.nodes.values():
        # Without faults every height is decided in round 0 by the scheduled proposer.
        for commit in node.commits:
            assert commit.certificate.round == 0
            assert commit.block.header.proposer == node.core.proposer(commit.height, 0)
        assert node.evidence == []
    proposers = [commit.block.header.proposer for commit in network.nodes["v1"].commits[:4]]
    assert sorted(proposers) == ["v1", "v2", "v3", "v4"]


def test_weighted_validators_propose_in_proportion_to_power() -> None:
    validators = [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
    network = Network(validators)
    network.start()
    network.run_until(network.all_committed(10))
    assert_agreement(network, 10)
    proposers = [commit.block.header.proposer for commit in network.nodes["a"].commits[:10]]
    assert {name: proposers.count(name) for name in "abcd"} == {"a": 1, "b": 2, "c": 3, "d": 4}


def test_silent_proposer_makes_the_others_time_out_and_change_round() -> None:
    network = Network(FOUR)
    silent = network.nodes["v1"].core.proposer(1, 0)
    network.drop_rules.append(lambda sender, _recipient, _message: sender == silent)
    network.start()
    others = [name for name in network.nodes if name != silent]
    network.run_until(network.all_committed(1, others))
    for name in others:
        commit = network.nodes[name].commits[0]
        assert commit.certificate.round == 1
        assert commit.block.header.proposer == network.nodes[name].core.proposer(1, 1)
        assert commit.block.header.proposer != silent
    # Round 0 needed the full propose timeout before anyone prevoted nil.
    assert network.now_ms >= TIMEOUTS.propose_ms


def test_invalid_block_gets_nil_prevotes_and_the_next_round_decides() -> None:
    network = Network(FOUR)
    bad = network.nodes["v1"].core.proposer(1, 0)
    for node in network.nodes.values():
        node.application.invalid_proposers.add(bad)
    network.start()
    network.run_until(network.all_committed(1))
    assert_agreement(network, 1)
    commit = network.nodes["v1"].commits[0]
    assert commit.certificate.round == 1
    assert commit.block.header.proposer != bad


def test_one_crashed_validator_of_four_does_not_stop_the_chain() -> None:
    network = Network(FOUR)
    network.drop_rules.append(lambda sender, recipient, _message: "v3" in (sender, recipient))
    network.start()
    others = ["v1", "v2", "v4"]
    network.run_until(network.all_committed(4, others))
    for name in others:
        assert [commit.height for commit in network.nodes[name].commits[:4]] == [1, 2, 3, 4]


def test_two_crashed_validators_of_four_stop_the_chain_safely() -> None:
    network = Network(FOUR)
    network.drop_rules.append(
        lambda sender, recipient, _m: bool({sender, recipient} & {"v3", "v4"})
    )
    network.start()
    while network.now_ms < 20_000 and network.advance_clock():
        network.deliver_all()
    assert all(node.commits == [] for node in network.nodes.values())
    # Without more than two thirds of prevotes no prevote timeout starts (line 34): the two live
    # validators wait in round 0 having prevoted nil.
    for name in ("v1", "v2"):
        assert network.nodes[name].core.current_step == TbftStep.PREVOTE


def test_same_inputs_give_the_same_outputs() -> None:
    def trace_hash() -> bytes:
        network = Network(FOUR, seed=7, drop_probability=0.1, timeouts=_gossiping())
        network.start()
        network.run_until(network.all_committed(3))
        return hashlib.sha256(b"".join(network.trace)).digest()

    assert trace_hash() == trace_hash()


def _gossiping(commit_ms: int = 100) -> TbftTimeouts:
    return TbftTimeouts(
        propose_ms=1_000,
        prevote_ms=500,
        precommit_ms=500,
        delta_ms=250,
        commit_ms=commit_ms,
        rebroadcast_ms=300,
    )


def test_lossy_network_still_commits_thanks_to_rebroadcast() -> None:
    for seed in range(3):
        network = Network(FOUR, seed=seed, drop_probability=0.3, timeouts=_gossiping())
        network.start()
        network.run_until(network.all_committed(4), time_limit_ms=120_000)
        assert_agreement(network, 4)
        assert_no_double_signing(network)


def test_partitioned_validator_catches_up_after_the_partition_heals() -> None:
    # A commit pause longer than the rebroadcast interval: the others are still on height 1 (or
    # just past it) when v4 speaks again. Further behind is block sync's job, not the core's.
    network = Network(FOUR, timeouts=_gossiping(commit_ms=1_000), sync=False)
    partitioned = {"active": True}
    network.drop_rules.append(
        lambda sender, recipient, _m: partitioned["active"] and "v4" in (sender, recipient)
    )
    network.start()
    network.run_until(network.all_committed(1, ["v1", "v2", "v3"]))
    # v4 is still on height 1 when the partition heals; it gets the deciding messages as help.
    assert network.nodes["v4"].commits == []
    partitioned["active"] = False
    network.run_until(network.all_committed(3))
    assert_agreement(network, 3)
    assert network.nodes["v4"].core.statistics["resent_identical"] == 0
    helped = sum(node.core.statistics["help_sent"] for node in network.nodes.values())
    assert helped > 0


def test_validators_spread_over_rounds_converge_after_a_partition() -> None:
    network = Network(FOUR, timeouts=_gossiping())
    isolated: set[str] = {"v4"}
    network.drop_rules.append(
        lambda sender, recipient, message: (
            bool({sender, recipient} & isolated) or message.HasField("proposal")
        )
    )
    network.start()

    def run_for(duration_ms: int) -> None:
        end = network.now_ms + duration_ms
        while network.now_ms < end and network.advance_clock():
            network.deliver_all()

    # No proposal gets through: v1, v2 and v3 go through rounds of nil votes; v4, alone, waits.
    run_for(8_000)
    # Then v3 is cut off too: v1 and v2 are stuck where they are.
    isolated.add("v3")
    run_for(8_000)
    rounds = {name: node.core.round for name, node in network.nodes.items()}
    assert rounds["v4"] == 0
    assert min(rounds["v1"], rounds["v2"], rounds["v3"]) >= 2
    assert all(node.commits == [] for node in network.nodes.values())
    # Everything heals: the laggards skip ahead (line 55) and the next proposal decides.
    isolated.clear()
    network.drop_rules.clear()
    network.run_until(network.all_committed(2), time_limit_ms=200_000)
    assert_agreement(network, 2)
    assert_no_double_signing(network)


def test_whole_network_restart_mid_height_resumes_from_persisted_records() -> None:
    network = Network(FOUR, timeouts=_gossiping())
    network.start()
    network.run_until(network.all_committed(2))
    # Every precommit of height 3 is lost: all validators precommit and wait.
    lose_precommits = {"active": True}
    network.drop_rules.append(
        lambda _s, _r, message: (
            lose_precommits["active"]
            and message.WhichOneof("body") == "vote"
            and message.vote.height == 3
            and message.vote.type == consensus_pb2.VOTE_TYPE_PRECOMMIT
        )
    )
    network.run_until(
        lambda: all(
            node.core.height == 3 and node.core.current_step == TbftStep.PRECOMMIT
            for node in network.nodes.values()
        )
    )
    calls_before = {name: node.signer.calls for name, node in network.nodes.items()}
    locked = {node.core.locked_block_hash for node in network.nodes.values()}
    assert len(locked) == 1 and b"" not in locked
    outputs = {name: network.crash_and_restart(name) for name in list(network.nodes)}
    lose_precommits["active"] = False
    for name, output in outputs.items():
        # The restarted core re-sends what it signed in height 3, signing nothing new.
        assert network.nodes[name].signer.calls == 0
        sent = [message.vote for _, message in output.send]
        assert [vote.type for vote in sent] == [
            consensus_pb2.VOTE_TYPE_PREVOTE,
            consensus_pb2.VOTE_TYPE_PRECOMMIT,
        ]
        assert all(vote.height == 3 and vote.round == 0 for vote in sent)
        assert calls_before[name] > 0
    network.run_until(network.all_committed(5), time_limit_ms=200_000)
    assert_agreement(network, 5)
    assert_no_double_signing(network)
    # The proposal of round 0 was not persisted, so round 0 cannot decide; the restored locks
    # and valid blocks make round 1 re-propose and decide the very block locked before the crash.
    certificate = network.nodes["v1"].commits[2].certificate
    assert certificate.round == 1
    assert {certificate.block_hash} == locked


def assert_no_double_signing(network: Network) -> None:
    """Nobody signed two different messages for one (height, round, step)."""
    seen: dict[tuple[str, int, int, int], bytes] = {}
    for sender, message in network.sent:
        if message.WhichOneof("body") == "vote":
            vote = message.vote
            key = (vote.validator, vote.height, vote.round, int(vote.type))
            signed = vote.signature
        else:
            proposal = message.proposal
            key = (proposal.proposer, proposal.height, proposal.round, 0)
            signed = proposal.signature
        if key[0] == sender:
            assert seen.setdefault(key, signed) == signed, key


def test_a_non_validator_follows_and_commits_without_signing() -> None:
    network = Network(FOUR, observers=["observer"])
    network.start()
    network.run_until(network.all_committed(3))
    assert_agreement(network, 3)
    observer = network.nodes["observer"]
    assert observer.signer.calls == 0
    assert observer.core.statistics["signed"] == 0
    assert not any(b" observer>" in item for item in network.trace)

"""The light-client contract against real chains: each security rule named after the failure it
prevents, and the life of a client (create, follow, freeze, expire, recover)."""

from __future__ import annotations

import pytest
from clients_support import (
    attacker_set,
    attributes,
    client_state_keys,
    contract_context,
    create,
    create_arguments,
    create_client,
    event_names,
    forged_header,
    get_client,
    governance,
    home_chain,
    next_time,
    set_hash,
    sign,
    status,
    update,
)
from interchain_chain import CONSENSUS, InterchainChain

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import RequestError
from causeway.execution import SIGNATURE_VERIFICATION_GAS
from causeway.interchain import keys
from causeway.interchain.clients import (
    active_client,
    consensus_state,
    update_client,
    verify_state,
)
from causeway.interchain.v1 import interchain_pb2
from causeway.types import encode
from causeway.types.v1 import types_pb2

P256_GAS = SIGNATURE_VERIFICATION_GAS["ecdsa-p256"]


@pytest.fixture
def home() -> InterchainChain:
    return home_chain()


@pytest.fixture
def remote() -> InterchainChain:
    chain = InterchainChain("remote")
    chain.advance(2)
    return chain


def _update_refused(
    home: InterchainChain,
    remote: InterchainChain,
    client_id: str,
    client_header: interchain_pb2.ClientHeader,
    *,
    expected: str,
    fragment: str,
) -> None:
    before = client_state_keys(home)
    result = update(home, client_id, client_header, remote=remote)
    assert status(result) == expected, result.error
    assert fragment in result.error
    assert client_state_keys(home) == before


# -- creating ------------------------------------------------------------------------------------


def test_create_stores_the_client_and_its_first_consensus_state(
    home: InterchainChain, remote: InterchainChain
) -> None:
    result = create(home, remote, create_arguments(remote, 2))
    assert status(result) == "OK", result.error
    assert interchain_pb2.ClientsCreateResult.FromString(result.return_value).client_id == (
        "client-0"
    )
    assert attributes(result, "create_client") == {"client_id": "client-0", "height": "2"}
    answer = get_client(home, "client-0")
    assert answer.status == "active"
    assert answer.client.chain_id == "remote"
    assert answer.client.genesis_hash == remote.genesis_hash
    assert answer.client.latest_height == 2
    assert answer.client.created_time_ms == home.time_ms
    committed = remote.blocks[2]
    assert answer.latest == interchain_pb2.ConsensusState(
        height=2,
        time_ms=committed.header.time_ms,
        block_hash=committed.block_hash,
        state_root=committed.header.state_root,
        validator_set_hash=committed.header.validator_set_hash,
        next_validator_set_hash=committed.header.next_validator_set_hash,
    )


def test_only_governance_creates_recovers_and_registers(
    home: InterchainChain, remote: InterchainChain
) -> None:
    for method, arguments in (
        ("create", create_arguments(remote, 2)),
        ("recover", interchain_pb2.ClientsRecoverArguments(client_id="client-0")),
        (
            "register_counterparty",
            interchain_pb2.ClientsRegisterCounterpartyArguments(
                client_id="client-0", counterparty_client_id="client-3"
            ),
        ),
    ):
        result = home.run("org1/alice", "clients", method, arguments)
        assert status(result) == "ENDORSEMENT_POLICY_NOT_SATISFIED"
        assert f"clients.{method} needs endorsements" in result.error
    assert client_state_keys(home) == {}


def _with(
    arguments: interchain_pb2.ClientsCreateArguments, **fields: object
) -> interchain_pb2.ClientsCreateArguments:
    changed = interchain_pb2.ClientsCreateArguments()
    changed.CopyFrom(arguments)
    for name, value in fields.items():
        if value is None:  # only the header is ever left out
            assert name == "header"
            changed.ClearField("header")
        else:
            setattr(changed, name, value)
    return changed


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"chain_id": ""}, "the client's chain id is empty"),
        ({"genesis_hash": bytes(31)}, "the genesis hash is 31 bytes, not 32"),
        ({"genesis_hash": bytes(32)}, "the genesis hash is zero"),
        ({"consensus": "paxos"}, "consensus 'paxos' is not one of raft, solo, tbft"),
        ({"crypto_profile": "rsa"}, "crypto profile 'rsa' is not one of gm, intl"),
        ({"trusting_period_ms": 0}, "trusting period 0 ms is not between 1 and"),
        ({"trusting_period_ms": -5}, "trusting period -5 ms is not between 1 and"),
        ({"clock_drift_ms": -1}, "clock drift -1 ms is not between 0 and"),
        ({"counterparty_client_id": "bogus"}, "client id 'bogus' is not of the form client-<n>"),
        ({"header": None}, "creating a client needs its first header"),
        # The header's chain must be the one the arguments name.
        ({"chain_id": "elsewhere"}, "the header is for 'remote', not 'elsewhere'"),
        ({"genesis_hash": b"\x07" * 32}, "it is from another chain"),
        # An intl chain's validators (P-256 keys, SHA-256 hashes) are no gm chain's.
        ({"crypto_profile": "gm"}, "is not the one the header of height 2 names"),
    ],
)
def test_create_refuses_every_bad_field(
    home: InterchainChain, remote: InterchainChain, fields: dict[str, object], fragment: str
) -> None:
    arguments = _with(create_arguments(remote, 2), **fields)
    result = create(home, remote, arguments)
    assert status(result) == "INVALID_ARGUMENT"
    assert fragment in result.error
    assert client_state_keys(home) == {}


def test_create_refuses_a_first_header_that_names_a_trusted_height(
    home: InterchainChain, remote: InterchainChain
) -> None:
    arguments = create_arguments(remote, header=remote.client_header(2, trusted_height=1))
    result = create(home, remote, arguments)
    assert status(result) == "INVALID_ARGUMENT"
    assert "trusts no stored state (leave it 0)" in result.error


def test_client_ids_are_never_reused(home: InterchainChain, remote: InterchainChain) -> None:
    assert create_client(home, remote, 2) == "client-0"
    assert create_client(home, remote, 2) == "client-1"
    # A refused creation takes no id (nothing it did is kept).
    refused = create(home, remote, create_arguments(remote, 2, consensus="paxos"))
    assert status(refused) == "INVALID_ARGUMENT"
    assert create_client(home, remote, 2) == "client-2"
    listed = home.query("clients", "list", interchain_pb2.ClientsListArguments())
    names = [
        entry.client.client_id
        for entry in interchain_pb2.ClientsListResult.FromString(listed.return_value).clients
    ]
    assert names == ["client-0", "client-1", "client-2"]
    assert home.state[keys.CLIENTS_NAMESPACE + keys.CLIENT_NEXT] == (3).to_bytes(8, "big")


# -- more than two thirds (Ronin, Harmony) ---------------------------------------------------------


def test_ronin_a_header_signed_by_exactly_two_thirds_is_refused(home: InterchainChain) -> None:
    # Powers 1, 2, 3, 3 (total 9): node3 and node4 hold exactly two thirds, with node1 just over.
    remote = InterchainChain("remote", voting_powers=(1, 2, 3, 3))
    remote.advance(3)
    exactly = ["org3/node3", "org4/node4"]
    just_over = ["org1/node1", "org3/node3", "org4/node4"]
    refused = create(
        home, remote, create_arguments(remote, header=remote.client_header(2, signers=exactly))
    )
    assert status(refused) == "INVALID_ARGUMENT"
    assert "holds 6 of 9 voting power, not more than two thirds" in refused.error
    client_id = create_client(home, remote, header=remote.client_header(2, signers=just_over))
    _update_refused(
        home,
        remote,
        client_id,
        remote.client_header(3, trusted_height=2, signers=exactly),
        expected="INVALID_ARGUMENT",
        fragment="holds 6 of 9 voting power, not more than two thirds",
    )
    accepted = update(
        home, client_id, remote.client_header(3, trusted_height=2, signers=just_over), remote=remote
    )
    assert status(accepted) == "OK", accepted.error


def test_ronin_a_raft_majority_is_not_enough_for_a_client(home: InterchainChain) -> None:
    # Two of three raft voters make a raft certificate, but only two thirds of the power: a
    # stranger's client asks more of a chain than its members ask of one another.
    remote = InterchainChain("remote", consensus="raft", validators=3)
    remote.advance(3)
    majority = ["org1/node1", "org2/node2"]
    refused = create(
        home, remote, create_arguments(remote, header=remote.client_header(2, signers=majority))
    )
    assert status(refused) == "INVALID_ARGUMENT"
    assert "holds 2 of 3 voting power, not more than two thirds" in refused.error
    client_id = create_client(home, remote, 2)
    _update_refused(
        home,
        remote,
        client_id,
        remote.client_header(3, trusted_height=2, signers=majority),
        expected="INVALID_ARGUMENT",
        fragment="not more than two thirds",
    )
    assert (
        status(update(home, client_id, remote.client_header(3, trusted_height=2), remote=remote))
        == "OK"
    )


def test_harmony_one_validator_alone_needs_single_signer_accepted(home: InterchainChain) -> None:
    # A set in which one key can sign alone is a single signer, whatever the consensus says.
    heavy = InterchainChain("remote", voting_powers=(100, 1, 1, 1))
    heavy.advance(2)
    refused = create(home, heavy, create_arguments(heavy, 2))
    assert status(refused) == "INVALID_ARGUMENT"
    assert "'org1/node1' alone holds more than two thirds of the power" in refused.error
    one = InterchainChain("single", validators=1)
    one.advance(2)
    refused = create(home, one, create_arguments(one, 2))
    assert status(refused) == "INVALID_ARGUMENT"
    assert "does not accept a single signer" in refused.error
    assert client_state_keys(home) == {}


def test_a_solo_chain_is_a_counterparty_only_where_governance_accepted_a_single_signer(
    home: InterchainChain,
) -> None:
    solo = InterchainChain("solo-chain", consensus="solo", validators=1)
    solo.advance(2)
    refused = create(home, solo, create_arguments(solo, 2))
    assert status(refused) == "INVALID_ARGUMENT"
    assert "governance must accept a single signer (single_signer_accepted)" in refused.error
    client_id = create_client(home, solo, 2, single_signer_accepted=True)
    assert get_client(home, client_id).client.single_signer_accepted
    solo.advance(2)
    accepted = update(home, client_id, solo.client_header(4, trusted_height=2), remote=solo)
    assert status(accepted) == "OK", accepted.error


def test_a_client_refuses_a_set_that_becomes_a_single_signer_later(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    # The remote's validators give one of them the power to sign alone.
    assert (
        status(
            remote.governance(
                "validators",
                "update",
                contracts_pb2.ValidatorsUpdateArguments(
                    updates=[
                        contracts_pb2.ValidatorPowerUpdate(member_id="org1/node1", voting_power=100)
                    ]
                ),
            )
        )
        == "OK"
    )
    remote.advance(3)
    for height in (3, 4):
        assert (
            status(
                update(
                    home,
                    client_id,
                    remote.client_header(height, trusted_height=height - 1),
                    remote=remote,
                )
            )
            == "OK"
        )
    _update_refused(
        home,
        remote,
        client_id,
        remote.client_header(5, trusted_height=4),
        expected="INVALID_ARGUMENT",
        fragment="'org1/node1' alone holds more than two thirds",
    )


# -- forged and foreign headers ------------------------------------------------------------------


def test_a_forged_certificate_is_refused(home: InterchainChain, remote: InterchainChain) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(2)
    # A signature with one bit flipped.
    flipped = remote.client_header(3, trusted_height=2)
    signature = bytearray(flipped.certificate.signatures[2].signature)
    signature[-1] ^= 1
    flipped.certificate.signatures[2].signature = bytes(signature)
    _update_refused(
        home,
        remote,
        client_id,
        flipped,
        expected="INVALID_ARGUMENT",
        fragment="the signature of 'org3/node3'",
    )
    # A certificate of another block (height 4's, for the header of height 3).
    other_block = remote.client_header(3, trusted_height=2)
    other_block.certificate.CopyFrom(remote.certificate(4))
    _update_refused(
        home,
        remote,
        client_id,
        other_block,
        expected="INVALID_ARGUMENT",
        fragment="not for the block at height 3",
    )
    # A header changed after it was signed (a state root the validators never signed).
    changed = remote.client_header(3, trusted_height=2)
    changed.header.state_root = b"\x05" * 32
    _update_refused(
        home,
        remote,
        client_id,
        changed,
        expected="INVALID_ARGUMENT",
        fragment="not for the block at height 3",
    )
    # Signatures by keys outside the set, under a validator's name.
    _, forger = attacker_set(remote)
    stolen_name = remote.client_header(3, trusted_height=2)
    stolen_name.certificate.CopyFrom(sign(remote, stolen_name.header, forger))
    _update_refused(
        home,
        remote,
        client_id,
        stolen_name,
        expected="INVALID_ARGUMENT",
        fragment="does not verify",
    )
    assert (
        status(update(home, client_id, remote.client_header(3, trusted_height=2), remote=remote))
        == "OK"
    )


def test_a_header_of_another_chain_or_genesis_is_refused(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    other = InterchainChain("other")
    other.advance(4)
    _update_refused(
        home,
        remote,
        client_id,
        other.client_header(4, trusted_height=2),
        expected="INVALID_ARGUMENT",
        fragment="the header is for 'other', not 'remote'",
    )
    # Same chain id, another genesis: another chain that took the name.
    impostor = InterchainChain("remote")
    impostor.advance(4)
    _update_refused(
        home,
        remote,
        client_id,
        impostor.client_header(4, trusted_height=2),
        expected="INVALID_ARGUMENT",
        fragment="it is from another chain",
    )


def test_a_header_dated_past_the_clock_drift_is_refused(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(1)
    header = remote.client_header(3, trusted_height=2)
    drift = get_client(home, client_id).client.clock_drift_ms
    result = update(home, client_id, header, time_ms=header.header.time_ms - drift - 1)
    assert status(result) == "INVALID_ARGUMENT"
    assert "more than the clock drift of" in result.error
    result = update(home, client_id, header, time_ms=header.header.time_ms - drift)
    assert status(result) == "OK", result.error


def test_a_header_not_after_its_trusted_state_is_refused_without_freezing(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(1)
    earlier = forged_header(remote, 3, trusted_height=2, time_ms=remote.blocks[2].header.time_ms)
    _update_refused(
        home,
        remote,
        client_id,
        earlier,
        expected="INVALID_ARGUMENT",
        fragment="not after the trusted consensus",
    )
    assert get_client(home, client_id).status == "active"
    # A trusted height that is not below the header, or is not stored, vouches for nothing.
    same = remote.client_header(3)
    same.trusted_height = 3
    _update_refused(
        home,
        remote,
        client_id,
        same,
        expected="INVALID_ARGUMENT",
        fragment="must be a stored height",
    )
    missing = remote.client_header(3, trusted_height=1)
    _update_refused(
        home,
        remote,
        client_id,
        missing,
        expected="NOT_FOUND",
        fragment="no consensus state at trusted height 1",
    )


# -- following validator-set changes -------------------------------------------------------------


def _remove_node4(remote: InterchainChain) -> int:
    """Removes org4/node4 from the remote's set; returns the first height it no longer signs."""
    result = remote.governance(
        "validators",
        "update",
        contracts_pb2.ValidatorsUpdateArguments(
            updates=[contracts_pb2.ValidatorPowerUpdate(member_id="org4/node4", voting_power=0)]
        ),
    )
    assert status(result) == "OK", result.error
    return remote.height + 2


def test_a_validator_set_change_is_followed_height_by_height(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    changed_at = _remove_node4(remote)
    remote.advance(3)
    old_hash = remote.blocks[2].header.validator_set_hash
    for height in range(3, remote.height + 1):
        result = update(
            home, client_id, remote.client_header(height, trusted_height=height - 1), remote=remote
        )
        assert status(result) == "OK", (height, result.error)
        assert attributes(result, "update_client") == {
            "client_id": client_id,
            "height": str(height),
        }
    stored = consensus_state(contract_context(home), client_id, changed_at)
    assert stored.validator_set_hash != old_hash
    assert len(remote.blocks[changed_at].validator_set.validators) == 3
    assert (
        consensus_state(contract_context(home), client_id, changed_at - 1).next_validator_set_hash
        == stored.validator_set_hash
    )


def test_a_removed_validator_set_cannot_sign_the_next_height(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    changed_at = _remove_node4(remote)
    remote.advance(2)
    for height in range(3, changed_at):
        assert (
            status(
                update(
                    home,
                    client_id,
                    remote.client_header(height, trusted_height=height - 1),
                    remote=remote,
                )
            )
            == "OK"
        )
    # The old four sign a header of the height where only three remain, naming their old set.
    old = remote.blocks[changed_at - 1].validator_set
    forged = forged_header(
        remote, changed_at, trusted_height=changed_at - 1, validator_set_hash=set_hash(remote, old)
    )
    forged.validator_set.CopyFrom(old)
    forged.certificate.CopyFrom(
        sign(
            remote,
            forged.header,
            [(v.member_id, remote.identities[v.member_id].key) for v in old.validators],
        )
    )
    _update_refused(
        home,
        remote,
        client_id,
        forged,
        expected="INVALID_ARGUMENT",
        fragment=f"signed by a validator set other than the one the consensus state at height "
        f"{changed_at - 1} names as next",
    )


def test_a_skip_over_a_validator_set_change_needs_a_third_of_the_trusted_set(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    _remove_node4(remote)
    remote.advance(4)
    target = remote.height
    assert remote.blocks[target].validator_set != remote.blocks[2].next_validator_set
    result = update(home, client_id, remote.client_header(target, trusted_height=2), remote=remote)
    assert status(result) == "OK", result.error
    assert get_client(home, client_id).client.latest_height == target


def _replace_validators(remote: InterchainChain) -> int:
    """Replaces node2-node4 by three new validators: of the old set, only node1 (a quarter of the
    power) still signs. Returns the first height of the new set."""
    new_ids = ["org2/node5", "org3/node6", "org4/node7"]
    for member_id in new_ids:
        identity = remote.new_identity(member_id, (CONSENSUS,))
        result = remote.governance(
            "membership",
            "add_member",
            contracts_pb2.MembershipAddMemberArguments(member=identity.member),
        )
        assert status(result) == "OK", result.error
    updates = [
        contracts_pb2.ValidatorPowerUpdate(member_id=member_id, voting_power=0)
        for member_id in ("org2/node2", "org3/node3", "org4/node4")
    ] + [
        contracts_pb2.ValidatorPowerUpdate(member_id=member_id, voting_power=10)
        for member_id in new_ids
    ]
    result = remote.governance(
        "validators", "update", contracts_pb2.ValidatorsUpdateArguments(updates=updates)
    )
    assert status(result) == "OK", result.error
    return remote.height + 2


def test_a_skip_signed_by_a_third_or_less_of_the_trusted_set_is_refused(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    changed_at = _replace_validators(remote)
    remote.advance(3)
    target = remote.height
    _update_refused(
        home,
        remote,
        client_id,
        remote.client_header(target, trusted_height=2),
        expected="INVALID_ARGUMENT",
        fragment="holds 10 of the trusted set's 40 voting power, not more than one third",
    )
    # Height by height, each set hands over to the next: the same change is followed.
    for height in range(3, target + 1):
        result = update(
            home, client_id, remote.client_header(height, trusted_height=height - 1), remote=remote
        )
        assert status(result) == "OK", (height, result.error)
    assert get_client(home, client_id).client.latest_height == target
    assert target > changed_at


# -- verification inputs come from stored state (Wormhole) ---------------------------------------


def test_wormhole_a_trusted_validator_set_that_the_client_did_not_store_is_refused(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(3)
    # A forger's own set signs a header naming it, and the update says it is the trusted set.
    validators, forger = attacker_set(remote)
    forged = forged_header(
        remote,
        5,
        trusted_height=2,
        validator_set_hash=set_hash(remote, validators),
        next_validator_set_hash=set_hash(remote, validators),
    )
    forged.validator_set.CopyFrom(validators)
    forged.trusted_validator_set.CopyFrom(validators)
    forged.certificate.CopyFrom(sign(remote, forged.header, forger))
    _update_refused(
        home,
        remote,
        client_id,
        forged,
        expected="INVALID_ARGUMENT",
        fragment="is not the next set the consensus state at height 2 names: trust comes from the "
        "client's state, not from the caller",
    )
    # Adjacent, the forger's set is not the next set the client stored either.
    adjacent = forged_header(
        remote, 3, trusted_height=2, validator_set_hash=set_hash(remote, validators)
    )
    adjacent.validator_set.CopyFrom(validators)
    adjacent.certificate.CopyFrom(sign(remote, adjacent.header, forger))
    _update_refused(
        home,
        remote,
        client_id,
        adjacent,
        expected="INVALID_ARGUMENT",
        fragment="signed by a validator set other than",
    )
    # The honest header with a trusted set of the forger's making is refused as well.
    honest = remote.client_header(5, trusted_height=2)
    honest.trusted_validator_set.CopyFrom(validators)
    _update_refused(
        home, remote, client_id, honest, expected="INVALID_ARGUMENT", fragment="not from the caller"
    )


# -- expiry and recovery -------------------------------------------------------------------------


def test_an_expired_client_refuses_updates_and_only_governance_recovers_it(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2, trusting_period_ms=20_000)
    # Twenty seconds of the home chain's time pass without an update.
    home.advance(1, interval_ms=20_000)
    remote.advance(1, interval_ms=20_000)
    answer = get_client(home, client_id)
    assert answer.status == "expired"
    _update_refused(
        home,
        remote,
        client_id,
        remote.client_header(3, trusted_height=2),
        expected="CONFLICT",
        fragment=f"client {client_id} expired",
    )
    with pytest.raises(RequestError, match="expired"):
        active_client(contract_context(home), client_id)
    recovery = interchain_pb2.ClientsRecoverArguments(
        client_id=client_id, header=remote.client_header(3)
    )
    refused = home.run("org1/relayer", "clients", "recover", recovery)
    assert status(refused) == "ENDORSEMENT_POLICY_NOT_SATISFIED"
    result = governance(home, "recover", recovery, time_ms=next_time(home, remote))
    assert status(result) == "OK", result.error
    assert attributes(result, "recover_client") == {"client_id": client_id, "height": "3"}
    answer = get_client(home, client_id)
    assert (answer.status, answer.client.client_id, answer.client.latest_height) == (
        "active",
        client_id,
        3,
    )
    # What the client trusted before the recovery no longer counts.
    with pytest.raises(RequestError, match="no consensus state at height 2"):
        consensus_state(contract_context(home), client_id, 2)
    remote.advance(1)
    assert (
        status(update(home, client_id, remote.client_header(4, trusted_height=3), remote=remote))
        == "OK"
    )
    assert _stored_heights(home, client_id) == [3, 4]
    # An active client is not recovered.
    again = governance(
        home,
        "recover",
        interchain_pb2.ClientsRecoverArguments(client_id=client_id, header=remote.client_header(4)),
        time_ms=next_time(home, remote),
    )
    assert status(again) == "CONFLICT"
    assert "only a frozen or expired client is recovered" in again.error


def test_a_trusted_state_older_than_the_trusting_period_vouches_for_nothing(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2, trusting_period_ms=20_000)
    remote.advance(1, interval_ms=15_000)
    assert (
        status(update(home, client_id, remote.client_header(3, trusted_height=2), remote=remote))
        == "OK"
    )
    remote.advance(1, interval_ms=10_000)
    # The client is active (height 3 is recent) but height 2 is too old to trust.
    _update_refused(
        home,
        remote,
        client_id,
        remote.client_header(4, trusted_height=2),
        expected="CONFLICT",
        fragment="is older than the trusting period of 20000 ms",
    )
    assert (
        status(update(home, client_id, remote.client_header(4, trusted_height=3), remote=remote))
        == "OK"
    )


# -- misbehaviour --------------------------------------------------------------------------------


def test_a_fork_freezes_the_client_and_a_frozen_client_accepts_nothing(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(3)
    assert (
        status(update(home, client_id, remote.client_header(4, trusted_height=2), remote=remote))
        == "OK"
    )
    # The same validators sign another block for height 4.
    fork = forged_header(remote, 4, trusted_height=2, state_root=b"\x0f" * 32)
    result = update(home, client_id, fork, remote=remote)
    assert status(result) == "OK", result.error
    assert attributes(result, "client_frozen") == {
        "client_id": client_id,
        "height": "4",
        "reason": "two headers for one height",
    }
    answer = get_client(home, client_id)
    assert (answer.status, answer.client.frozen_height) == ("frozen", 4)
    # The fork's state was not stored: height 4 still holds the first header's.
    assert (
        consensus_state(contract_context(home), client_id, 4).block_hash
        == remote.blocks[4].block_hash
    )
    _update_refused(
        home,
        remote,
        client_id,
        remote.client_header(5, trusted_height=4),
        expected="CONFLICT",
        fragment="is frozen",
    )
    key = b"sys/config"
    with pytest.raises(RequestError, match="frozen"):
        verify_state(
            contract_context(home), client_id, 4, key, remote.state[key], remote.prove(key, 4)
        )
    with pytest.raises(RequestError, match="frozen"):
        update_client(
            contract_context(home),
            interchain_pb2.ClientsUpdateArguments(
                client_id=client_id, header=remote.client_header(5, trusted_height=4)
            ),
        )
    # Governance recovers it from a header of the chain it trusts.
    recovery = interchain_pb2.ClientsRecoverArguments(
        client_id=client_id, header=remote.client_header(5)
    )
    result = governance(home, "recover", recovery, time_ms=next_time(home, remote))
    assert status(result) == "OK", result.error
    assert get_client(home, client_id).client.frozen_height == 0
    with pytest.raises(RequestError, match="no consensus state at height 4"):
        verify_state(
            contract_context(home), client_id, 4, key, remote.state[key], remote.prove(key, 4)
        )
    assert (
        verify_state(
            contract_context(home), client_id, 5, key, remote.state[key], remote.prove(key, 5)
        ).height
        == 5
    )
    # The states from before the fork are pruned as the client moves on, though still recent.
    remote.advance(1)
    result = update(home, client_id, remote.client_header(6, trusted_height=5), remote=remote)
    assert status(result) == "OK", result.error
    assert _stored_heights(home, client_id) == [5, 6]


def test_recovery_needs_a_header_later_than_the_client_and_within_the_trusting_period(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2, trusting_period_ms=20_000)
    remote.advance(2)
    assert (
        status(update(home, client_id, remote.client_header(4, trusted_height=2), remote=remote))
        == "OK"
    )
    home.advance(1, interval_ms=30_000)
    for height, fragment in (
        (3, "must be later than the client's latest consensus state (height 4"),
        (4, "must be later than the client's latest consensus state (height 4"),
    ):
        result = governance(
            home,
            "recover",
            interchain_pb2.ClientsRecoverArguments(
                client_id=client_id, header=remote.client_header(height)
            ),
        )
        assert status(result) == "INVALID_ARGUMENT", result.error
        assert fragment in result.error
    # A later header, but already older than the trusting period, could not vouch for the next.
    remote.advance(1)
    result = governance(
        home,
        "recover",
        interchain_pb2.ClientsRecoverArguments(client_id=client_id, header=remote.client_header(5)),
    )
    assert status(result) == "INVALID_ARGUMENT"
    assert "older than the trusting period of 20000 ms" in result.error
    assert get_client(home, client_id).status == "expired"


def test_an_adjacent_header_must_follow_the_stored_block(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(1)
    # Signed by the right validators, but on top of another block than the one stored.
    elsewhere = forged_header(remote, 3, trusted_height=2, previous_hash=b"\x0a" * 32)
    _update_refused(
        home,
        remote,
        client_id,
        elsewhere,
        expected="INVALID_ARGUMENT",
        fragment="does not follow the block the client stores at height 2",
    )


def test_the_same_header_twice_is_a_no_op(home: InterchainChain, remote: InterchainChain) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(1)
    header = remote.client_header(3, trusted_height=2)
    first = update(home, client_id, header, remote=remote)
    assert status(first) == "OK", first.error
    before = client_state_keys(home)
    second = update(home, client_id, header, remote=remote)
    assert status(second) == "OK", second.error
    assert event_names(second) == []
    assert second.cost.writes == 0
    assert second.return_value == first.return_value
    assert client_state_keys(home) == before
    assert get_client(home, client_id).status == "active"


def test_a_header_out_of_time_order_between_stored_states_freezes(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(4)
    assert (
        status(update(home, client_id, remote.client_header(6, trusted_height=2), remote=remote))
        == "OK"
    )
    # Height 4, signed by the validators, dated after height 6.
    late = forged_header(remote, 4, trusted_height=2, time_ms=remote.blocks[6].header.time_ms + 1)
    result = update(home, client_id, late, remote=remote)
    assert status(result) == "OK", result.error
    assert attributes(result, "client_frozen")["reason"] == "header time out of order"
    assert get_client(home, client_id).status == "frozen"


def test_a_header_between_stored_states_in_time_order_is_stored(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(8)
    for height, trusted in ((10, 2), (6, 2), (8, 2), (3, 2), (9, 6)):
        result = update(
            home, client_id, remote.client_header(height, trusted_height=trusted), remote=remote
        )
        assert status(result) == "OK", (height, result.error)
        assert event_names(result) == ["update_client"]
    # Between stored states, the nearest one below is found whichever trusted height is named.
    late = forged_header(remote, 7, trusted_height=2, time_ms=remote.blocks[6].header.time_ms)
    result = update(home, client_id, late, remote=remote)
    assert attributes(result, "client_frozen")["height"] == "7"
    answer = get_client(home, client_id)
    assert (answer.client.latest_height, answer.status) == (10, "frozen")


def _misbehaviour(
    first: interchain_pb2.ClientHeader, second: interchain_pb2.ClientHeader, client_id: str
) -> interchain_pb2.ClientsMisbehaviourArguments:
    return interchain_pb2.ClientsMisbehaviourArguments(
        client_id=client_id, first=first, second=second
    )


def test_misbehaviour_submitted_by_anyone_freezes_the_client(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(3)
    arguments = _misbehaviour(
        remote.client_header(5, trusted_height=2),
        forged_header(remote, 5, trusted_height=2, state_root=b"\x0e" * 32),
        client_id,
    )
    result = home.run(
        "org2/bob", "clients", "submit_misbehaviour", arguments, time_ms=next_time(home, remote)
    )
    assert status(result) == "OK", result.error
    assert attributes(result, "client_frozen") == {
        "client_id": client_id,
        "height": "5",
        "reason": "two headers for one height",
    }
    assert get_client(home, client_id).client.frozen_height == 5
    again = home.run(
        "org2/bob", "clients", "submit_misbehaviour", arguments, time_ms=next_time(home, remote)
    )
    assert status(again) == "CONFLICT"
    assert "is frozen" in again.error


def test_misbehaviour_of_time_order_freezes_the_client(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(3)
    arguments = _misbehaviour(
        remote.client_header(4, trusted_height=2),
        forged_header(remote, 5, trusted_height=2, time_ms=remote.blocks[4].header.time_ms),
        client_id,
    )
    result = home.run(
        "org2/bob", "clients", "submit_misbehaviour", arguments, time_ms=next_time(home, remote)
    )
    assert status(result) == "OK", result.error
    assert attributes(result, "client_frozen")["reason"] == "header time out of order"


def test_misbehaviour_that_does_not_verify_changes_nothing(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(3)
    honest = remote.client_header(5, trusted_height=2)
    bad_signature = forged_header(remote, 5, trusted_height=2, state_root=b"\x0e" * 32)
    signature = bytearray(bad_signature.certificate.signatures[0].signature)
    signature[-1] ^= 1
    bad_signature.certificate.signatures[0].signature = bytes(signature)
    validators, forger = attacker_set(remote)
    outsider = forged_header(
        remote, 5, trusted_height=2, validator_set_hash=set_hash(remote, validators)
    )
    outsider.validator_set.CopyFrom(validators)
    outsider.trusted_validator_set.CopyFrom(validators)
    outsider.certificate.CopyFrom(sign(remote, outsider.header, forger))
    cases = [
        (_misbehaviour(honest, bad_signature, client_id), "does not verify"),
        (_misbehaviour(honest, outsider, client_id), "not from the caller"),
        (_misbehaviour(honest, honest, client_id), "both headers are the block at height 5"),
        (
            _misbehaviour(remote.client_header(4, trusted_height=2), honest, client_id),
            "dated in order: not misbehaviour",
        ),
        (_misbehaviour(honest, interchain_pb2.ClientHeader(), client_id), "needs two headers"),
    ]
    before = client_state_keys(home)
    for arguments, fragment in cases:
        result = home.run(
            "org2/bob", "clients", "submit_misbehaviour", arguments, time_ms=next_time(home, remote)
        )
        assert status(result) == "INVALID_ARGUMENT", result.error
        assert fragment in result.error
        assert client_state_keys(home) == before
    assert get_client(home, client_id).status == "active"


# -- intl and gm ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("home_profile", "remote_profile"), [("intl", "gm"), ("gm", "intl")])
def test_a_client_checks_the_counterparty_with_the_counterpartys_profile(
    home_profile: str, remote_profile: str
) -> None:
    home = home_chain(home_profile)
    remote = InterchainChain("x", remote_profile)
    remote.advance(2)
    client_id = create_client(home, remote, 2)
    assert get_client(home, client_id).client.crypto_profile == remote_profile
    remote.advance(3)
    for height, trusted in ((3, 2), (5, 3)):
        result = update(
            home, client_id, remote.client_header(height, trusted_height=trusted), remote=remote
        )
        assert status(result) == "OK", result.error
        # Four signatures of the counterparty's algorithm (SM2 costs several times P-256).
        price = SIGNATURE_VERIFICATION_GAS[remote.profile.default_algorithm]
        assert result.cost.gas_used >= 4 * price
    key = b"sys/config"
    context = contract_context(home)
    proven = verify_state(context, client_id, 5, key, remote.state[key], remote.prove(key, 5))
    assert proven.state_root == remote.blocks[5].header.state_root
    verify_state(context, client_id, 5, b"kv/absent", None, remote.prove(b"kv/absent", 5))
    with pytest.raises(RequestError, match="does not verify"):
        verify_state(context, client_id, 5, key, b"another value", remote.prove(key, 5))
    with pytest.raises(RequestError, match="does not verify"):
        verify_state(context, client_id, 5, key, None, remote.prove(key, 5))


# -- zero never counts (Nomad) ------------------------------------------------------------------


def test_nomad_a_zero_state_root_never_counts_as_proven(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(2)
    # A header whose state root is zero, signed by the validators, is never stored.
    zero = forged_header(remote, 3, trusted_height=2, state_root=bytes(32))
    _update_refused(
        home, remote, client_id, zero, expected="INVALID_ARGUMENT", fragment="a zero state_root"
    )
    # A consensus state with a zero or an empty root (as a default record would have) proves
    # nothing, even for a key absent from every state.
    for height, root in ((7, bytes(32)), (8, b"")):
        planted = interchain_pb2.ConsensusState(
            height=height, time_ms=remote.time_ms, state_root=root
        )
        home.state[keys.CLIENTS_NAMESPACE + keys.consensus_state_key(client_id, height)] = encode(
            planted
        )
        with pytest.raises(RequestError, match="a zero or empty root proves nothing"):
            verify_state(
                contract_context(home),
                client_id,
                height,
                b"kv/absent",
                None,
                types_pb2.StateProof(),
            )
    # A height without a consensus state is an error, never a default.
    for height in (0, 4):
        with pytest.raises(RequestError, match=f"no consensus state at height {height}"):
            verify_state(
                contract_context(home),
                client_id,
                height,
                b"kv/absent",
                None,
                types_pb2.StateProof(),
            )
    with pytest.raises(RequestError, match="there is no client 'client-9'"):
        verify_state(
            contract_context(home), "client-9", 2, b"kv/absent", None, types_pb2.StateProof()
        )


# -- the Python API and the queries --------------------------------------------------------------


def test_update_client_from_another_contract_writes_into_the_clients_namespace(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(1)
    context = contract_context(home, time_ms=remote.time_ms)
    arguments = interchain_pb2.ClientsUpdateArguments(
        client_id=client_id, header=remote.client_header(3, trusted_height=2)
    )
    state = update_client(context, arguments)
    assert state.block_hash == remote.blocks[3].block_hash
    written = {key for key, value in context.writes.items() if value is not None}
    assert written == {
        keys.CLIENTS_NAMESPACE + keys.consensus_state_key(client_id, 3),
        keys.CLIENTS_NAMESPACE + keys.client_key(client_id),
    }
    assert [(contract, name) for contract, name, _, _ in context.events] == [
        ("clients", "update_client")
    ]
    # Idempotent: the same header again returns the stored state and writes nothing more.
    count = len(context.transaction_writes.values)
    assert update_client(context, arguments) == state
    assert len(context.transaction_writes.values) == count
    assert active_client(context, client_id).latest_height == 3


def test_register_counterparty_is_set_once(home: InterchainChain, remote: InterchainChain) -> None:
    client_id = create_client(home, remote, 2)

    def register(counterparty: str) -> types_pb2.TransactionResult:
        return governance(
            home,
            "register_counterparty",
            interchain_pb2.ClientsRegisterCounterpartyArguments(
                client_id=client_id, counterparty_client_id=counterparty
            ),
        )

    assert status(register("client-4")) == "OK"
    assert get_client(home, client_id).client.counterparty_client_id == "client-4"
    assert status(register("client-4")) == "OK"
    refused = register("client-5")
    assert status(refused) == "CONFLICT"
    assert "already names 'client-4'" in refused.error
    bad = register("")
    assert status(bad) == "INVALID_ARGUMENT"
    assert "is not of the form client-<n>" in bad.error


def test_queries_answer_unknown_clients_and_heights_with_not_found(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    result = home.query("clients", "get", interchain_pb2.ClientsGetArguments(client_id="client-7"))
    assert status(result) == "NOT_FOUND"
    assert "there is no client 'client-7'" in result.error
    result = home.query(
        "clients",
        "consensus_state",
        interchain_pb2.ClientsConsensusStateArguments(client_id=client_id, height=3),
    )
    assert status(result) == "NOT_FOUND"
    assert "no consensus state at height 3" in result.error
    result = home.query(
        "clients",
        "consensus_state",
        interchain_pb2.ClientsConsensusStateArguments(client_id=client_id, height=2),
    )
    assert status(result) == "OK"
    assert (
        interchain_pb2.ConsensusState.FromString(result.return_value).block_hash
        == remote.blocks[2].block_hash
    )


# -- gas: the relayer pays for the work ----------------------------------------------------------


def test_an_update_pays_for_every_signature_it_verifies(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2)
    remote.advance(4)
    four = update(home, client_id, remote.client_header(3, trusted_height=2), remote=remote)
    three = update(
        home,
        client_id,
        remote.client_header(
            4, trusted_height=3, signers=["org1/node1", "org2/node2", "org3/node3"]
        ),
        remote=remote,
    )
    assert status(four) == status(three) == "OK"
    assert four.cost.gas_used - three.cost.gas_used >= P256_GAS
    assert four.cost.gas_used >= 4 * P256_GAS
    # A skip also verifies the signers of the trusted set: four more.
    skip = update(home, client_id, remote.client_header(6, trusted_height=4), remote=remote)
    assert status(skip) == "OK"
    assert skip.cost.gas_used - four.cost.gas_used >= 4 * P256_GAS


# -- what a client keeps -------------------------------------------------------------------------


def _stored_heights(home: InterchainChain, client_id: str) -> list[int]:
    prefix = keys.CLIENTS_NAMESPACE + keys.consensus_states_key(client_id)
    return sorted(int(key[len(prefix) :]) for key in home.state if key.startswith(prefix))


def test_consensus_states_older_than_the_trusting_period_are_pruned_two_per_update(
    home: InterchainChain, remote: InterchainChain
) -> None:
    client_id = create_client(home, remote, 2, trusting_period_ms=20_000)
    remote.advance(4)
    for height in range(3, 7):
        assert (
            status(
                update(
                    home,
                    client_id,
                    remote.client_header(height, trusted_height=height - 1),
                    remote=remote,
                )
            )
            == "OK"
        )
    assert _stored_heights(home, client_id) == [2, 3, 4, 5, 6]
    # 19 seconds later, heights 2 to 5 are older than the trusting period: two go per update.
    remote.advance(1, interval_ms=19_000)
    assert (
        status(update(home, client_id, remote.client_header(7, trusted_height=6), remote=remote))
        == "OK"
    )
    assert _stored_heights(home, client_id) == [4, 5, 6, 7]
    remote.advance(1)
    assert (
        status(update(home, client_id, remote.client_header(8, trusted_height=7), remote=remote))
        == "OK"
    )
    assert _stored_heights(home, client_id) == [6, 7, 8]
    # The latest state is never pruned, however old: the client is expired, not emptied.
    home.advance(1, interval_ms=60_000)
    assert get_client(home, client_id).status == "expired"
    assert _stored_heights(home, client_id) == [6, 7, 8]

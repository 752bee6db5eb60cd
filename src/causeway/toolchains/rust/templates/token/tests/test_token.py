"""The token's tests: `causeway contract test` builds the contract and runs them against a chain
in this process (no node). Each test gets a fresh chain; see causeway.toolchains.testing for
what `chain` offers. The deployer (`chain.admin` by default) is the caller of `init`, so the
whole supply is minted to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from causeway.toolchains import DeployedContract, LocalChain

SUPPLY = 1_000


@pytest.fixture
def token(chain: LocalChain, contract_module: Path) -> DeployedContract:
    return chain.deploy(contract_module, init={"supply": SUPPLY})


def balance(token: DeployedContract, owner: str) -> object:
    return token.query("balance", owner=owner)["amount"]


def test_init_mints_the_supply_to_the_deployer(chain: LocalChain, token: DeployedContract) -> None:
    assert token.query("total_supply")["amount"] == SUPPLY
    assert balance(token, chain.admin) == SUPPLY
    assert token.deployment is not None
    (minted,) = token.deployment.events_named("transfer")
    assert dict(minted.fields) == {"from": "", "to": chain.admin, "amount": SUPPLY}


def test_transfer_moves_tokens_and_emits_an_event(
    chain: LocalChain, token: DeployedContract
) -> None:
    alice, bob = chain.clients
    result = token.call("transfer", sender=chain.admin, to=alice, amount=300).expect_ok()
    assert [dict(event.fields) for event in result.events_named("transfer")] == [
        {"from": chain.admin, "to": alice, "amount": 300}
    ]
    token.call("transfer", sender=alice, to=bob, amount=120).expect_ok()
    assert balance(token, chain.admin) == SUPPLY - 300
    assert balance(token, alice) == 180
    assert balance(token, bob) == 120
    assert token.query("total_supply")["amount"] == SUPPLY


def test_an_account_never_seen_has_nothing(token: DeployedContract) -> None:
    assert balance(token, "org9/nobody") == 0


def test_a_transfer_above_the_balance_reverts_and_changes_nothing(
    chain: LocalChain, token: DeployedContract
) -> None:
    alice, bob = chain.clients
    token.call("transfer", sender=chain.admin, to=alice, amount=100).expect_ok()
    result = token.call("transfer", sender=alice, to=bob, amount=101)
    result.expect_revert(f"transfer: insufficient balance: {alice} has 100, needs 101")
    assert result.events == ()
    assert balance(token, alice) == 100
    assert balance(token, bob) == 0


def test_a_transfer_needs_a_recipient(chain: LocalChain, token: DeployedContract) -> None:
    token.call("transfer", sender=chain.admin, to="", amount=1).expect_revert(
        "transfer: the recipient is empty"
    )


def test_a_transfer_to_oneself_changes_nothing(chain: LocalChain, token: DeployedContract) -> None:
    token.call("transfer", sender=chain.admin, to=chain.admin, amount=10).expect_ok()
    assert balance(token, chain.admin) == SUPPLY

"""The counter's tests: `causeway contract test` builds the contract and runs them against a chain
in this process (no node). Each test gets a fresh chain; see causeway.toolchains.testing for
what `chain` offers."""

from __future__ import annotations

from pathlib import Path

from causeway.toolchains import DeployedContract, LocalChain

U64_MAX = 2**64 - 1


def test_init_sets_the_start(chain: LocalChain, contract_module: Path) -> None:
    counter = chain.deploy(contract_module, init={"start": 41})
    assert counter.query("get")["value"] == 41


def test_without_init_arguments_the_counter_starts_at_zero(contract: DeployedContract) -> None:
    assert contract.query("get")["value"] == 0


def test_increment_adds_one_and_returns_the_new_value(contract: DeployedContract) -> None:
    assert contract.call("increment").expect_ok()["value"] == 1
    assert contract.call("increment").expect_ok()["value"] == 2
    assert contract.query("get")["value"] == 2


def test_any_member_may_increment(chain: LocalChain, contract: DeployedContract) -> None:
    for member in chain.clients:
        contract.call("increment", sender=member).expect_ok()
    assert contract.query("get")["value"] == len(chain.clients)


def test_the_counter_stops_at_its_maximum(chain: LocalChain, contract_module: Path) -> None:
    counter = chain.deploy(contract_module, init={"start": U64_MAX})
    counter.call("increment").expect_revert("the counter is at its maximum")
    # A reverted call keeps none of its writes.
    assert counter.query("get")["value"] == U64_MAX

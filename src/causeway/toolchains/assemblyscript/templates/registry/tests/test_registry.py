"""The registry's tests: `causeway contract test` builds the contract and runs them against a
chain in this process (no node). Each test gets a fresh chain; see causeway.toolchains.testing
for what `chain` offers."""

from __future__ import annotations

from causeway.toolchains import DeployedContract, LocalChain

URL = "https://data.example.org/water"


def test_register_records_the_caller_as_owner(
    chain: LocalChain, contract: DeployedContract
) -> None:
    alice = chain.clients[0]
    result = contract.call("register", sender=alice, name="water", value=URL).expect_ok()
    (registered,) = result.events_named("registered")
    assert dict(registered.fields) == {"name": "water", "owner": alice, "value": URL}
    assert contract.query("get", name="water").values == {"owner": alice, "value": URL}


def test_a_name_is_registered_once(chain: LocalChain, contract: DeployedContract) -> None:
    alice, bob = chain.clients
    contract.call("register", sender=alice, name="water", value=URL).expect_ok()
    contract.call("register", sender=bob, name="water", value="mine").expect_revert(
        "register: water is already registered"
    )
    assert contract.query("get", name="water")["owner"] == alice


def test_only_the_owner_updates(chain: LocalChain, contract: DeployedContract) -> None:
    alice, bob = chain.clients
    contract.call("register", sender=alice, name="water", value=URL).expect_ok()
    contract.call("update", sender=bob, name="water", value="taken").expect_revert(
        f"update: water belongs to {alice}"
    )
    assert contract.query("get", name="water")["value"] == URL
    result = contract.call("update", sender=alice, name="water", value=URL + "/v2").expect_ok()
    (updated,) = result.events_named("updated")
    assert dict(updated.fields) == {"name": "water", "owner": alice, "value": URL + "/v2"}
    assert contract.query("get", name="water")["value"] == URL + "/v2"


def test_an_unknown_name_is_not_registered(contract: DeployedContract) -> None:
    contract.query("get", name="air").expect_revert("get: air is not registered")
    contract.call("update", name="air", value="x").expect_revert("update: air is not registered")


def test_list_pages_through_the_names_in_order(contract: DeployedContract) -> None:
    for name in ("e", "a", "d", "c", "b"):
        contract.call("register", name=name, value=name.upper()).expect_ok()
    pages = []
    start_after = ""
    while True:
        page = contract.query("list", start_after=start_after, limit=2).expect_ok()
        pages.append(page["names"])
        start_after = str(page["next"])
        if not start_after:
            break
    assert pages == ["a\nb", "c\nd", "e"]
    # Without a limit, a page holds up to 10 names.
    assert contract.query("list")["names"] == "a\nb\nc\nd\ne"
    contract.query("list", limit=101).expect_revert("list: the limit is at most 100")


def test_names_are_checked(contract: DeployedContract) -> None:
    contract.call("register", name="", value="x").expect_revert("the name must be 1 to 128 bytes")
    contract.call("register", name="a\nb", value="x").expect_revert(
        "the name must not contain a line break"
    )

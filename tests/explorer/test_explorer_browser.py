"""The explorer in a real Chromium: every page, search, and the in-browser proof check.

Each test opens the page the way a reader would, waits for it to render, checks what it shows
against what the test committed, and saves a screenshot in test-artefacts/explorer/.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from explorer_harness import (
    CLIENT,
    CONTRACT,
    ISSUED,
    RECIPIENT,
    TRANSFERRED,
    ExplorerChain,
    GmChain,
)
from playwright.sync_api import Page, Route

pytestmark = pytest.mark.e2e

# How long a page may take to render (it reads up to a few hundred blocks).
RENDER_TIMEOUT_MS = 20_000


def _open(page: Page, chain: ExplorerChain, route: str) -> None:
    page.goto(f"{chain.node.http_url}/explorer/{route}")
    _rendered(page)


def _rendered(page: Page) -> None:
    """Waits until the page has rendered the route in the address bar (not the one before)."""
    page.wait_for_function(
        "document.body.dataset.ready === 'true'"
        " && document.body.dataset.route === (location.hash || '#/')",
        timeout=RENDER_TIMEOUT_MS,
    )
    assert page.locator("#error").count() == 0, page.locator("#error").inner_text()


def _screenshot(page: Page, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"{name}.png"), full_page=True)


def test_dashboard_shows_height_throughput_and_signing_record(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    _open(page, explorer_chain, "")
    with explorer_chain.node.connect() as reader:
        genesis_hash = reader.status().genesis_hash.hex()
    assert page.locator("#genesis-hash").get_attribute("title") == genesis_hash
    height = int(page.locator("#dashboard-height").inner_text())
    assert height >= explorer_chain.transfer_height
    assert page.locator("#tps-chart svg polyline").count() == 1
    validators = page.locator("#validators tbody tr")
    assert validators.count() == 1
    # The one solo validator signed every block the dashboard covers.
    cells = validators.first.locator("td")
    signed, _, covered = cells.nth(3).inner_text().partition(" of ")
    assert int(signed) == int(covered) >= 1
    _screenshot(page, artefacts, "dashboard")


def test_blocks_list_and_block_detail_with_header_check(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    _open(page, explorer_chain, "#/blocks")
    assert page.locator("#blocks tbody tr").count() >= 1
    _screenshot(page, artefacts, "blocks")
    page.click(f"#blocks a[href='#/block/{explorer_chain.transfer_height}']")
    _rendered(page)
    rows = page.locator("#block-transactions tbody tr")
    assert rows.count() >= 1
    assert explorer_chain.transfer_id[:16] in page.locator("#block-transactions").inner_text()
    page.click("#verify-header")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#verify-outcome").inner_text() == "verified"
    _screenshot(page, artefacts, "block")


def test_transaction_with_result_events_and_verified_proof(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    _open(page, explorer_chain, f"#/tx/{explorer_chain.transfer_id}")
    assert page.locator("#transaction-id").inner_text() == explorer_chain.transfer_id
    assert page.locator("#result-status").inner_text() == "ok"
    events = page.locator("table.events").inner_text()
    assert "transfer" in events and f"to={RECIPIENT}" in events
    assert f"amount={TRANSFERRED}" in events
    page.click("#verify")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    outcome = page.locator("#verify-result").inner_text()
    assert page.locator("#verify-outcome").inner_text() == "verified", outcome
    # The signatures were checked, not skipped: the solo validator signs with ECDSA P-256.
    assert "ecdsa-p256 over the commit vote" in outcome
    _screenshot(page, artefacts, "transaction-verified")


def test_failed_transaction_shows_its_status(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    _open(page, explorer_chain, f"#/tx/{explorer_chain.failed_id}")
    assert page.locator("#result-status").inner_text() == "insufficient_funds"
    page.click("#verify")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#verify-outcome").inner_text() == "verified"
    _screenshot(page, artefacts, "transaction-failed-status")


def _tamper_first_sibling(route: Route) -> None:
    """Passes the node's answer on with one bit of the transaction proof's first sibling flipped."""
    answer = route.fetch()
    body = json.loads(answer.text())
    siblings = body["transactionProof"]["siblings"]
    assert siblings, "the block needs at least two transactions for a sibling to tamper with"
    flipped = bytearray(base64.b64decode(siblings[0]))
    flipped[0] ^= 1
    siblings[0] = base64.b64encode(bytes(flipped)).decode()
    route.fulfill(response=answer, body=json.dumps(body))


def _tamper_result(route: Route) -> None:
    """Passes the node's answer on with the result's status changed to a success it was not."""
    answer = route.fetch()
    body = json.loads(answer.text())
    body["result"]["status"] = "RESULT_STATUS_OK"
    body["result"]["error"] = ""
    route.fulfill(response=answer, body=json.dumps(body))


def test_tampered_transaction_proof_is_reported_failed(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    _open(page, explorer_chain, f"#/tx/{explorer_chain.batched_id}")
    page.click("#verify")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#verify-outcome").inner_text() == "verified"
    page.route(f"**/v1/transactions/{explorer_chain.batched_id}", _tamper_first_sibling)
    page.click("#verify")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#verify-outcome").inner_text() == "failed"
    assert "✘ transaction proof" in page.locator("#verify-result").inner_text()
    _screenshot(page, artefacts, "transaction-tampered-proof")


def test_tampered_result_is_reported_failed(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    _open(page, explorer_chain, f"#/tx/{explorer_chain.failed_id}")
    page.route(f"**/v1/transactions/{explorer_chain.failed_id}", _tamper_result)
    page.click("#verify")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#verify-outcome").inner_text() == "failed"
    text = page.locator("#verify-result").inner_text()
    assert "✘ result proof" in text and "✔ transaction proof" in text
    _screenshot(page, artefacts, "transaction-tampered-result")


def test_accounts_and_a_verified_balance(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    _open(page, explorer_chain, "#/accounts")
    accounts = page.locator("#accounts").inner_text()
    assert CLIENT in accounts and RECIPIENT in accounts
    _screenshot(page, artefacts, "accounts")
    page.click(f"#accounts a:text-is('{CLIENT}')")
    _rendered(page)
    assert page.locator("#ledger-balance").inner_text() == str(ISSUED - TRANSFERRED)
    page.click("#verify")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#verify-outcome").inner_text() == "verified"
    _screenshot(page, artefacts, "account")


def test_tampered_balance_is_reported_failed(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    _open(page, explorer_chain, f"#/account/{RECIPIENT}")
    assert page.locator("#ledger-balance").inner_text() == str(TRANSFERRED)

    def richer(route: Route) -> None:
        answer = route.fetch()
        body = json.loads(answer.text())
        body["value"] = base64.b64encode((10**6).to_bytes(8, "big")).decode()
        route.fulfill(response=answer, body=json.dumps(body))

    page.route("**/v1/state/*", richer)
    page.click("#verify")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#verify-outcome").inner_text() == "failed"
    assert "another value" in page.locator("#verify-result").inner_text()
    _screenshot(page, artefacts, "account-tampered")


def test_contracts_native_and_user(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    _open(page, explorer_chain, "#/contracts")
    assert "ledger" in page.locator("#native-contracts").inner_text()
    user = page.locator("#user-contracts").inner_text()
    assert CONTRACT in user and "active" in user
    _screenshot(page, artefacts, "contracts")
    page.click(f"#user-contracts a:text-is('{CONTRACT}')")
    _rendered(page)
    page.click("#verify")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#verify-outcome").inner_text() == "verified"
    _screenshot(page, artefacts, "contract")


def test_proposals_without_a_proposals_contract(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    _open(page, explorer_chain, "#/proposals")
    assert "No governance proposals" in page.locator("#no-proposals").inner_text()
    _screenshot(page, artefacts, "proposals")


def test_packets_page_on_a_chain_without_packets(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    _open(page, explorer_chain, "#/packets")
    assert "No interchain packets" in page.locator("#packets").inner_text()
    _screenshot(page, artefacts, "packets")


@pytest.mark.parametrize(
    ("what", "expected_route"),
    [
        ("height", "#/block/{height}"),
        ("block hash", "#/block/{height}"),
        ("transaction", "#/tx/{transfer}"),
        ("account", "#/account/{account}"),
        ("nothing", "#/not-found/{nothing}"),
    ],
)
def test_search(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path, what: str, expected_route: str
) -> None:
    nothing = "ab" * 32
    with explorer_chain.node.connect() as reader:
        block_hash = reader.get_header(explorer_chain.transfer_height).certificate.block_hash
    queries = {
        "height": str(explorer_chain.transfer_height),
        "block hash": block_hash.hex(),
        "transaction": explorer_chain.transfer_id,
        "account": CLIENT,
        "nothing": nothing,
    }
    _open(page, explorer_chain, "")
    page.fill("#search-input", queries[what])
    page.click("#search button")
    expected = expected_route.format(
        height=explorer_chain.transfer_height,
        transfer=explorer_chain.transfer_id,
        account=CLIENT.replace("/", "%2F"),
        nothing=nothing,
    )
    page.wait_for_function(f"location.hash === {json.dumps(expected)}", timeout=RENDER_TIMEOUT_MS)
    _rendered(page)
    _screenshot(page, artefacts, f"search-{what.replace(' ', '-')}")


def test_absent_account_is_proven_absent(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    _open(page, explorer_chain, "#/account/nobody")
    assert page.locator("#ledger-balance").inner_text() == "0"
    page.click("#verify")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#verify-outcome").inner_text() == "verified"
    assert "absence against state_root" in page.locator("#verify-result").inner_text()
    _screenshot(page, artefacts, "account-absent")


def test_gm_transaction_is_verified_with_sm3_and_sm2(
    page: Page, gm_chain: GmChain, artefacts: Path
) -> None:
    page.goto(f"{gm_chain.node.http_url}/explorer/#/tx/{gm_chain.transfer_id}")
    _rendered(page)
    page.click("#verify")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    outcome = page.locator("#verify-result").inner_text()
    assert page.locator("#verify-outcome").inner_text() == "verified", outcome
    assert "sm2 over the commit vote" in outcome
    _screenshot(page, artefacts, "gm-transaction-verified")


def test_standalone_explorer_reads_and_verifies_through_its_own_port(
    page: Page, explorer_chain: ExplorerChain, standalone_explorer: str, artefacts: Path
) -> None:
    page.goto(f"{standalone_explorer}/explorer/")
    _rendered(page)
    assert int(page.locator("#dashboard-height").inner_text()) >= explorer_chain.transfer_height
    page.goto(f"{standalone_explorer}/explorer/#/tx/{explorer_chain.transfer_id}")
    _rendered(page)
    page.click("#verify")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#verify-outcome").inner_text() == "verified"
    # Reads pass; a submission does not.
    refused = page.evaluate(
        "fetch('/v1/transactions', {method: 'POST', body: '{}'}).then((answer) => answer.status)"
    )
    assert refused == 405
    _screenshot(page, artefacts, "standalone-transaction-verified")


def test_tampered_certificate_signature_is_reported_failed(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    _open(page, explorer_chain, f"#/tx/{explorer_chain.transfer_id}")

    def forged(route: Route) -> None:
        answer = route.fetch()
        body = json.loads(answer.text())
        signature = body["certificate"]["signatures"][0]
        value = bytearray(base64.b64decode(signature["signature"]))
        value[-1] ^= 1
        signature["signature"] = base64.b64encode(bytes(value)).decode()
        route.fulfill(response=answer, body=json.dumps(body))

    page.route(f"**/v1/blocks/{explorer_chain.transfer_height}?header_only=true", forged)
    page.click("#verify")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    text = page.locator("#verify-result").inner_text()
    assert page.locator("#verify-outcome").inner_text() == "failed"
    assert "✘ signature of org1/node1" in text and "✘ quorum of voting power" in text
    assert "✔ transaction proof" in text
    _screenshot(page, artefacts, "transaction-forged-certificate")


def _proposal_record(
    proposal_id: int, title: str, creator: str, *, status: int = 2, organisation: str = ""
) -> bytes:
    """An encoded causeway.contracts.v1.Proposal (id 1, title 2, creator 6, status 9, creator's
    organisation 16), written out by hand as the explorer's own decoder must read it."""

    def varint(value: int) -> bytes:
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    def text(number: int, value: str) -> bytes:
        data = value.encode()
        return varint(number << 3 | 2) + varint(len(data)) + data

    return (
        varint(1 << 3)
        + varint(proposal_id)
        + text(2, title)
        + text(6, creator)
        + varint(9 << 3)
        + varint(status)
        + (text(16, organisation) if organisation else b"")
    )


def test_proposals_from_the_proposals_contract_s_events_and_record(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    """The events and the record the proposals contract writes, put into the node's answers
    (this chain has no such contract): the page groups them by proposal, and a record that the
    state does not hold is shown failed by its proof."""
    height = explorer_chain.transfer_height
    events = [
        ("created", [("id", "7"), ("creator", "org1/admin"), ("deadline_ms", "1893456000000")]),
        ("voted", [("id", "7"), ("organisation", "org1"), ("vote", "yes")]),
        ("voted", [("id", "7"), ("organisation", "org2"), ("vote", "yes")]),
        ("executed", [("id", "7")]),
    ]

    def with_events(route: Route) -> None:
        answer = route.fetch()
        body = json.loads(answer.text())
        body["results"][0]["events"].extend(
            {
                "contract": "proposals",
                "name": name,
                "attributes": [{"key": key, "value": value} for key, value in attributes],
                "data": "",
            }
            for name, attributes in events
        )
        route.fulfill(response=answer, body=json.dumps(body))

    page.route(f"**/v1/blocks/{height}", with_events)
    _open(page, explorer_chain, "#/proposals")
    row = page.locator("#proposals tbody tr")
    assert row.count() == 1
    text = row.first.inner_text()
    assert "org1/admin" in text and "org1: yes, org2: yes" in text and "executed" in text
    height_text = str(explorer_chain.transfer_height)
    history = row.first.locator("td").nth(5)
    assert history.inner_text() == ", ".join(
        f"{name}@{height_text}" for name in ("created", "voted", "voted", "executed")
    )
    assert history.locator("a").count() == len(events)
    _screenshot(page, artefacts, "proposals-listed")

    record = _proposal_record(7, "Add organisation org4", "org1/admin")
    key = f"sys/proposals/proposal/{7:020d}".encode().hex()

    def with_record(route: Route) -> None:
        answer = route.fetch()
        body = json.loads(answer.text())
        body["found"] = True
        body["value"] = base64.b64encode(record).decode()
        route.fulfill(response=answer, body=json.dumps(body))

    page.route(f"**/v1/state/{key}", with_record)
    page.click("#proposals a:text-is('7')")
    _rendered(page)
    details = page.locator("#proposal").inner_text()
    assert "Add organisation org4" in details and "org1/admin" in details
    assert page.locator("#proposal-status").inner_text() == "executed"
    page.click("#verify")
    page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
    assert page.locator("#verify-outcome").inner_text() == "failed"
    assert "absent, but a value was claimed" in page.locator("#verify-result").inner_text()
    _screenshot(page, artefacts, "proposal-record")


def test_withdrawn_and_rejected_proposals_show_their_status(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    """The events of a withdrawal and a rejection end their proposals' rows, and a withdrawn
    record shows its status by name and its creator's organisation."""
    height = explorer_chain.transfer_height
    events = [
        ("created", [("id", "8"), ("creator", "org1/admin"), ("deadline_ms", "1893456000000")]),
        ("withdrawn", [("id", "8"), ("organisation", "org1"), ("member", "org1/admin")]),
        ("created", [("id", "9"), ("creator", "org2/admin"), ("deadline_ms", "1893456000000")]),
        ("voted", [("id", "9"), ("organisation", "org1"), ("vote", "no")]),
        ("rejected", [("id", "9"), ("no", "org1")]),
    ]

    def with_events(route: Route) -> None:
        answer = route.fetch()
        body = json.loads(answer.text())
        body["results"][0]["events"].extend(
            {
                "contract": "proposals",
                "name": name,
                "attributes": [{"key": key, "value": value} for key, value in attributes],
                "data": "",
            }
            for name, attributes in events
        )
        route.fulfill(response=answer, body=json.dumps(body))

    page.route(f"**/v1/blocks/{height}", with_events)
    _open(page, explorer_chain, "#/proposals")
    rows = page.locator("#proposals tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").nth(4).inner_text() == "withdrawn"
    assert rows.nth(1).locator("td").nth(4).inner_text() == "rejected"
    _screenshot(page, artefacts, "proposals-withdrawn-rejected")

    withdrawn = 5
    record = _proposal_record(
        8, "Larger blocks", "org1/admin", status=withdrawn, organisation="org1"
    )
    key = f"sys/proposals/proposal/{8:020d}".encode().hex()

    def with_record(route: Route) -> None:
        answer = route.fetch()
        body = json.loads(answer.text())
        body["found"] = True
        body["value"] = base64.b64encode(record).decode()
        route.fulfill(response=answer, body=json.dumps(body))

    page.route(f"**/v1/state/{key}", with_record)
    page.click("#proposals a:text-is('8')")
    _rendered(page)
    assert page.locator("#proposal-status").inner_text() == "withdrawn"
    assert "creator's organisation" in page.locator("#proposal").inner_text()
    assert "org1" in page.locator("#proposal").inner_text()


def test_packets_and_bank_balances_from_the_interchain_contracts_events(
    page: Page, explorer_chain: ExplorerChain, artefacts: Path
) -> None:
    """The events the packets and bank contracts write, put into the node's answers (this chain
    has no counterparty): the packets page lists the packet, and the account page asks the state
    for the bank balance of each denomination seen (absent here: 0)."""
    height = explorer_chain.transfer_height
    denomination = "transfer/client-0/coin"
    injected = [
        (
            "packets",
            "send_packet",
            [
                ("source_client", "client-0"),
                ("destination_client", "client-3"),
                ("sequence", "12"),
                ("source_port", "transfer"),
                ("destination_port", "transfer"),
            ],
        ),
        ("bank", "mint", [("account", CLIENT), ("denom", denomination), ("amount", "5")]),
    ]

    def with_events(route: Route) -> None:
        answer = route.fetch()
        body = json.loads(answer.text())
        body["results"][0]["events"].extend(
            {
                "contract": contract,
                "name": name,
                "attributes": [{"key": key, "value": value} for key, value in attributes],
                "data": "",
            }
            for contract, name, attributes in injected
        )
        route.fulfill(response=answer, body=json.dumps(body))

    page.route(f"**/v1/blocks/{height}", with_events)
    _open(page, explorer_chain, "#/packets")
    rows = page.locator("#packets tbody tr")
    assert rows.count() == 1
    cells = [rows.first.locator("td").nth(index).inner_text() for index in range(6)]
    assert cells == [
        str(height),
        "send_packet",
        "client-0",
        "client-3",
        "12",
        "transfer → transfer",
    ]
    _screenshot(page, artefacts, "packets-listed")

    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(f"{explorer_chain.node.http_url}/explorer/#/account/{CLIENT}")
    _rendered(page)
    assert page.locator("#bank-balances").inner_text().split() == [
        "denomination",
        "balance",
        denomination,
        "0",
    ]
    bank_key = f"bank/balance/{CLIENT}".encode() + b"\x00" + denomination.encode()
    assert any(url.endswith(f"/v1/state/{bank_key.hex()}") for url in asked), asked
    _screenshot(page, artefacts, "account-bank")

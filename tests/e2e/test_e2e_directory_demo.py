"""The directory demo (`make directory-demo`: scripts/demo_directory.py) run as a user runs it,
on a devnet of the same chains as examples/devnet-directory.toml made small (one validator each,
fewer organisations) so that it fits the suite's time: the script deploys and loads the three
directories, joins the districts to the city and starts the roll-up and the directory service as
the devnet's services; then the test reads what a user would see through the service's CKAN API
and web API, revises a district resource on its own chain and watches the revision reach the
city's directory with its attestation, and stops everything with `devnet down`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from devnet_harness import free_port_base
from manifest_devnets import ROOT, manifest_devnet, run_cli

from causeway.apps.directory import DirectoryClient
from causeway.provisioning import load_devnet_description
from causeway.provisioning.devnet import is_running, load_services
from causeway.sdk import Client, Identity

_EXPLORER_TESTS = str(Path(__file__).resolve().parents[1] / "explorer")
if _EXPLORER_TESTS not in sys.path:
    sys.path.insert(0, _EXPLORER_TESTS)

from explorer_harness import chromium_context  # noqa: E402

pytestmark = pytest.mark.e2e

MANIFEST = """
version = 1
port_base = {port_base}

[[chains]]
id = "hub"
hub = true
consensus = "solo"

[[chains]]
id = "beijing"
consensus = "solo"
organisations = 5

[[chains]]
id = "haidian"
consensus = "solo"
organisations = 3

[[chains]]
id = "chaoyang"
consensus = "solo"
organisations = 3

[[links]]
chains = ["hub", "beijing"]

[[links]]
chains = ["hub", "haidian"]

[[links]]
chains = ["hub", "chaoyang"]

[[relayers]]
name = "relayer-1"
links = [["hub", "beijing"], ["hub", "haidian"], ["hub", "chaoyang"]]
"""
PORTS = 13
RESOURCES = 12
DEMO_TIMEOUT_S = 420.0
WAIT_S = 120.0
ARTEFACTS = ROOT / "test-artefacts" / "directory-demo"
RENDER_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    """The devnet with the demo loaded and served: (its folder, the service's address, the
    script's output)."""
    root = tmp_path_factory.mktemp("directory-demo")
    with manifest_devnet(root, MANIFEST, PORTS) as directory:
        listen = f"127.0.0.1:{free_port_base(1)}"
        try:
            completed = subprocess.run(
                [
                    sys.executable,
                    "scripts/demo_directory.py",
                    str(directory),
                    "--resources",
                    str(RESOURCES),
                    "--listen",
                    listen,
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=DEMO_TIMEOUT_S,
                check=False,
            )
            assert completed.returncode == 0, (
                f"{completed.stdout}\n{completed.stderr}\n{service_logs(directory)}"
            )
            yield directory, listen, completed.stdout
        finally:
            down = run_cli("devnet", "down", "--dir", str(directory))
            assert down.returncode == 0, down.stderr


def service_logs(directory: Path) -> str:
    return "\n".join(
        f"--- {path} ---\n{path.read_text(encoding='utf-8', errors='replace')[-3000:]}"
        for path in sorted((directory / "services").glob("*.log"))
    )


def ckan(listen: str, action: str, **parameters: object) -> dict[str, object]:
    answer = httpx.get(f"http://{listen}/api/3/action/{action}", params=parameters, timeout=10)
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["success"] is True
    result = document["result"]
    assert isinstance(result, dict)
    return result


def wait_for(check: object, what: str) -> object:
    deadline = time.monotonic() + WAIT_S
    while True:
        found = check()  # type: ignore[operator]
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT_S:.0f} s")
        time.sleep(0.5)


def test_the_demo_loads_the_city_and_rolls_up_both_districts(
    demo: tuple[Path, str, str],
) -> None:
    directory, listen, output = demo
    assert "1. built the directory contract" in output
    assert "district HD registered" in output and "district CY registered" in output
    assert "6 sharing requests, 4 answered" in output
    assert f"The directory: http://{listen}/ui/" in output
    services = {service.name: service for service in load_services(directory)}
    assert set(services) == {"directory", "directory-rollup"}
    assert all(is_running(service.pid) for service in services.values())
    everything = ckan(listen, "package_search", rows=0, **{"facet.field": '["district"]'})
    districts = {
        item["name"]: item["count"]
        for item in everything["search_facets"]["district"]["items"]  # type: ignore[index]
    }
    # Each district registered a quarter of the city's number, and all of it rolled up.
    assert districts == {"HD": RESOURCES // 4, "CY": RESOURCES // 4}
    assert everything["count"] == RESOURCES + 2 * (RESOURCES // 4)
    # The web interface is served, and a staff member signs in with a printed token.
    page = httpx.get(f"http://{listen}/ui/", timeout=10)
    assert page.status_code == 200 and "<html" in page.text.lower()
    [token_line, *_] = [line for line in output.splitlines() if line.startswith("Sign in as ")]
    token = token_line.rsplit(" ", 1)[1]
    answer = httpx.get(
        f"http://{listen}/api/3/action/organization_list",
        headers={"Authorization": token},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["success"] is True
    # The administrators' token: no department, the inbox of escalated requests (empty: no
    # request has waited the fifteen days).
    [inbox_line] = [line for line in output.splitlines() if "administrators' inbox" in line]
    inbox = {"Authorization": inbox_line.rsplit(" ", 1)[1]}
    session = httpx.get(f"http://{listen}/directory/api/session", headers=inbox, timeout=10)
    assert session.status_code == 200, session.text
    assert (session.json()["administrator"], session.json()["department"]) == (True, None)
    escalated = httpx.get(
        f"http://{listen}/directory/api/requests?role=escalated", headers=inbox, timeout=10
    )
    assert escalated.status_code == 200 and escalated.json() == []
    status = json.loads(run_cli("devnet", "status", "--dir", str(directory), "--json").stdout)
    assert {service["name"] for service in status["services"]} == {"directory", "directory-rollup"}


def test_a_district_revision_reaches_the_city_with_its_attestation(
    demo: tuple[Path, str, str], tmp_path: Path
) -> None:
    profile = tmp_path / "chromium-profile"
    directory, listen, _ = demo
    description = load_devnet_description(directory)
    haidian = description.chain("haidian")
    folders = {member.member_id: Path(member.directory) for member in haidian.members}
    found = ckan(listen, "package_search", rows=1, fq="district:HD", sort="name asc")
    [package] = found["results"]  # type: ignore[misc]
    code = {item["key"]: item["value"] for item in package["extras"]}["resource_code"]
    with Client(haidian.nodes[0].grpc_address, Identity.load(folders["org1/client"])) as reader:
        current = DirectoryClient(reader).get_resource(code)
    # The member who registered it acts for its department on the district chain.
    with Client(haidian.nodes[0].grpc_address, Identity.load(folders[current.author])) as client:
        metadata = type(current.metadata)()
        metadata.CopyFrom(current.metadata)
        metadata.name = current.metadata.name + "2026年修订版"
        revised = DirectoryClient(client).revise_resource(
            code, current.version, metadata, note="年度更新"
        )

    def rolled_up() -> dict[str, object] | None:
        history = httpx.get(
            f"http://{listen}/directory/api/resources/{code}/history", timeout=10
        ).json()
        versions = history.get("versions", [])
        return history if len(versions) == revised.version else None

    history = wait_for(rolled_up, f"version {revised.version} of {code} in the city's directory")
    assert isinstance(history, dict)
    latest = history["versions"][-1]
    assert latest["name"] == metadata.name
    assert latest["rollup"]["district"] == "HD"
    assert latest["rollup"]["district_chain_id"] == "haidian"
    # The district's own facts: the revision's transaction on haidian.
    assert latest["transaction_id"] == revised.transaction_id.hex()
    shown = ckan(listen, "package_show", id=package["id"])
    extras = {item["key"]: item["value"] for item in shown["extras"]}  # type: ignore[union-attr]
    assert extras["district"] == "HD"

    # In the browser, the city's page of the resource shows the district's revision and its
    # "verify" checks the city's record of it against a header of the city chain.
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_context(profile) as context:
        page = context.new_page()
        page.goto(f"http://{listen}/ui/#/resource/{code}")
        button = f"#verify-{revised.version}"
        page.wait_for_selector(button, timeout=RENDER_TIMEOUT_MS)
        assert "汇聚自区级目录 HD (haidian @" in page.locator("#history").inner_text()
        page.click(button)
        page.wait_for_selector("#verify-outcome", timeout=RENDER_TIMEOUT_MS)
        outcome = page.locator("#verify-outcome").inner_text()
        page.screenshot(path=str(ARTEFACTS / "rolled-up-revision-verified.png"), full_page=True)
        assert outcome == "验证通过", page.locator("#verify-result").inner_text()


def test_the_registration_bench_runs_on_the_demo_city(demo: tuple[Path, str, str]) -> None:
    """bench/directory_registration.py (docs/directory.md quotes it on a 4-validator tbft chain)
    run as its docstring says, here on the demo's city chain, whose contract and departments the
    demo loaded as the bench would: its own resources (another seed than the demo's) are
    registered and counted back from the chain's blocks. Last in the module: the tests above
    count the city's resources."""
    directory, _, _ = demo
    bench_resources = 8
    completed = subprocess.run(
        [
            sys.executable,
            "bench/directory_registration.py",
            "--devnet",
            str(directory),
            "--resources",
            str(bench_resources),
            "--batch",
            "3",
            "--in-flight",
            "2",
            "--seed",
            "20261205",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    [line] = completed.stdout.splitlines()
    assert re.fullmatch(
        rf"{bench_resources} registrations on beijing \(solo, 1 validators\) in \d+ blocks: "
        r"[\d,]+ per second from first submission to last commit \([\d.]+ s\), "
        r"([\d,]+ per second between the first and last block \([\d.]+ s\); )?"
        r"mean gas [\d,]+ per registration",
        line,
    ), line

"""`make directory-demo`'s directory: the government data directory on a devnet from
examples/devnet-directory.toml (a hub, the city chain "beijing" with dozens of departments'
organisations, the district chains "haidian" and "chaoyang" joined through the hub), loaded with
the generated catalogue, and the processes that serve it.

1. builds the directory contract (AssemblyScript) and deploys it by governance on the city chain
   (directory "beijing", level CITY) and on each district chain (level DISTRICT), administered by
   org1;
2. records the classification scheme and the departments (on the city, one organisation per
   department from org2 on; on a district, its counterparts), then registers the generated
   resources, each signed by its department's member;
3. on the city: a light client of each district chain (governance) and the district's
   registration (set_district); a few sharing requests between departments, answered or not;
4. starts, as the devnet's services (`causeway devnet status` lists them, `devnet down` stops
   them), `causeway directory rollup` (the districts' versions carried up to the city, proven by
   those clients) and `causeway directory serve` (index, CKAN API, DCAT, web interface) for the
   city;
5. waits until the service shows the districts' resources, issues a sign-in token for a staff
   member of two departments and one for the administrators (org1, no department: the inbox of
   escalated requests) and prints where everything is.

Run again on the same devnet, it loads nothing twice and starts the services again.

    python scripts/demo_directory.py DEVNET_DIRECTORY [--resources N] [--listen HOST:PORT]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from causeway.apps.directory import catalogue
from causeway.apps.directory.contract import CONTRACT_NAME, build_contract, decode_result
from causeway.apps.directory.loading import ADMINISTRATOR, Call, DirectoryLoader, Registered
from causeway.apps.directory.v1 import directory_pb2 as pb
from causeway.errors import CausewayError
from causeway.provisioning import load_devnet_description
from causeway.provisioning.devnet import start_service_process
from causeway.provisioning.interchain_devnet import ChainEntry

CITY = "beijing"
# (district code, chain id, directory id)
DISTRICTS = (("HD", "haidian", "beijing-haidian"), ("CY", "chaoyang", "beijing-chaoyang"))
DISTRICT_DEPARTMENTS = 6
TIMEOUT_S = 120.0
TRUSTING_PERIOD_MS = 14 * 24 * 3_600_000
CLOCK_DRIFT_MS = 10_000
# How long the service may take to follow the city and show the districts' resources.
SERVICE_WAIT_S = 180.0


def log(text: str) -> None:
    print(text, flush=True)


def load_directory(  # noqa: PLR0917 (its two call sites name them all)
    loader: DirectoryLoader,
    contract: tuple[bytes, str],
    init: pb.DirectoryInitArguments,
    departments: list[pb.Department],
    resource_count: int,
    seed: int,
) -> list[Registered]:
    """Deploys and fills one directory; its resources."""
    code, interface = contract
    loader.deploy(code, interface, init)
    log(f"   {loader.chain.id}: directory {init.directory_id} deployed ({len(code):,} bytes)")
    categories = loader.set_scheme()
    placed = loader.set_departments(departments)
    registered = loader.register(placed, resource_count, seed=seed)
    log(
        f"   {loader.chain.id}: {categories} categories, {len(placed)} departments, "
        f"{len(registered)} resources"
    )
    return registered


def make_requests(city: DirectoryLoader, registered: list[Registered]) -> None:
    """Sharing requests between city departments so that inboxes hold something: two approved,
    one approved on conditions, one refused with its reason, two left pending."""
    shareable = [
        item for item in registered if item.metadata.sharing_type != pb.SHARING_TYPE_NOT_SHARED
    ]
    departments = sorted(
        {item.department.code: item.department for item in registered}.values(), key=str
    )
    calls: list[Call] = []
    asked: list[tuple[pb.Department, str, int]] = []
    for number, item in enumerate(shareable[:6]):
        code, provider, metadata = item.code, item.department, item.metadata
        requester = departments[(departments.index(provider) + 1) % len(departments)]
        arguments = pb.RequestSharingArguments(
            resource_code=code,
            purpose="履行法定职责需要核验相关信息",
            data_items=[item.name for item in metadata.data_items[:2]],
            legal_basis="《政务信息资源共享管理暂行办法》第十条",
        )
        calls.append((f"{requester.organisation}/client", "request_sharing", arguments))
        asked.append((provider, code, number))
    results = city.submit(calls, "the sharing requests")
    answers: list[Call] = []
    for (provider, _, number), result in zip(asked, results, strict=True):
        created = decode_result("request_sharing", result.return_value)
        assert isinstance(created, pb.RequestSharingResult)
        member = f"{provider.organisation}/client"
        if number in (0, 1):
            answers.append((member, "approve", pb.AnswerRequestArguments(id=created.id)))
        elif number == 2:
            terms = f"仅用于本次核验{catalogue.COMMA}结果不得留存"
            answers.append(
                (member, "approve", pb.AnswerRequestArguments(id=created.id, terms=terms))
            )
        elif number == 3:
            reason = "申请的数据项超出履职所需范围"
            answers.append(
                (member, "refuse", pb.RefuseRequestArguments(id=created.id, reason=reason))
            )
    city.submit(answers, "answering the requests")
    log(f"   beijing: {len(calls)} sharing requests, {len(answers)} answered, the rest pending")


def register_district(
    city: DirectoryLoader, district: DirectoryLoader, code: str, directory_id: str
) -> str:
    """The city's light client of the district chain and the district's registration; the
    client's id."""
    single_signer = district.chain.consensus == "solo"
    client_id = city.admin.interchain.create_client(
        district.admin,
        trusting_period_ms=TRUSTING_PERIOD_MS,
        clock_drift_ms=CLOCK_DRIFT_MS,
        single_signer_accepted=single_signer,
        endorsers=city.endorsers(),
        timeout_s=TIMEOUT_S,
    )
    registration = pb.District(
        code=code,
        directory_id=directory_id,
        client_id=client_id,
        chain_id=district.chain.id,
        contract_name=CONTRACT_NAME,
    )
    city.submit(
        [
            (
                f"{ADMINISTRATOR}/admin",
                "set_district",
                pb.SetDistrictArguments(district=registration),
            )
        ],
        "registering the district",
    )
    log(
        f"   beijing: district {code} registered, proven by {client_id} (a light client of "
        f"{district.chain.id})"
    )
    return client_id


def toml_text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def chain_table(chain: ChainEntry, member: str) -> str:
    session_members = {entry.member_id: entry.directory for entry in chain.members}
    nodes = ", ".join(toml_text(node.grpc_address) for node in chain.nodes)
    return (
        f"[chains.{chain.id}]\nnodes = [{nodes}]\nidentity = {toml_text(session_members[member])}\n"
    )


def write_configs(
    directory: Path, city: ChainEntry, districts: list[ChainEntry], listen: str, members: list[str]
) -> tuple[Path, Path]:
    folder = (directory / "directory").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    service = folder / "service.toml"
    member_folders = {entry.member_id: entry.directory for entry in city.members}
    service.write_text(
        "# The city directory's service (causeway directory serve; docs/directory.md).\n"
        "[service]\n"
        f'contract = "{CONTRACT_NAME}"\n'
        f'index = "sqlite:{folder / "index.sqlite3"}"\n'
        f"listen = {toml_text(listen)}\n\n"
        + chain_table(city, f"{ADMINISTRATOR}/client")
        + "".join(
            f"\n[[members]]\nidentity = {toml_text(member_folders[member])}\n" for member in members
        ),
        encoding="utf-8",
    )
    rollup = folder / "rollup.toml"
    rollup.write_text(
        "# District directories rolled up into the city's (causeway directory rollup).\n"
        "[rollup]\n"
        f'city = "{city.id}"\n'
        f'contract = "{CONTRACT_NAME}"\n'
        f"districts = [{', '.join(toml_text(code) for code, _, _ in DISTRICTS)}]\n"
        "interval_ms = 2000\n\n"
        + chain_table(city, f"{ADMINISTRATOR}/client")
        + "".join("\n" + chain_table(chain, f"{ADMINISTRATOR}/client") for chain in districts),
        encoding="utf-8",
    )
    return service, rollup


def search(listen: str, query: str) -> dict[str, object]:
    with urllib.request.urlopen(
        f"http://{listen}/api/3/action/package_search?{query}", timeout=10
    ) as answer:
        document = json.loads(answer.read())
    result = document["result"]
    assert isinstance(result, dict)
    return result


def wait_for_service(listen: str, expected_city: int, districts: Sequence[str]) -> dict[str, int]:
    """Waits until the service's index holds the city's resources and some of every district's;
    the count per district."""
    deadline = time.monotonic() + SERVICE_WAIT_S
    counts: dict[str, int] = {}
    while True:
        try:
            counts = {
                code: int(search(listen, f"rows=0&fq=district:{code}")["count"])  # type: ignore[call-overload]
                for code in districts
            }
            total = int(search(listen, "rows=0")["count"])  # type: ignore[call-overload]
            if total >= expected_city and all(counts.values()):
                return counts
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise CausewayError(
                f"the directory service at {listen} did not show the districts' resources in "
                f"{SERVICE_WAIT_S:.0f} s (counts {counts}); see its log"
            )
        time.sleep(1.0)


def issue_token(service_config: Path, member: str) -> str:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "causeway.cli",
            "directory",
            "token",
            "--config",
            str(service_config),
            "--member",
            member,
            "--label",
            "directory demo",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if completed.returncode != 0:
        raise CausewayError(f"issuing a token for {member} failed: {completed.stderr.strip()}")
    return completed.stdout.strip()


def main(directory: Path, resource_count: int, listen: str) -> None:
    description = load_devnet_description(directory)
    city_chain = description.chain(CITY)
    district_chains = [description.chain(chain_id) for _, chain_id, _ in DISTRICTS]
    city = DirectoryLoader(city_chain, timeout_s=TIMEOUT_S)
    districts = [DirectoryLoader(chain, timeout_s=TIMEOUT_S) for chain in district_chains]
    try:
        city_departments = catalogue.city_departments(min(40, city.department_capacity()))
        if city.deployed():
            log("1. the directory is deployed already: nothing is loaded again")
        else:
            module, interface_path = build_contract()
            contract = (
                Path(module).read_bytes(),
                Path(interface_path).read_text(encoding="utf-8"),
            )
            log(f"1. built the directory contract: {len(contract[0]):,} bytes")
            log("2. the city's directory and the districts'")
            registered = load_directory(
                city,
                contract,
                pb.DirectoryInitArguments(
                    directory_id="beijing",
                    level=pb.DIRECTORY_LEVEL_CITY,
                    name="北京市政务信息资源目录",
                    administrator_organisations=[ADMINISTRATOR],
                ),
                city_departments,
                resource_count,
                seed=1,
            )
            district_names = {code: name for code, name, _ in catalogue.DISTRICTS}
            for number, ((district_code, _, directory_id), session) in enumerate(
                zip(DISTRICTS, districts, strict=True)
            ):
                load_directory(
                    session,
                    contract,
                    pb.DirectoryInitArguments(
                        directory_id=directory_id,
                        level=pb.DIRECTORY_LEVEL_DISTRICT,
                        name=f"{district_names[district_code]}政务信息资源目录",
                        administrator_organisations=[ADMINISTRATOR],
                        parent_directory_id="beijing",
                    ),
                    catalogue.district_departments(
                        district_code,
                        min(DISTRICT_DEPARTMENTS, session.department_capacity()),
                    ),
                    max(1, resource_count // 4),
                    seed=2 + number,
                )
            log("3. the districts joined to the city's directory, and sharing between departments")
            for (district_code, _, directory_id), session in zip(DISTRICTS, districts, strict=True):
                register_district(city, session, district_code, directory_id)
            make_requests(city, registered)
        staff = [
            f"{city.department_organisation(number)}/client"
            for number in range(min(2, len(city_departments)))
        ]
        service_config, rollup_config = write_configs(
            directory,
            city_chain,
            district_chains,
            listen,
            sorted({f"{organisation}/client" for organisation in city.organisations}),
        )
        log("4. the roll-up and the directory service")
        rollup = start_service_process(
            directory, "directory-rollup", ["directory", "rollup", "--config", str(rollup_config)]
        )
        log(f"   causeway directory rollup (PID {rollup.pid}, log {rollup.log})")
        served = start_service_process(
            directory,
            "directory",
            ["directory", "serve", "--config", str(service_config)],
            url=f"http://{listen}/ui/",
        )
        log(f"   causeway directory serve (PID {served.pid}, log {served.log})")
        counts = wait_for_service(listen, resource_count, [code for code, _, _ in DISTRICTS])
        shown = ", ".join(f"{code} {count}" for code, count in counts.items())
        log(f"5. the service shows the city's resources and the districts' rolled up ({shown})")
        tokens = {member: issue_token(service_config, member) for member in staff}
        # org1 administers the directory and is no department: its token opens the inbox of
        # escalated requests.
        inbox_member = f"{ADMINISTRATOR}/client"
        inbox_token = issue_token(service_config, inbox_member)
    finally:
        city.close()
        for session in districts:
            session.close()
    log("")
    log(
        f"The directory: http://{listen}/ui/   (CKAN API http://{listen}/api/3/action/, DCAT http://{listen}/catalog.ttl)"
    )
    for member, token in tokens.items():
        log(f"Sign in as {member} with the token {token}")
    log(
        f"The administrators' inbox (escalated requests): sign in as {inbox_member} with the"
        f" token {inbox_token}"
    )
    log(f"Service and roll-up logs: {served.log}, {rollup.log}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--resources", type=int, default=400, help="the city's resources (each district a quarter)"
    )
    parser.add_argument(
        "--listen", default="127.0.0.1:7390", help="where the directory service listens"
    )
    options = parser.parse_args()
    try:
        main(options.directory, options.resources, options.listen)
    except CausewayError as error:
        raise SystemExit(f"directory demo failed: {error}") from None

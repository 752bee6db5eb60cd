"""deploy/container/Containerfile, without a container engine (none here): its instructions
parsed, what it copies present in the repository, the node running as a user that is not root,
its entry point a real `causeway node start` reading the home from the image's environment,
and its HEALTHCHECK command run for real against a node's /healthz."""

from __future__ import annotations

import asyncio
import json
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

from operated_node import free_ports, make_solo_home, running_node
from typer.testing import CliRunner

from causeway.cli.main import app

REPOSITORY = Path(__file__).resolve().parents[2]
CONTAINERFILE = REPOSITORY / "deploy" / "container" / "Containerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in CONTAINERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, arguments = line.partition(" ")
        found.append((keyword.upper(), arguments.strip()))
    assert not pending, "the file ends in a continuation"
    return found


def environment() -> dict[str, str]:
    values: dict[str, str] = {}
    for keyword, arguments in instructions():
        if keyword == "ENV":
            for assignment in shlex.split(arguments):
                key, _, value = assignment.partition("=")
                values[key] = value
    return values


def final_stage() -> list[tuple[str, str]]:
    found = instructions()
    last_from = max(index for index, (keyword, _) in enumerate(found) if keyword == "FROM")
    return found[last_from:]


def test_what_the_build_copies_exists_in_the_repository() -> None:
    copied = [
        arguments.split()
        for keyword, arguments in instructions()
        if keyword == "COPY" and not arguments.startswith("--from")
    ]
    assert copied
    for *sources, _destination in copied:
        for source in sources:
            assert (REPOSITORY / source).exists(), source
    sources = {source for *sources, _ in copied for source in sources}
    # The package builds from its metadata, the readme it names, and the sources; installs
    # within the repository's constraints.
    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text(encoding="utf-8"))
    assert {"pyproject.toml", "constraints.txt", project["project"]["readme"], "src"} <= sources
    runs = " ".join(arguments for keyword, arguments in instructions() if keyword == "RUN")
    assert "pip install --no-cache-dir -c constraints.txt ." in runs


def test_the_node_runs_as_an_unprivileged_user() -> None:
    stage = final_stage()
    users = [arguments for keyword, arguments in stage if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    # Nothing runs as root after the switch.
    last_user = max(index for index, (keyword, _) in enumerate(stage) if keyword == "USER")
    assert all(keyword != "RUN" for keyword, _ in stage[last_user:])
    assert "useradd --system --uid 10001" in " ".join(a for k, a in stage if k == "RUN")


def test_the_entry_point_starts_the_node_of_the_home_the_image_names(tmp_path: Path) -> None:
    (entry,) = [json.loads(a) for keyword, a in final_stage() if keyword == "ENTRYPOINT"]
    assert entry == ["causeway", "node", "start"]
    home = environment()["CAUSEWAY_NODE_HOME"]
    (volume,) = [json.loads(a) for keyword, a in final_stage() if keyword == "VOLUME"]
    assert volume == [home]
    # `causeway node start` takes its home from CAUSEWAY_NODE_HOME when --home is not given.
    missing = tmp_path / "no-home"
    result = CliRunner().invoke(app, entry[1:], env={"CAUSEWAY_NODE_HOME": str(missing)})
    assert result.exit_code == 1
    assert f"no config.toml in {missing}" in result.output


def healthcheck_command() -> list[str]:
    (healthcheck,) = [a for keyword, a in final_stage() if keyword == "HEALTHCHECK"]
    _, _, command = healthcheck.partition("CMD ")
    parsed = json.loads(command)
    assert isinstance(parsed, list)
    return [str(part) for part in parsed]


async def test_the_healthcheck_passes_on_a_live_node_and_fails_without_one(tmp_path: Path) -> None:
    command = healthcheck_command()
    assert command[0] == "python"
    assert environment()["CAUSEWAY_HEALTH_URL"] == "http://127.0.0.1:8050/healthz"
    exposed = {a for keyword, a in final_stage() if keyword == "EXPOSE"}
    assert exposed == {"7050 8050 7150"}  # gRPC, HTTP (the health URL's port), peers
    home = make_solo_home(tmp_path / "net")

    async def check(url: str) -> int:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            *command[1:],
            env={"CAUSEWAY_HEALTH_URL": url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return await asyncio.wait_for(process.wait(), 30)

    async with running_node(home) as running:
        assert await check(f"http://{running.node.config.http_address}/healthz") == 0
    (closed,) = free_ports(1)
    assert await check(f"http://127.0.0.1:{closed}/healthz") != 0

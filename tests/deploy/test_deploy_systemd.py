"""deploy/systemd/causeway-node@.service: hardened as promised, and its command lines real:
ExecStart started here (the install path swapped for this environment's causeway) serves a
node, ExecReload makes it reload, KillSignal stops it cleanly; systemd-analyze verify, where
systemd is installed, accepts the unit."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from operated_node import make_solo_home

from causeway.node import load_node_config

REPOSITORY = Path(__file__).resolve().parents[2]
UNIT = REPOSITORY / "deploy" / "systemd" / "causeway-node@.service"
INSTALLED_COMMAND = "/opt/causeway/bin/causeway"
HOMES = "/var/lib/causeway/%i"
CAUSEWAY = Path(sys.executable).parent / "causeway"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def unit_settings(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file, each a list of (key, value) in order (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"a setting before any section: {line}"
        key, separator, value = line.partition("=")
        assert separator, f"not a setting: {line}"
        current.append((key.strip(), value.strip()))
    return sections


def service() -> dict[str, str]:
    """The [Service] section, the last value of each key."""
    return dict(unit_settings(UNIT.read_text(encoding="utf-8"))["Service"])


def test_the_unit_is_hardened_and_restarts_on_failure() -> None:
    settings = service()
    expected = {
        "User": "causeway",
        "Group": "causeway",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "Restart": "on-failure",
        "LimitNOFILE": "65536",
        "KillSignal": "SIGTERM",
        "CapabilityBoundingSet": "",
        "StateDirectory": "causeway/%i",
    }
    assert {key: settings.get(key) for key in expected} == expected
    # wasmtime writes machine code and then runs it: this would stop every user contract.
    assert "MemoryDenyWriteExecute" not in settings
    unit = dict(unit_settings(UNIT.read_text(encoding="utf-8"))["Unit"])
    assert unit["After"] == "network-online.target"


def test_exec_start_runs_a_node_that_exec_reload_reloads_and_kill_signal_stops(
    tmp_path: Path,
) -> None:
    settings = service()
    start = shlex.split(settings["ExecStart"])
    assert start[0] == INSTALLED_COMMAND
    assert start[1:] == ["node", "start", "--home", HOMES]
    home = make_solo_home(tmp_path / "net")
    command = [str(CAUSEWAY), *(part.replace(HOMES, str(home)) for part in start[1:])]
    url = f"http://{load_node_config(home).http_address}"
    log = tmp_path / "node.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        reload_command = shlex.split(settings["ExecReload"])
        assert reload_command == ["/bin/kill", "-HUP", "$MAINPID"]
        subprocess.run(
            [reload_command[0], reload_command[1], str(process.pid)], check=True, timeout=10
        )
        reloaded = 'causeway_config_reloads_total{outcome="unchanged"} 1.0'
        while reloaded not in httpx.get(f"{url}/metrics").text:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        process.send_signal(signal.Signals[settings["KillSignal"]])
        assert process.wait(STOP_TIMEOUT_S) == 0, log.read_text()
        assert "node stopped" in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart's program exists: point it at this environment's.
    text = UNIT.read_text(encoding="utf-8").replace(INSTALLED_COMMAND, str(CAUSEWAY))
    (tmp_path / UNIT.name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "causeway-node@node1.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )
    problems = [line for line in result.stderr.splitlines() if "causeway-node@" in line]
    assert (result.returncode, problems) == (0, []), result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd is not installed")
def test_systemd_verify_catches_a_missing_program(tmp_path: Path) -> None:
    """The check above can fail: a unit whose program is missing is refused."""
    if Path(INSTALLED_COMMAND).exists():
        pytest.skip(f"{INSTALLED_COMMAND} is installed on this machine")
    (tmp_path / UNIT.name).write_text(UNIT.read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "causeway-node@node1.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert f"{INSTALLED_COMMAND} is not executable" in result.stderr

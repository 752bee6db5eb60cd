"""A real PostgreSQL server for the tests: Debian's ``postgresql`` package (installed by
scripts/toolchain-postgresql.sh when missing), a fresh cluster in a temporary folder, listening
on a Unix socket in that folder only (no TCP port at all, so it can never collide with a server
or a devnet a user runs), stopped and removed at the end even when a test fails.

PostgreSQL refuses to run as root; as root (CI's containers, this machine) the cluster is made
and run as the package's ``postgres`` user through ``runuser``, its folder handed to that user.
One server per test session (``postgresql_server`` fixture, tests/conftest.py); each test that
wants a clean slate asks ``new_database()`` for a database of its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import psycopg

REPOSITORY = Path(__file__).resolve().parents[1]
POSTGRESQL_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60
SERVICE_USER = "postgres"


def postgresql_binaries() -> Path:
    """The newest installed server's bin folder; installs the package when there is none."""
    if not _versions():
        subprocess.run(
            ["bash", str(REPOSITORY / "scripts" / "toolchain-postgresql.sh")], check=True
        )
    versions = _versions()
    if not versions:
        raise RuntimeError(f"no PostgreSQL server under {POSTGRESQL_ROOT}")
    return versions[-1] / "bin"


def _versions() -> list[Path]:
    if not POSTGRESQL_ROOT.is_dir():
        return []
    found = [path for path in POSTGRESQL_ROOT.iterdir() if (path / "bin" / "postgres").exists()]
    return sorted(found, key=lambda path: int(path.name) if path.name.isdigit() else 0)


def _state(pid: int) -> str:
    """The process's state letter (Z: a zombie, which has exited); "" once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return ""
    for line in status.splitlines():
        if line.startswith("State:"):
            return line.split()[1]
    return ""


class PostgresqlServer:
    """One cluster: ``start()``, ``new_database()``, ``stop()`` (idempotent)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.socket_folder = folder / "socket"
        self.binaries = postgresql_binaries()
        self.as_root = os.geteuid() == 0
        self.started = False

    def _run(self, command: Sequence[str], *, timeout_s: float) -> None:
        prefix = ["runuser", "-u", SERVICE_USER, "--"] if self.as_root else []
        completed = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, timeout=timeout_s, check=False
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({completed.returncode}): "
                f"{completed.stdout[-2000:]}{completed.stderr[-2000:]}"
            )

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.socket_folder.mkdir(exist_ok=True)
        if self.as_root:
            shutil.chown(self.folder, SERVICE_USER)
            shutil.chown(self.socket_folder, SERVICE_USER)
            # runuser keeps the caller's working folder, which the service user may not read.
        self._run(
            [
                str(self.binaries / "initdb"),
                "--pgdata",
                str(self.data),
                "--username",
                SERVICE_USER,
                "--auth",
                "trust",
                "--encoding",
                "UTF8",
                "--locale",
                "C.UTF-8",
            ],
            timeout_s=START_TIMEOUT_S,
        )
        self._run(
            [
                str(self.binaries / "pg_ctl"),
                "start",
                "--pgdata",
                str(self.data),
                "--wait",
                "--timeout",
                str(START_TIMEOUT_S),
                "--log",
                str(self.folder / "server.log"),
                # No TCP at all: the Unix socket in our folder is the only way in.
                "-o",
                f"-c listen_addresses='' -c unix_socket_directories='{self.socket_folder}' "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            ],
            timeout_s=START_TIMEOUT_S + 10,
        )
        self.started = True

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        self._run(
            [
                str(self.binaries / "pg_ctl"),
                "stop",
                "--pgdata",
                str(self.data),
                "--mode",
                "immediate",
                "--wait",
                "--timeout",
                str(STOP_TIMEOUT_S),
            ],
            timeout_s=STOP_TIMEOUT_S + 10,
        )
        # pg_ctl returns once the server says it has shut down; its process may still be
        # exiting (and writing its log): wait for it, so that the folder can then be removed.
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL server {pid} did not exit")
            time.sleep(0.05)

    def conninfo(self, database: str = "postgres") -> str:
        """A libpq connection string (psycopg's) for ``database`` over the socket."""
        return f"host={self.socket_folder} dbname={database} user={SERVICE_USER}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its connection string."""
        name = "test_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.conninfo(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.conninfo(name)

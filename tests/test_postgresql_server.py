"""The suite's PostgreSQL server (postgresql_server.py): a real Debian server, reachable only
through its own Unix socket, a fresh database per asker, and gone after ``stop``."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
from postgresql_server import PostgresqlServer


def test_the_shared_server_answers_on_its_socket_only(postgresql_server: PostgresqlServer) -> None:
    with psycopg.connect(postgresql_server.conninfo(), autocommit=True) as connection:
        (version,) = connection.execute("SHOW server_version").fetchone() or ("",)
        (listen,) = connection.execute("SHOW listen_addresses").fetchone() or ("*",)
    assert version.split(".")[0].isdigit()
    assert listen == ""  # no TCP: nothing can collide with a user's server or devnet


def test_each_new_database_starts_empty(postgresql_server: PostgresqlServer) -> None:
    first, second = postgresql_server.new_database(), postgresql_server.new_database()
    assert first != second
    with psycopg.connect(first, autocommit=True) as connection:
        connection.execute("CREATE TABLE marker (value integer)")
    with psycopg.connect(second, autocommit=True) as connection:
        tables = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'marker'"
        ).fetchone()
    assert tables == (0,)


def test_a_stopped_server_is_gone() -> None:
    folder = Path(tempfile.mkdtemp(prefix="causeway-postgresql-"))
    server = PostgresqlServer(folder)
    server.start()
    try:
        pid = int((server.data / "postmaster.pid").read_text().split()[0])
        assert subprocess.run(["kill", "-0", str(pid)], check=False).returncode == 0
    finally:
        server.stop()
    status = Path(f"/proc/{pid}/status")
    assert not status.exists() or "zombie" in status.read_text()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.conninfo(), connect_timeout=2)
    server.stop()  # a second stop is harmless
    subprocess.run(["rm", "-rf", str(folder)], check=True)

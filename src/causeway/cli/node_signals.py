"""Finding the node that runs in a home folder (HOME/node.pid) and signalling it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from causeway.errors import ConfigurationError

# Written by causeway.node.run_node while a node runs (causeway.node.runtime.PID_FILE_NAME;
# not imported, so that the CLI does not load the node's packages for this).
PID_FILE_NAME = "node.pid"
# A process id read from a stale file may belong to another program by now: it must at least
# be a causeway process.
PROCESS_MARK = b"causeway"


def running_node_pid(home: Path) -> int:
    """The process id of the node running in `home`; ConfigurationError when none does."""
    pid_file = home / PID_FILE_NAME
    try:
        text = pid_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ConfigurationError(f"no node is running in {home}: there is no {pid_file}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(f"cannot read {pid_file}: {error}") from None
    if not text.isdigit() or int(text) <= 0:
        raise ConfigurationError(f"{pid_file} does not hold a process id: {text[:40]!r}")
    pid = int(text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise ConfigurationError(
            f"no node is running in {home}: process {pid} of {pid_file} has ended"
        ) from None
    except PermissionError:
        raise ConfigurationError(
            f"process {pid} of {pid_file} belongs to another user: run this as the node's user"
        ) from None
    command_line = Path(f"/proc/{pid}/cmdline")
    if command_line.parent.is_dir():
        try:
            arguments = command_line.read_bytes()
        except OSError:
            arguments = PROCESS_MARK  # it ended meanwhile: the signal will say so
        if PROCESS_MARK not in arguments:
            raise ConfigurationError(
                f"process {pid} of {pid_file} is not a causeway node (a stale file?)"
            )
    return pid


def signal_running_node(home: Path, signal_number: int = signal.SIGHUP) -> int:
    """Sends `signal_number` to the node running in `home`; returns its process id."""
    pid = running_node_pid(home)
    try:
        os.kill(pid, signal_number)
    except ProcessLookupError:
        raise ConfigurationError(f"no node is running in {home}: process {pid} has ended") from None
    return pid

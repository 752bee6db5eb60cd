"""Resource use of the node processes: /proc parsing on fixed text, the sampler, real /proc."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from causeway.bench import (
    ProcessSample,
    ResourceMonitor,
    listening_process_ids,
    parse_io,
    parse_listening_sockets,
    parse_stat,
    read_process_sample,
    summarise_samples,
    summarise_usage,
)

# A command name with a space and parentheses: the fields are counted from the last ')'.
STAT = (
    "4242 (python (node) 1) S 1 4242 4242 0 -1 4194560 2000 0 0 0 "
    "250 50 0 0 20 0 9 0 1000 123456789 3000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0"
)
IO = (
    "rchar: 900\nwchar: 800\nsyscr: 9\nsyscw: 8\nread_bytes: 4096\nwrite_bytes: 81920\n"
    "cancelled_write_bytes: 4096\n"
)
TCP = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 0100007F:1B9E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "55501 1 0000000000000000 100 0 0 10 0\n"
    "   1: 0100007F:1F4A 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 "
    "55502 1 0000000000000000 20 4 30 10 -1\n"
)


def test_stat_gives_cpu_seconds_and_resident_bytes() -> None:
    cpu_s, memory_bytes = parse_stat(STAT, clock_ticks_per_s=100, page_bytes=4096)
    assert cpu_s == pytest.approx(3.0)  # (250 + 50) ticks at 100 a second
    assert memory_bytes == 3000 * 4096


def test_io_gives_storage_bytes() -> None:
    assert parse_io(IO) == (4096, 81920)


def test_listening_sockets_by_port() -> None:
    # 0x1B9E = 7070 is listening (0A); 0x1F4A = 8010 is an established connection (01).
    assert parse_listening_sockets(TCP) == {7070: 55501}


def _sample(time_s: float, cpu_s: float, memory: int, read: int, written: int) -> ProcessSample:
    return ProcessSample(time_s, cpu_s, memory, read, written)


def test_summary_of_one_process() -> None:
    samples = [
        _sample(10.0, 5.0, 100, 1000, 5000),
        _sample(10.5, 5.25, 300, 1000, 6000),  # 50% of a core
        _sample(11.0, 6.0, 200, 3000, 9000),  # 150%: two cores
    ]
    usage = summarise_samples("node1", 42, samples)
    assert usage.cpu_percent_mean == pytest.approx(100.0)
    assert usage.cpu_percent_max == pytest.approx(150.0)
    assert usage.memory_bytes_max == 300
    assert usage.memory_bytes_mean == pytest.approx(200.0)
    assert (usage.read_bytes, usage.write_bytes) == (2000, 4000)
    assert usage.samples == 3
    single = summarise_samples("node1", 42, samples[:1])
    assert (single.cpu_percent_mean, single.cpu_percent_max, single.write_bytes) == (0.0, 0.0, 0)


def test_usage_sums_over_processes_and_leaves_out_unread_ones() -> None:
    usage = summarise_usage(
        0.5,
        {1: "node1", 2: "node2", 3: "node3"},
        {
            1: [_sample(0.0, 0.0, 100, 0, 0), _sample(1.0, 0.5, 100, 10, 1000)],
            2: [_sample(0.0, 0.0, 50, 0, 0), _sample(2.0, 1.0, 70, 0, 500)],
            3: [],
        },
    )
    assert [process.name for process in usage.processes] == ["node1", "node2"]
    assert usage.duration_s == 2.0
    assert usage.cpu_percent_mean == pytest.approx(100.0)
    assert usage.memory_bytes_max == 170
    assert (usage.read_bytes, usage.write_bytes) == (10, 1500)


def test_monitor_samples_until_stopped() -> None:
    readings: list[int] = []
    enough = threading.Event()

    def reader(pid: int, now_s: float) -> ProcessSample | None:
        readings.append(pid)
        if len(readings) >= 4:
            enough.set()
        return _sample(now_s, len(readings) * 0.1, 100, 0, len(readings) * 4096)

    times = iter(float(second) for second in range(1000))
    monitor = ResourceMonitor(
        {7: "node1"}, interval_s=0.01, reader=reader, clock=lambda: next(times)
    )
    monitor.start()
    assert enough.wait(10.0)
    usage = monitor.stop()
    (process,) = usage.processes
    assert process.name == "node1" and process.pid == 7
    assert process.samples == len(readings) >= 5  # the first, at least three more, the last
    assert process.write_bytes == (len(readings) - 1) * 4096
    # A second stop samples once more and changes nothing else.
    assert monitor.stop().processes[0].samples == len(readings)


def test_monitor_of_a_process_that_cannot_be_read() -> None:
    monitor = ResourceMonitor({1: "gone"}, reader=lambda pid, now_s: None)
    monitor.start()
    usage = monitor.stop()
    assert usage.processes == [] and usage.write_bytes == 0


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux /proc")
def test_real_proc_of_this_process() -> None:
    before = read_process_sample(os.getpid(), 0.0)
    assert before is not None and before.memory_bytes > 0 and before.cpu_s > 0
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert listening_process_ids([port]) == {port: os.getpid()}
    assert listening_process_ids([port]) == {}
    assert read_process_sample(2**22 + 1, 0.0) is None  # above pid_max: no such process

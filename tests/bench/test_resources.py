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
    parse_block_device_stat,
    parse_io,
    parse_listening_sockets,
    parse_stat,
    read_device_written_bytes,
    read_process_sample,
    summarise_samples,
    summarise_usage,
    written_file_devices,
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


# /sys/block/vda/stat: reads, merged, sectors read, ms; writes, merged, sectors written (the
# seventh field), ms; in flight, io ms, queue ms; then discard and flush figures.
BLOCK_STAT = (
    "  163735    34406 11336786    49541 29137961 21543373 566335848 25063325        0 "
    "12106396 25375339        0        0        0        0  1763557   262472\n"
)


def test_block_device_stat_gives_bytes_written() -> None:
    assert parse_block_device_stat(BLOCK_STAT) == 566335848 * 512
    with pytest.raises(ValueError, match="at least 7 fields, not 6"):
        parse_block_device_stat("1 2 3 4 5 6")


def _fake_process(proc: Path, pid: int, files: dict[str, tuple[Path, str]]) -> None:
    """/proc/<pid>/fd links and fdinfo flags for `files` (descriptor -> (target, octal flags))."""
    (proc / str(pid) / "fd").mkdir(parents=True)
    (proc / str(pid) / "fdinfo").mkdir()
    for descriptor, (target, flags) in files.items():
        (proc / str(pid) / "fd" / descriptor).symlink_to(target)
        (proc / str(pid) / "fdinfo" / descriptor).write_text(
            f"pos:\t0\nflags:\t{flags}\nmnt_id:\t30\nino:\t42\n"
        )


def test_devices_of_the_files_a_process_writes(tmp_path: Path) -> None:
    written, read, folder = tmp_path / "data.mdb", tmp_path / "genesis.json", tmp_path / "logs"
    written.write_bytes(b"")
    read.write_bytes(b"")
    folder.mkdir()
    proc = tmp_path / "proc"
    _fake_process(
        proc,
        7,
        {
            "3": (written, "02100002"),  # O_RDWR | O_CLOEXEC | O_LARGEFILE
            "4": (read, "02100000"),  # read only
            "5": (folder, "02200001"),  # a directory, even open for writing
            "6": (tmp_path / "gone", "01"),  # a link to nothing
        },
    )
    (proc / "7" / "fdinfo" / "7").write_text("flags:\t01\n")  # no fd link beside it
    device = written.stat().st_dev
    assert written_file_devices(7, proc) == {f"{os.major(device)}:{os.minor(device)}"}
    _fake_process(proc, 8, {"3": (read, "0100000")})
    assert written_file_devices(8, proc) == set()
    assert written_file_devices(9, proc) == set()  # no such process


def test_device_bytes_from_sysfs(tmp_path: Path) -> None:
    (tmp_path / "253:0").mkdir()
    (tmp_path / "253:0" / "stat").write_text(BLOCK_STAT)
    (tmp_path / "253:1").mkdir()
    (tmp_path / "253:1" / "stat").write_text("garbage")
    assert read_device_written_bytes("253:0", tmp_path) == 566335848 * 512
    assert read_device_written_bytes("253:1", tmp_path) is None
    assert read_device_written_bytes("0:45", tmp_path) is None  # tmpfs: no sysfs entry


def test_monitor_counts_each_device_once_from_start_to_stop() -> None:
    """Two nodes on one disk: the disk's bytes count once; a device that cannot be read at the
    start or at the end is left out, and none read at all gives None."""
    counters = {"8:1": 1000, "8:2": 50, "0:45": None}
    devices = {7: {"8:1", "0:45"}, 8: {"8:1", "8:2"}}

    def device_reader(device: str) -> int | None:
        return counters[device]

    monitor = ResourceMonitor(
        {7: "node1", 8: "node2"},
        reader=lambda pid, now_s: _sample(now_s, 1.0, 100, 0, 0),
        device_finder=lambda pid: devices[pid],
        device_reader=device_reader,
    )
    monitor.start()
    counters["8:1"] = 1000 + 4096 * 3
    counters["8:2"] = None  # unreadable at the end
    usage = monitor.stop()
    assert usage.devices == ["8:1"] and usage.device_write_bytes == 4096 * 3
    assert monitor.stop().device_write_bytes == 4096 * 3  # a second stop reads nothing again

    quiet = ResourceMonitor(
        {7: "node1"},
        reader=lambda pid, now_s: None,
        device_finder=lambda pid: {"0:45"},
        device_reader=device_reader,
    )
    quiet.start()
    assert (quiet.stop().devices, quiet.stop().device_write_bytes) == ([], None)


@pytest.mark.skipif(not Path("/proc/self/fdinfo").exists(), reason="needs Linux /proc")
def test_real_devices_of_this_process(tmp_path: Path) -> None:
    device = (tmp_path).stat().st_dev
    name = f"{os.major(device)}:{os.minor(device)}"
    before = written_file_devices(os.getpid())
    with (tmp_path / "written").open("wb") as handle:
        handle.write(b"x")
        assert name in written_file_devices(os.getpid())
    assert written_file_devices(os.getpid()) == before

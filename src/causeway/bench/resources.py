"""What the node processes used during a run: CPU, memory and storage I/O, read from /proc.

Caliper reports the resource use of the systems under test beside the throughput; so does
`causeway bench`. The node processes are found by the loopback ports they listen on (their gRPC
ports, from the network folder or `--node`), then sampled on a thread of the benchmark every
`interval_s`: CPU time and resident memory from /proc/<pid>/stat, bytes read from and written to
storage from /proc/<pid>/io. Storage bytes are what the kernel accounts to the process for the
block layer (`read_bytes`, `write_bytes`), so pages written and rewritten in the cache before they
reach the disk count once each time they are dirtied, and a kernel that caches a file in large
folios (ext4 since Linux 6.16) counts the whole folio when a write dirties part of it: on this
project's machine (6.18, ext4) a commit that put one small record into the node's store counted
some 200 KB of `write_bytes` for 21 KB that reached the disk.

So the device's own count is taken too: the block devices holding the regular files the node
processes keep open for writing (the store, found through /proc/<pid>/fd and fdinfo), and the
bytes each wrote during the run from /sys/dev/block/<major>:<minor>/stat. That counts what
really reached the disk, the file system's journal included, and also whatever any other
process on the machine wrote to the same device meanwhile; it is None when those files are on
no block device (tmpfs, overlay).

Linux only; elsewhere, or for a process another user owns, nothing is measured (None). The parsing
is pure and tested on fixed text; only `read_process_sample`, `listening_process_ids` and
`ResourceMonitor` touch /proc.
"""

from __future__ import annotations

import itertools
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PROC = Path("/proc")
SYS_DEVICE_BLOCK = Path("/sys/dev/block")
# The sectors of /sys/block/.../stat are 512 bytes whatever the device's own sector size
# (the kernel's Documentation/block/stat.rst).
_STAT_SECTOR_BYTES = 512
_WRITE_SECTORS_FIELD = 6
# O_WRONLY | O_RDWR, in the octal "flags:" line of /proc/<pid>/fdinfo/<fd>.
_OPEN_FOR_WRITING = 0o3
SAMPLE_INTERVAL_S_DEFAULT = 0.5
# A run of hours at the default interval fits; beyond, the oldest half is thinned out.
SAMPLES_MAX = 20_000
_TCP_LISTEN_STATE = "0A"


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """One reading of one process. Times are seconds on the monotonic clock of the sampler."""

    time_s: float
    cpu_s: float  # user + system CPU time since the process started
    memory_bytes: int  # resident set
    read_bytes: int  # from storage, since the process started
    write_bytes: int  # to storage, since the process started


def parse_stat(text: str, clock_ticks_per_s: int, page_bytes: int) -> tuple[float, int]:
    """CPU seconds (user + system) and resident bytes from the text of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may hold spaces and parentheses itself, so
    the fields are counted from the last ')'.
    """
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): utime is field 14, stime 15, rss (pages) 24.
    user_ticks, system_ticks, resident_pages = int(fields[11]), int(fields[12]), int(fields[21])
    return (user_ticks + system_ticks) / clock_ticks_per_s, resident_pages * page_bytes


def parse_io(text: str) -> tuple[int, int]:
    """Storage bytes read and written from the text of /proc/<pid>/io."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if value.strip().isdigit():
            values[name.strip()] = int(value)
    return values["read_bytes"], values["write_bytes"]


def read_process_sample(pid: int, now_s: float, proc: Path = PROC) -> ProcessSample | None:
    """The process's current figures; None when it has ended or cannot be read."""
    try:
        stat = (proc / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
        io = (proc / str(pid) / "io").read_text(encoding="ascii")
    except OSError:
        return None
    cpu_s, memory_bytes = parse_stat(stat, os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE"))
    read_bytes, write_bytes = parse_io(io)
    return ProcessSample(now_s, cpu_s, memory_bytes, read_bytes, write_bytes)


def parse_listening_sockets(text: str) -> dict[int, int]:
    """Port -> socket inode of the listening TCP sockets in the text of /proc/net/tcp(6)."""
    found: dict[int, int] = {}
    for line in text.splitlines()[1:]:
        columns = line.split()
        if len(columns) < 10 or columns[3] != _TCP_LISTEN_STATE:
            continue
        port = int(columns[1].rpartition(":")[2], 16)
        found[port] = int(columns[9])
    return found


def listening_process_ids(ports: Iterable[int], proc: Path = PROC) -> dict[int, int]:
    """Port -> id of the process listening on it, for those of `ports` that one of ours (or,
    as root, anyone's) listens on."""
    wanted = set(ports)
    inodes: dict[int, int] = {}
    for table in ("tcp", "tcp6"):
        try:
            listening = parse_listening_sockets((proc / "net" / table).read_text())
        except OSError:
            continue
        inodes.update(
            {inode: port for port, inode in listening.items() if port in wanted and inode}
        )
    found: dict[int, int] = {}
    if not inodes:
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            descriptors = list((entry / "fd").iterdir())
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                target = os.readlink(descriptor)
            except OSError:
                continue
            if target.startswith("socket:["):
                port = inodes.get(int(target[8:-1]))
                if port is not None:
                    found[port] = int(entry.name)
    return found


def parse_block_device_stat(text: str) -> int:
    """Bytes written to a block device since boot, from the text of its sysfs `stat` file."""
    fields = text.split()
    if len(fields) <= _WRITE_SECTORS_FIELD:
        raise ValueError(f"a block device's stat has at least 7 fields, not {len(fields)}")
    return int(fields[_WRITE_SECTORS_FIELD]) * _STAT_SECTOR_BYTES


def _opened_for_writing(fdinfo: str) -> bool:
    for line in fdinfo.splitlines():
        name, _, value = line.partition(":")
        if name == "flags":
            return int(value.strip(), 8) & _OPEN_FOR_WRITING != 0
    return False


def written_file_devices(pid: int, proc: Path = PROC) -> set[str]:
    """The "major:minor" of the devices holding the regular files that process `pid` has open
    for writing (empty when it cannot be read)."""
    devices: set[str] = set()
    try:
        descriptors = list((proc / str(pid) / "fd").iterdir())
    except OSError:
        return devices
    for descriptor in descriptors:
        try:
            if not _opened_for_writing((proc / str(pid) / "fdinfo" / descriptor.name).read_text()):
                continue
            status = descriptor.stat()  # the open file itself, through the link
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(status.st_mode):
            devices.add(f"{os.major(status.st_dev)}:{os.minor(status.st_dev)}")
    return devices


def read_device_written_bytes(device: str, sys_device_block: Path = SYS_DEVICE_BLOCK) -> int | None:
    """Bytes block device `device` ("major:minor") wrote since boot; None if it is no block
    device (a file system in memory or an overlay has no sysfs entry) or cannot be read."""
    try:
        return parse_block_device_stat((sys_device_block / device / "stat").read_text())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    """What one process used between the first and the last sample of a run."""

    name: str
    pid: int
    samples: int
    cpu_percent_mean: float  # of one core; 200 is two cores busy
    cpu_percent_max: float  # over one sampling interval
    memory_bytes_mean: float
    memory_bytes_max: int
    read_bytes: int
    write_bytes: int


@dataclass(frozen=True, slots=True)
class ResourceUsage:
    """The node processes' use during a run, and their sums."""

    interval_s: float
    duration_s: float
    processes: list[ProcessUsage] = field(default_factory=list)
    cpu_percent_mean: float = 0.0
    memory_bytes_max: int = 0
    read_bytes: int = 0
    write_bytes: int = 0
    # What the block devices holding the processes' written files wrote during the run
    # ("major:minor"), every process's writes to them included; None when none was found.
    devices: list[str] = field(default_factory=list)
    device_write_bytes: int | None = None


def summarise_samples(name: str, pid: int, samples: Sequence[ProcessSample]) -> ProcessUsage:
    """Means, maxima and deltas of one process's samples (in time order; at least one)."""
    first, last = samples[0], samples[-1]
    rates = [
        100.0 * (after.cpu_s - before.cpu_s) / (after.time_s - before.time_s)
        for before, after in itertools.pairwise(samples)
        if after.time_s > before.time_s
    ]
    span_s = last.time_s - first.time_s
    return ProcessUsage(
        name=name,
        pid=pid,
        samples=len(samples),
        cpu_percent_mean=100.0 * (last.cpu_s - first.cpu_s) / span_s if span_s > 0 else 0.0,
        cpu_percent_max=max(rates, default=0.0),
        memory_bytes_mean=sum(sample.memory_bytes for sample in samples) / len(samples),
        memory_bytes_max=max(sample.memory_bytes for sample in samples),
        read_bytes=last.read_bytes - first.read_bytes,
        write_bytes=last.write_bytes - first.write_bytes,
    )


def summarise_usage(
    interval_s: float,
    names: Mapping[int, str],
    samples: Mapping[int, Sequence[ProcessSample]],
    device_bytes: Mapping[str, tuple[int, int]] | None = None,
) -> ResourceUsage:
    """The usage of every process that was sampled at least once, and the sums over them;
    `device_bytes` gives each device's written bytes at the start and at the end."""
    processes = [
        summarise_samples(names.get(pid, str(pid)), pid, taken)
        for pid, taken in samples.items()
        if taken
    ]
    times = [sample.time_s for taken in samples.values() for sample in taken]
    return ResourceUsage(
        interval_s=interval_s,
        duration_s=max(times) - min(times) if times else 0.0,
        processes=processes,
        cpu_percent_mean=sum(process.cpu_percent_mean for process in processes),
        memory_bytes_max=sum(process.memory_bytes_max for process in processes),
        read_bytes=sum(process.read_bytes for process in processes),
        write_bytes=sum(process.write_bytes for process in processes),
        devices=sorted(device_bytes or {}),
        device_write_bytes=(
            sum(end - start for start, end in device_bytes.values()) if device_bytes else None
        ),
    )


SampleReader = Callable[[int, float], ProcessSample | None]
DeviceFinder = Callable[[int], set[str]]
DeviceReader = Callable[[str], int | None]


class ResourceMonitor:
    """Samples processes on a thread of its own from `start()` until `stop()`.

    `names` maps each process id to a label for the report (e.g. the node's name). A process
    that cannot be read is left out; one that ends during the run keeps the samples it had.
    """

    def __init__(
        self,
        names: Mapping[int, str],
        *,
        interval_s: float = SAMPLE_INTERVAL_S_DEFAULT,
        reader: SampleReader = read_process_sample,
        clock: Callable[[], float] = time.monotonic,
        device_finder: DeviceFinder = written_file_devices,
        device_reader: DeviceReader = read_device_written_bytes,
    ) -> None:
        self._names = dict(names)
        self._interval_s = interval_s
        self._reader = reader
        self._clock = clock
        self._device_finder = device_finder
        self._device_reader = device_reader
        self._device_start: dict[str, int] = {}
        self._device_bytes: dict[str, tuple[int, int]] | None = None
        self._samples: dict[int, list[ProcessSample]] = {pid: [] for pid in self._names}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-resources", daemon=True)

    def _sample(self) -> None:
        now_s = self._clock()
        for pid, taken in self._samples.items():
            sample = self._reader(pid, now_s)
            if sample is not None:
                taken.append(sample)
                if len(taken) > SAMPLES_MAX:
                    del taken[1 : SAMPLES_MAX // 2 : 2]

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            self._sample()

    def start(self) -> None:
        devices = set().union(*(self._device_finder(pid) for pid in self._names))
        for device in sorted(devices):
            written = self._device_reader(device)
            if written is not None:
                self._device_start[device] = written
        self._sample()
        self._thread.start()

    def stop(self) -> ResourceUsage:
        """Stops sampling (after one last sample) and summarises."""
        self._stopping.set()
        if self._thread.ident is not None:
            self._thread.join()
        self._sample()
        if self._device_bytes is None:  # a second stop keeps the first one's figures
            self._device_bytes = {}
            for device, start in self._device_start.items():
                end = self._device_reader(device)
                if end is not None:
                    self._device_bytes[device] = (start, end)
        return summarise_usage(self._interval_s, self._names, self._samples, self._device_bytes)

"""The compiled-module caches: on disk (cache_directory), keyed by code hash and fingerprint and
checked by its own SHA-256 before loading; in memory, bounded by MODULES_CACHED_MAX."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest
from vm_support import PRICES, DictHost, code_hash, module

from causeway.vm import Runtime, VmLimits
from causeway.vm import runtime as runtime_module

CODE = module(
    """
  (data (i32.const 0) "cached")
  (func (export "answer") (call $return_data (i32.const 0) (i32.const 6)))
"""
)


class Loader:
    """load_code for the runtime, counting how often the code had to be compiled."""

    def __init__(self, code: bytes = CODE, *, refuse: bool = False) -> None:
        self.code = code
        self.refuse = refuse
        self.loads = 0

    def __call__(self) -> bytes:
        self.loads += 1
        if self.refuse:
            raise AssertionError("the code was loaded: the cache was not used")
        return self.code


def answer(runtime: Runtime, loader: Loader, export: str = "answer") -> bytes:
    outcome = runtime.call(
        code_hash(loader.code),
        loader,
        export,
        input_data=b"",
        host=DictHost(),
        gas_available=1_000_000,
    )
    assert outcome.status == "ok"
    return outcome.return_data


def cache_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.cwasm"))


def intact(path: Path) -> bool:
    stored = path.read_bytes()
    return len(stored) > 32 and hashlib.sha256(stored[32:]).digest() == stored[:32]


def test_code_is_compiled_once_and_kept_on_disk(tmp_path: Path) -> None:
    runtime = Runtime(PRICES, cache_directory=tmp_path / "cache")
    loader = Loader()
    assert answer(runtime, loader) == b"cached"
    assert answer(runtime, loader) == b"cached"
    assert loader.loads == 1
    (path,) = cache_files(tmp_path / "cache")
    assert path.name == f"{code_hash(CODE).hex()}-{runtime.fingerprint[:32]}.cwasm"
    assert intact(path)


def test_a_second_runtime_loads_the_compiled_code_from_disk(tmp_path: Path) -> None:
    answer(Runtime(PRICES, cache_directory=tmp_path), Loader())
    stored = cache_files(tmp_path)[0].read_bytes()
    second = Runtime(PRICES, cache_directory=tmp_path)
    assert answer(second, Loader(refuse=True)) == b"cached"
    # Loaded, not rewritten.
    assert cache_files(tmp_path)[0].read_bytes() == stored


@pytest.mark.parametrize(
    "damage",
    ["flip a byte", "truncate", "empty", "hash only"],
)
def test_a_damaged_file_is_ignored_and_the_code_compiled_again(tmp_path: Path, damage: str) -> None:
    answer(Runtime(PRICES, cache_directory=tmp_path), Loader())
    (path,) = cache_files(tmp_path)
    stored = path.read_bytes()
    damaged = {
        "flip a byte": stored[:-1] + bytes([stored[-1] ^ 0x01]),
        "truncate": stored[: len(stored) // 2],
        "empty": b"",
        "hash only": stored[:32],
    }[damage]
    path.write_bytes(damaged)
    second = Runtime(PRICES, cache_directory=tmp_path)
    loader = Loader()
    assert answer(second, loader) == b"cached"
    assert loader.loads == 1
    # Written again, whole.
    assert cache_files(tmp_path) == [path]
    assert intact(path)


def test_another_fingerprint_does_not_share_files(tmp_path: Path) -> None:
    first = Runtime(PRICES, cache_directory=tmp_path)
    answer(first, Loader())
    other = Runtime(PRICES, VmLimits(fuel_per_gas=101), cache_directory=tmp_path)
    assert other.fingerprint != first.fingerprint
    loader = Loader()
    assert answer(other, loader) == b"cached"
    assert loader.loads == 1
    names = [path.name for path in cache_files(tmp_path)]
    assert names == sorted(
        f"{code_hash(CODE).hex()}-{fingerprint[:32]}.cwasm"
        for fingerprint in (first.fingerprint, other.fingerprint)
    )


def test_no_cache_directory_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runtime = Runtime(PRICES)
    answer(runtime, Loader())
    assert list(tmp_path.iterdir()) == []


def test_the_in_memory_cache_keeps_the_most_recently_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime_module, "MODULES_CACHED_MAX", 2)
    runtime = Runtime(PRICES)
    loaders = {
        name: Loader(
            module(
                f"""
  (data (i32.const 0) "{name}")
  (func (export "answer") (call $return_data (i32.const 0) (i32.const 1)))
"""
            )
        )
        for name in "abc"
    }
    loads: Counter[str] = Counter()

    def use(name: str) -> None:
        before = loaders[name].loads
        assert answer(runtime, loaders[name]) == name.encode()
        loads[name] += loaders[name].loads - before

    for name in "abc":  # c pushes a out
        use(name)
    assert loads == Counter("abc")
    use("b")  # cached; b is now the most recent
    use("a")  # compiled again; pushes c out
    assert loads == Counter("abca")
    use("b")
    use("c")  # compiled again
    assert loads == Counter("abcac")

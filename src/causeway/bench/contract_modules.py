"""The user contracts the wasm workloads deploy: the templates' token and registry, built once
and kept in bench/modules/ so that a benchmark needs no compiler.

The builds are reproducible (tests/toolchains/test_bench_modules.py rebuilds them from the
templates and compares the bytes); `build_modules` makes them again after a template changes:

    python -m causeway.bench.contract_modules
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from causeway import toolchains
from causeway.errors import ConfigurationError

MODULES_FOLDER = Path(__file__).resolve().parent / "modules"
LANGUAGES: tuple[str, ...] = ("assemblyscript", "rust")


@dataclass(frozen=True, slots=True)
class BenchModule:
    """A built template: its module's bytes and its interface file's text."""

    template: str
    language: str
    code: bytes
    interface_json: str


# (template, language) of every module kept here.
MODULES: tuple[tuple[str, str], ...] = (
    ("token", "assemblyscript"),
    ("token", "rust"),
    ("registry", "assemblyscript"),
)


def module_path(template: str, language: str) -> Path:
    return MODULES_FOLDER / f"{template}-{language}.wasm"


def interface_path(template: str) -> Path:
    return MODULES_FOLDER / f"{template}.interface.json"


def load_module(template: str, language: str) -> BenchModule:
    """The kept build of `template` in `language`; ConfigurationError when there is none."""
    if (template, language) not in MODULES:
        kept = ", ".join(f"{name} ({language})" for name, language in MODULES)
        raise ConfigurationError(f"no {template} contract in {language} is kept; kept: {kept}")
    return BenchModule(
        template,
        language,
        module_path(template, language).read_bytes(),
        interface_path(template).read_text(encoding="utf-8"),
    )


def build_modules(destination: Path = MODULES_FOLDER) -> list[Path]:
    """Builds every kept module from its template (needs both toolchains); the paths written."""
    written: list[Path] = []
    destination.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for template, language in MODULES:
            project = toolchains.new_project(
                language, template, template, Path(scratch) / f"{template}-{language}"
            )
            module, interface = toolchains.build(project)
            target = destination / f"{template}-{language}.wasm"
            shutil.copyfile(module, target)
            shutil.copyfile(interface, destination / f"{template}.interface.json")
            written.append(target)
    return written


if __name__ == "__main__":
    for path in build_modules():
        print(f"{path} ({path.stat().st_size} bytes)")

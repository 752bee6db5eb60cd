"""A SoftHSM token for the tests of the PKCS#11 signer (Debian's softhsm2; `make toolchains` and
scripts/toolchain-softhsm.sh install it).

One token for the whole test session, in a temporary SOFTHSM2_CONF: the PKCS#11 library reads
its configuration once per process, when first loaded, so a second token folder in the same
process would not be seen. Tests use key labels of their own on it.

Nothing is skipped when SoftHSM is missing: the fixture fails and says how to install it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

MODULE_CANDIDATES = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
)
TOKEN_LABEL = "causeway-tests"
PIN_VARIABLE = "CAUSEWAY_TEST_TOKEN_PIN"


@dataclass(frozen=True)
class SoftHsmToken:
    module: Path
    label: str
    pin: str
    pin_variable: str

    def new_key_label(self, prefix: str) -> str:
        """A key label no other test uses on this token."""
        return f"{prefix}-{secrets.token_hex(4)}"


def _module() -> Path:
    for candidate in MODULE_CANDIDATES:
        if candidate.is_file():
            return candidate
    pytest.fail(
        "SoftHSM is not installed: run `bash scripts/toolchain-softhsm.sh` (Debian's softhsm2)",
        pytrace=False,
    )


# Test modules import the fixture each, which makes one fixture per module; the token itself is
# made once per process (see the module docstring) and shared by all of them.
_MADE: list[SoftHsmToken] = []


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsmToken]:
    if _MADE:
        yield _MADE[0]
        return
    module = _module()
    utility = shutil.which("softhsm2-util")
    if utility is None:
        pytest.fail("softhsm2-util is missing: run `bash scripts/toolchain-softhsm.sh`")
    directory = tmp_path_factory.mktemp("softhsm")
    (directory / "tokens").mkdir()
    configuration = directory / "softhsm2.conf"
    configuration.write_text(
        f"directories.tokendir = {directory / 'tokens'}\n"
        "objectstore.backend = file\nlog.level = ERROR\n"
    )
    previous = {name: os.environ.get(name) for name in ("SOFTHSM2_CONF", PIN_VARIABLE)}
    pin = secrets.token_hex(4)
    os.environ["SOFTHSM2_CONF"] = str(configuration)
    os.environ[PIN_VARIABLE] = pin
    try:
        subprocess.run(
            [
                utility,
                "--init-token",
                "--free",
                "--label",
                TOKEN_LABEL,
                "--so-pin",
                secrets.token_hex(4),
                "--pin",
                pin,
            ],
            check=True,
            capture_output=True,
        )
    except BaseException:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        raise
    # The environment stays set for the rest of the process: the loaded library keeps reading
    # this configuration, and the PIN variable is what member.json files name.
    _MADE.append(SoftHsmToken(module=module, label=TOKEN_LABEL, pin=pin, pin_variable=PIN_VARIABLE))
    yield _MADE[0]

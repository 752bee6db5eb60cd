"""pytest fixtures for a contract project's tests (``PROJECT/tests/test_*.py``)::

    chain            a fresh LocalChain for each test (causeway.toolchains.testing), on the
                     crypto profile given by ``--chain-profile intl|gm`` (intl by default)
    contract_module  the path of the project's built module, ``build/NAME.wasm``, with its
                     interface file ``build/NAME.interface.json`` beside it:
                     ``chain.deploy(contract_module, init={...})`` deploys it
    contract         that module deployed on ``chain`` without init arguments

``causeway contract test`` builds the project, then runs pytest on its ``tests/`` folder with this
plugin (``-p causeway.toolchains.pytest_plugin``) and the built module's path in
``CAUSEWAY_CONTRACT_MODULE``. Run by hand (``pytest tests`` in the project; the templates'
``tests/conftest.py`` loads the plugin), the plugin builds the project that holds the tests once
per session, the project being the nearest folder at or above pytest's root folder with an
``assembly/`` folder or a ``Cargo.toml``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from causeway.errors import CausewayError
from causeway.toolchains import MODULE_VARIABLE, build, project_language
from causeway.toolchains.testing import PROFILES, DeployedContract, LocalChain

PROFILE_OPTION = "--chain-profile"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("causeway").addoption(
        PROFILE_OPTION,
        choices=PROFILES,
        default=PROFILES[0],
        help="crypto profile of the LocalChain of the `chain` fixture (default: intl)",
    )


@pytest.fixture(scope="session")
def contract_module(request: pytest.FixtureRequest) -> Path:
    """The project's built module: CAUSEWAY_CONTRACT_MODULE, or the project built now."""
    configured = os.environ.get(MODULE_VARIABLE)
    if configured:
        module = Path(configured)
        if not module.is_file():
            pytest.fail(f"{MODULE_VARIABLE} names {module}, which is not a file", pytrace=False)
        return module
    project = _find_project(request.config.rootpath)
    try:
        module, _interface = build(project)
    except CausewayError as error:
        pytest.fail(
            f"the contract project {project} does not build: {error.message}", pytrace=False
        )
    return module


@pytest.fixture
def chain(request: pytest.FixtureRequest) -> LocalChain:
    return LocalChain(str(request.config.getoption(PROFILE_OPTION)))


@pytest.fixture
def contract(chain: LocalChain, contract_module: Path) -> DeployedContract:
    return chain.deploy(contract_module)


def _find_project(start: Path) -> Path:
    for folder in (start, *start.parents):
        try:
            project_language(folder)
        except CausewayError:
            continue
        return folder
    pytest.fail(
        f"no contract project holds {start} (a folder with assembly/ or Cargo.toml): run "
        f"`causeway contract test PROJECT`, or set {MODULE_VARIABLE} to a built module",
        pytrace=False,
    )

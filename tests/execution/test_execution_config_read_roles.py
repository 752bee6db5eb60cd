"""ChainConfig.read_roles (the roles whose members may read through the client API): what the
config contract accepts, at genesis and in config.update."""

from __future__ import annotations

import pytest
from execution_chain import Chain, default_config, status_name

from causeway.contracts.v1 import contracts_pb2
from causeway.errors import ConfigurationError
from causeway.execution import validate_config
from causeway.execution.keys import CONFIG_KEY
from causeway.types import encode
from causeway.types.v1 import types_pb2

ORGANISATIONS = ("org1", "org2")


def test_known_roles_are_accepted() -> None:
    config = default_config()
    config.read_roles.extend([types_pb2.ROLE_ADMIN, types_pb2.ROLE_LIGHT])
    validate_config(config, ORGANISATIONS)


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ([types_pb2.ROLE_UNSPECIFIED], "0 is not a role members can hold"),
        ([99], "99 is not a role members can hold"),
        ([types_pb2.ROLE_ADMIN, types_pb2.ROLE_ADMIN], "names a role twice"),
    ],
)
def test_bad_read_roles_are_refused(roles: list[int], message: str) -> None:
    config = default_config()
    config.read_roles.extend(roles)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=message):
        validate_config(config, ORGANISATIONS)


def test_governance_sets_read_roles(chain: Chain) -> None:
    config = default_config()
    config.read_roles.append(types_pb2.ROLE_ADMIN)
    result = chain.run(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=config),
        endorsers=["org2/admin"],
    )
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    assert chain.state[CONFIG_KEY] == encode(config)


def test_an_update_with_an_unknown_read_role_changes_nothing(chain: Chain) -> None:
    before = chain.state[CONFIG_KEY]
    config = default_config()
    config.read_roles.append(types_pb2.ROLE_UNSPECIFIED)
    result = chain.run(
        "org1/admin",
        "config",
        "update",
        contracts_pb2.ConfigUpdateArguments(config=config),
        endorsers=["org2/admin"],
    )
    assert status_name(result) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert "read_roles" in result.error
    assert chain.state[CONFIG_KEY] == before

"""Governance on chain through the CLI: three organisations' admins, each holding only its own
identity folder (a copy of its member folder, as its own machine would), create, vote on and
execute a configuration change on a three-validator devnet.

1. org1's admin creates the proposal from a PROPOSAL DRAFT file, voting yes at once; the policy
   (MAJORITY of three) is not met, and an early `execute` is refused with the policy named.
2. org2's admin votes yes: `show` says the policy is met now; org3's admin votes no.
3. org3's admin executes it: the configuration changes on chain; a second `execute` is refused.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from devnet_harness import Devnet

from causeway.contracts.v1 import contracts_pb2
from causeway.provisioning import member_directory
from causeway.types import encode
from causeway.types.proposal_draft import DraftCall, ProposalDraft, proposal_draft_text
from causeway.types.v1 import types_pb2

pytestmark = pytest.mark.e2e

CLI_TIMEOUT_S = 120.0
ORGANISATIONS = ("org1", "org2", "org3")


def _own_folder(devnet: Devnet, machines: Path, organisation: str) -> Path:
    """The organisation's admin folder copied alone to its "machine"."""
    folder = machines / organisation / "admin"
    shutil.copytree(member_directory(devnet.directory, f"{organisation}/admin"), folder)
    return folder


def _causeway(
    node: str, identity: Path, *arguments: str, expect: int = 0
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    environment.pop("CAUSEWAY_DEBUG", None)
    environment.pop("CAUSEWAY_IDENTITY", None)
    completed = subprocess.run(
        [sys.executable, "-m", "causeway.cli", *arguments, "--node", node, "-i", str(identity)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env=environment,
        check=False,
    )
    assert completed.returncode == expect, (
        f"causeway {' '.join(arguments)} exited {completed.returncode}:\n"
        f"{completed.stdout}\n{completed.stderr}"
    )
    return completed


def test_three_admins_govern_a_config_change_through_the_cli(tmp_path: Path) -> None:
    with Devnet(tmp_path, validators=3, consensus="tbft") as devnet:
        machines = tmp_path / "machines"
        admins = {name: _own_folder(devnet, machines, name) for name in ORGANISATIONS}
        nodes = {
            name: devnet.node(node).grpc_address
            for name, node in zip(ORGANISATIONS, devnet.names, strict=True)
        }
        reader = devnet.client(devnet.names[0], "org1/admin")
        config = types_pb2.ChainConfig.FromString(
            reader.evaluate("config", "get", contracts_pb2.ConfigGetArguments()).return_value
        )
        config.endorsements_max += 1
        wanted = config.endorsements_max
        draft = machines / "org1" / "raise-endorsements.json"
        draft.write_text(
            proposal_draft_text(
                ProposalDraft(
                    title="One more endorsement per transaction",
                    description="the consortium grows",
                    calls=(
                        DraftCall(
                            "config",
                            "update",
                            encode(contracts_pb2.ConfigUpdateArguments(config=config)),
                        ),
                    ),
                )
            )
        )

        created = _causeway(
            nodes["org1"],
            admins["org1"],
            "proposal",
            "create",
            "--calls-file",
            str(draft),
            "--vote-yes",
            "--json",
        )
        proposal_id = json.loads(created.stdout)["id"]
        refused = _causeway(
            nodes["org3"], admins["org3"], "proposal", "execute", str(proposal_id), expect=3
        )
        assert "MAJORITY" in refused.stderr and "voted yes: org1" in refused.stderr

        _causeway(nodes["org2"], admins["org2"], "proposal", "vote", str(proposal_id), "--yes")
        _causeway(nodes["org3"], admins["org3"], "proposal", "vote", str(proposal_id), "--no")
        shown = json.loads(
            _causeway(
                nodes["org3"], admins["org3"], "proposal", "show", str(proposal_id), "--json"
            ).stdout
        )
        assert shown["policy_met"] is True and shown["counted_yes"] == ["org1", "org2"]
        assert [(v["organisation"], v["vote"]) for v in shown["votes"]] == [
            ("org1", "yes"),
            ("org2", "yes"),
            ("org3", "no"),
        ]
        assert shown["calls"][0]["arguments"]["config"]["endorsements_max"] == wanted

        executed = json.loads(
            _causeway(
                nodes["org3"], admins["org3"], "proposal", "execute", str(proposal_id), "--json"
            ).stdout
        )
        assert executed["status"] == "executed"
        after = types_pb2.ChainConfig.FromString(
            reader.evaluate("config", "get", contracts_pb2.ConfigGetArguments()).return_value
        )
        assert after.endorsements_max == wanted
        again = _causeway(
            nodes["org2"], admins["org2"], "proposal", "execute", str(proposal_id), expect=3
        )
        assert "executed already" in again.stderr
        listed = json.loads(
            _causeway(
                nodes["org1"], admins["org1"], "proposal", "list", "--status", "executed", "--json"
            ).stdout
        )
        assert [item["id"] for item in listed] == [proposal_id]

"""`make demo`'s user contract: the token template built, deployed on chain A and used.

Builds the AssemblyScript token template (causeway.toolchains) in a scratch folder under the
devnet's directory, deploys it on chain-a signed by org1's admin and endorsed by the admins of
chain-a's other organisations (deploying is governance: the chain's contract policy), with a
supply minted to org1's admin, transfers some to org2's client, and prints each step: the module,
the deployment's code hash and version, the transfer's event as the contract emitted it, and the
balances. On a devnet where the token is deployed already (the script run again), the new build
upgrades it instead. Run by scripts/demo.sh; needs the compiler (`make toolchains`).

    python scripts/demo_contract.py DEVNET_DIRECTORY
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from causeway import toolchains
from causeway.errors import CausewayError, NotFoundError
from causeway.provisioning import load_devnet_description
from causeway.sdk import Client, ContractChange, ContractEvent, Identity
from causeway.sdk.contracts import decode_events

CHAIN = "chain-a"
CONTRACT = "demo_token"
LANGUAGE = "assemblyscript"
TEMPLATE = "token"
DEPLOYER = "org1/admin"
RECIPIENT = "org2/client"
SUPPLY = 1_000
SENT = 250
# Where the project is written, under the devnet's directory (replaced at each run).
SCRATCH_FOLDER = "contracts"
ADMIN_ROLE = "ADMIN"
TIMEOUT_S = 60.0


def describe_event(event: ContractEvent) -> str:
    fields = " ".join(f"{name}={value}" for name, value in (event.values or {}).items())
    return f"{event.contract}.{event.name} {fields}"


def build(directory: Path) -> tuple[bytes, str]:
    """The template as a new project in the scratch folder, built: (module, interface text)."""
    scratch = directory / SCRATCH_FOLDER
    shutil.rmtree(scratch, ignore_errors=True)
    project = toolchains.new_project(LANGUAGE, TEMPLATE, CONTRACT, scratch / CONTRACT)
    module, interface = toolchains.build(project)
    code = module.read_bytes()
    print(
        f"1. built the {LANGUAGE} {TEMPLATE} template as {CONTRACT}: {module}, {len(code):,} bytes"
    )
    return code, interface.read_text(encoding="utf-8")


def deploy_or_upgrade(
    admin: Client, endorsers: list[Identity], code: bytes, interface: str
) -> tuple[str, ContractChange]:
    """("deployed", the change), or ("upgraded", ...) when the chain has the token already."""
    try:
        admin.contracts.get_contract(CONTRACT)
    except NotFoundError:
        change = admin.contracts.deploy(
            CONTRACT,
            code,
            interface,
            init_arguments={"supply": SUPPLY},
            endorsers=endorsers,
            timeout_s=TIMEOUT_S,
        )
        return "deployed", change
    change = admin.contracts.upgrade(
        CONTRACT, code, interface, endorsers=endorsers, timeout_s=TIMEOUT_S
    )
    return "upgraded", change


def main(directory: Path) -> None:
    chain = load_devnet_description(directory).chain(CHAIN)
    members = {member.member_id: Path(member.directory) for member in chain.members}
    other_admins = sorted(
        member.member_id
        for member in chain.members
        if ADMIN_ROLE in member.roles and member.member_id != DEPLOYER
    )
    address = chain.nodes[0].grpc_address
    code, interface = build(directory)
    endorsers = [Identity.load(members[member_id]) for member_id in other_admins]
    with (
        Client(address, Identity.load(members[DEPLOYER]), timeout_s=TIMEOUT_S) as admin,
        Client(address, Identity.load(members[RECIPIENT]), timeout_s=TIMEOUT_S) as recipient,
    ):
        done, change = deploy_or_upgrade(admin, endorsers, code, interface)
        info = change.contract
        print(
            f"2. {done} on {CHAIN} at height {change.height}, signed by {DEPLOYER} and endorsed "
            f"by {', '.join(other_admins)}: {info.name} version {info.version}, {info.status}, "
            f"code hash {info.code_hash.hex()}"
        )
        # The code contract's own event of the change is left out: the token's are init's.
        for event in decode_events(info.name, info.interface, change.result.events):
            if event.contract == info.name:
                print(f"   init: {describe_event(event)}")
        token = admin.contracts.contract(CONTRACT)
        transfer = token.invoke("transfer", {"to": RECIPIENT, "amount": SENT}, timeout_s=TIMEOUT_S)
        print(f"3. transfer of {SENT} from {DEPLOYER} to {RECIPIENT} at height {transfer.height}")
        for event in transfer.events:
            print(f"   event: {describe_event(event)}")
        seen_by_recipient = recipient.contracts.contract(CONTRACT)
        balances = ", ".join(
            f"{owner} {seen_by_recipient.query('balance', owner=owner)['amount']}"
            for owner in (DEPLOYER, RECIPIENT)
        )
        supply = seen_by_recipient.query("total_supply")["amount"]
        print(f"balances: {balances} (total supply {supply})")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    try:
        main(Path(sys.argv[1]))
    except CausewayError as error:
        raise SystemExit(f"demo contract failed: {error}") from None

"""`make demo`'s atomic cross-chain transactions: all or nothing across chain-a and chain-b.

Two transactions of the same shape, each submitted with `causeway xtx submit` (the hub, the
owners' signatures and the wait all done by the command, with the devnet's members):

1. COMMIT: 10 gold from org1/client to org2/client on chain-a, and the kv key
   registrations/42 = "registered" on chain-b if it is absent. Both are applied.
2. ABORT: the same, but the key now exists, so chain-b votes NO; the hub aborts, chain-a's
   reserved gold comes back. The balances and the key are as before, shown side by side.

The balances and the key are printed before and after each (read with their proofs). If the key
already exists (the demo ran before on this devnet), the next free registrations/<n> is used.
Run by scripts/demo.sh after the transfer step.

    python scripts/demo_atomic.py DEVNET_DIRECTORY
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from causeway.errors import CausewayError
from causeway.provisioning import load_devnet_description
from causeway.sdk import Client, Identity

DENOM = "gold"
AMOUNT = 10
PAYER = "org1/client"
PAYEE = "org2/client"
KEY_NUMBER_FIRST = 42
KEY_NUMBERS_TRIED_MAX = 1000
VALUE = "registered"
DEADLINE_SECONDS = 60
SUBMIT_TIMEOUT_S = 180
EXIT_COMMIT = 0
EXIT_ABORT = 3


def member_client(directory: Path, chain_id: str, member_id: str) -> Client:
    chain = load_devnet_description(directory).chain(chain_id)
    (entry,) = (m for m in chain.members if m.member_id == member_id)
    return Client(chain.nodes[0].grpc_address, Identity.load(Path(entry.directory)))


def kv_value(client: Client, key: str) -> str | None:
    response = client.get_state(b"kv/" + key.encode("utf-8"))
    return response.value.decode("utf-8", errors="replace") if response.found else None


@dataclass(frozen=True, slots=True)
class Snapshot:
    payer: int
    payee: int
    key: str | None

    def text(self, key: str) -> str:
        shown = "absent" if self.key is None else f"= {self.key!r}"
        return (
            f"chain-a {PAYER} {self.payer} {DENOM}, {PAYEE} {self.payee} {DENOM}; "
            f"chain-b kv {key} {shown}"
        )


def snapshot(chain_a: Client, chain_b: Client, key: str) -> Snapshot:
    return Snapshot(
        chain_a.interchain.balance(PAYER, DENOM),
        chain_a.interchain.balance(PAYEE, DENOM),
        kv_value(chain_b, key),
    )


def transaction_file(key: str) -> str:
    return f"""version = 1
hub = "hub"
deadline_seconds = {DEADLINE_SECONDS}
memo = "pay and register {key}"

[[leg]]
chain = "chain-a"
owner = "{PAYER}"
kind = "bank_transfer"
from = "{PAYER}"
to = "{PAYEE}"
denom = "{DENOM}"
amount = {AMOUNT}

[[leg]]
chain = "chain-b"
owner = "{PAYER}"
kind = "kv_write"
key = "{key}"
value = "{VALUE}"
expect_absent = true
"""


def causeway_command() -> list[str]:
    """The `causeway` command of this interpreter's installation."""
    return [sys.executable, "-m", "causeway.cli"]


def submit(directory: Path, file: Path, expected_code: int) -> None:
    arguments = ["xtx", "submit", str(file), "--dir", str(directory)]
    print(f"   $ causeway {' '.join(arguments[:3])} --dir {directory}")
    completed = subprocess.run(
        [*causeway_command(), *arguments, "--timeout", str(SUBMIT_TIMEOUT_S)],
        capture_output=True,
        text=True,
        timeout=SUBMIT_TIMEOUT_S + 60,
        check=False,
    )
    for line in (completed.stdout + completed.stderr).splitlines():
        print(f"   {line}")
    if completed.returncode != expected_code:
        raise SystemExit(
            f"xtx submit exited {completed.returncode}, not {expected_code} as this step expects"
        )
    print(f"   (exit status {completed.returncode})")


def free_key(chain_b: Client) -> str:
    for number in range(KEY_NUMBER_FIRST, KEY_NUMBER_FIRST + KEY_NUMBERS_TRIED_MAX):
        key = f"registrations/{number}"
        if kv_value(chain_b, key) is None:
            return key
    raise SystemExit("no free registrations/<n> key on chain-b")


def main(directory: Path) -> None:
    with (
        member_client(directory, "chain-a", "org1/admin") as a_admin,
        member_client(directory, "chain-a", PAYER) as chain_a,
        member_client(directory, "chain-b", PAYER) as chain_b,
        tempfile.TemporaryDirectory(prefix="demo-atomic-") as folder,
    ):
        if chain_a.interchain.balance(PAYER, DENOM) < 2 * AMOUNT:
            a_admin.interchain.issue(PAYER, DENOM, 2 * AMOUNT)
        key = free_key(chain_b)
        file = Path(folder) / "pay-and-register.toml"
        file.write_text(transaction_file(key), encoding="utf-8")

        print(
            f"1. COMMIT: {AMOUNT} {DENOM} {PAYER} -> {PAYEE} on chain-a, and kv {key} = "
            f"{VALUE!r} (if absent) on chain-b"
        )
        before = snapshot(chain_a, chain_b, key)
        print(f"   before: {before.text(key)}")
        submit(directory, file, EXIT_COMMIT)
        after = snapshot(chain_a, chain_b, key)
        print(f"   after:  {after.text(key)}")
        if (after.payer, after.payee, after.key) != (
            before.payer - AMOUNT,
            before.payee + AMOUNT,
            VALUE,
        ):
            raise SystemExit("the committed transaction did not apply both legs")
        print("   both legs applied")

        print(
            f"2. ABORT: the same again; kv {key} now exists, so chain-b's precondition fails and "
            "it votes no"
        )
        before = snapshot(chain_a, chain_b, key)
        print(f"   before: {before.text(key)}")
        submit(directory, file, EXIT_ABORT)
        after = snapshot(chain_a, chain_b, key)
        print(f"   after:  {after.text(key)}")
        if after != before:
            raise SystemExit("the aborted transaction changed something")
        print("   nothing moved: chain-a's reserve came back, the key is unchanged")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    try:
        main(Path(sys.argv[1]))
    except CausewayError as error:
        raise SystemExit(f"demo atomic failed: {error}") from None

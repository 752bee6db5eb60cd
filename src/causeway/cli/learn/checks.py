"""The exercise checkers of the learning path: each looks at the learner's own running network
and files (the workspace, where they ran the lesson's commands) and says what is done and,
precisely, what is missing, in both languages (causeway.cli.learn.lessons.Text).

A checker is a function of a ``Workspace`` to its ``Finding``s, in the order the lesson does
the work; it stops at the first finding the next ones depend on (no chain running: nothing on
it can be read). Reads only: a checker never writes to the chain or the learner's files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from causeway.cli.learn.lessons import Lesson, Text, lesson
from causeway.cli.proofs import load_proof_document, verify_proof_document
from causeway.contracts.v1 import contracts_pb2
from causeway.errors import CausewayError
from causeway.provisioning.devnet import load_devnet
from causeway.sdk import Client, Identity
from causeway.types import block_hash

# The folder of the lessons' network in the workspace (`causeway devnet up --dir devnet`).
NETWORK_FOLDER = "devnet"
READER = "organisations/org1/members/client"
GREETING_KEY = b"greeting"
GREETING_PROOF_FILE = "greeting-proof.json"
STATUS_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Finding:
    passed: bool
    text: Text


@dataclass(frozen=True, slots=True)
class CheckReport:
    lesson: Lesson
    findings: tuple[Finding, ...]

    @property
    def passed(self) -> bool:
        return bool(self.findings) and all(finding.passed for finding in self.findings)


class Workspace:
    """The learner's folder and what runs in it. ``connect`` makes a client of a node (the
    SDK's ``Client``; tests give the same)."""

    def __init__(
        self,
        folder: Path,
        connect: Callable[[str, Identity], Client] | None = None,
    ) -> None:
        self.folder = folder
        self._connect = connect or (
            lambda address, identity: Client(address, identity, timeout_s=STATUS_TIMEOUT_S)
        )

    def network(self) -> Path:
        return self.folder / NETWORK_FOLDER

    def node_address(self) -> str | None:
        """The first node of the lessons' devnet, or None when there is no devnet there."""
        try:
            nodes = load_devnet(self.network())
        except CausewayError:
            return None
        return nodes[0].grpc_address if nodes else None

    @contextmanager
    def client(self, address: str, member: str = READER) -> Iterator[Client]:
        client = self._connect(address, Identity.load(self.network() / member))
        try:
            yield client
        finally:
            client.close()


class _CannotGoOnError(Exception):
    """A finding the next ones depend on failed: the report ends with it."""

    def __init__(self, finding: Finding) -> None:
        self.finding = finding


def _running_chain(workspace: Workspace) -> tuple[str, Finding]:
    """The address of the lessons' running node, or _CannotGoOnError saying what to do first."""
    address = workspace.node_address()
    if address is None:
        raise _CannotGoOnError(
            Finding(
                False,
                Text(
                    f"工作目录里还没有网络（{NETWORK_FOLDER}/devnet.json）：先运行第 1 课的"
                    f" causeway devnet up --consensus solo --validators 1 --dir {NETWORK_FOLDER}",
                    f"No network in this folder yet ({NETWORK_FOLDER}/devnet.json): run lesson"
                    f" 1's causeway devnet up --consensus solo --validators 1 --dir"
                    f" {NETWORK_FOLDER}",
                ),
            )
        )
    try:
        with workspace.client(address) as client:
            status = client.status()
    except CausewayError:
        raise _CannotGoOnError(
            Finding(
                False,
                Text(
                    f"{NETWORK_FOLDER} 的节点（{address}）没有应答：用 causeway devnet start"
                    f" --dir {NETWORK_FOLDER} 重新启动它",
                    f"The node of {NETWORK_FOLDER} ({address}) does not answer: start it again"
                    f" with causeway devnet start --dir {NETWORK_FOLDER}",
                ),
            )
        ) from None
    return address, Finding(
        True,
        Text(
            f"链 {status.chain_id} 正在运行，高度 {status.height}",
            f"Chain {status.chain_id} is running, at height {status.height}",
        ),
    )


def check_first_chain(workspace: Workspace) -> Iterator[Finding]:
    """Lesson 1: the devnet runs, and the kv contract holds a value under "greeting"."""
    address, running = _running_chain(workspace)
    yield running
    with workspace.client(address) as client:
        result = client.evaluate("kv", "get", contracts_pb2.KvGetArguments(key=GREETING_KEY))
    answer = contracts_pb2.KvGetResult()
    answer.ParseFromString(result.return_value)
    if not answer.found or not answer.value:
        yield Finding(
            False,
            Text(
                "kv 合约里 greeting 键下还没有值：发送第 3 步的 kv.put 交易",
                "The kv contract holds no value under the key greeting yet: send step 3's"
                " kv.put transaction",
            ),
        )
        return
    value = answer.value.decode(errors="replace")
    yield Finding(
        True,
        Text(f"kv 合约里 greeting 的值是 “{value}”", f'The kv contract holds greeting = "{value}"'),
    )


def check_blocks_and_proofs(workspace: Workspace) -> Iterator[Finding]:
    """Lesson 2: greeting-proof.json is a valid proof that greeting holds its value, of a block
    of the learner's running chain."""
    address, running = _running_chain(workspace)
    yield running
    path = workspace.folder / GREETING_PROOF_FILE
    if not path.exists():
        yield Finding(
            False,
            Text(
                f"还没有 {GREETING_PROOF_FILE}：运行第 2 步的 causeway state get --kv greeting"
                f" --proof --out {GREETING_PROOF_FILE}",
                f"No {GREETING_PROOF_FILE} yet: run step 2's causeway state get --kv greeting"
                f" --proof --out {GREETING_PROOF_FILE}",
            ),
        )
        return
    try:
        verified = verify_proof_document(load_proof_document(path))
    except CausewayError as error:
        yield Finding(
            False,
            Text(
                f"{GREETING_PROOF_FILE} 不成立：{error.message}（重新运行第 2 步）",
                f"{GREETING_PROOF_FILE} does not hold: {error.message} (run step 2 again)",
            ),
        )
        return
    if verified.claim.get("key") != (b"kv/" + GREETING_KEY).hex() or not verified.claim.get(
        "present"
    ):
        yield Finding(
            False,
            Text(
                f"{GREETING_PROOF_FILE} 证明的不是 greeting 的值：用 --kv greeting 重新生成它",
                f"{GREETING_PROOF_FILE} does not prove greeting's value: make it again with"
                " --kv greeting",
            ),
        )
        return
    yield Finding(
        True,
        Text(
            f"{GREETING_PROOF_FILE} 成立：高度 {verified.height} 的状态根包含 greeting",
            f"{GREETING_PROOF_FILE} holds: the state root of height {verified.height} contains"
            " greeting",
        ),
    )
    with workspace.client(address) as client:
        header = client.get_header(verified.height).block.header
        chain_hash = block_hash(header, client.profile().hash)
    if chain_hash != verified.block_hash:
        yield Finding(
            False,
            Text(
                f"{GREETING_PROOF_FILE} 的区块不是你这条链高度 {verified.height} 的区块：在"
                " 第 1 课的网络上重新运行第 2 步",
                f"The block of {GREETING_PROOF_FILE} is not your chain's block at height"
                f" {verified.height}: run step 2 again against lesson 1's network",
            ),
        )
        return
    yield Finding(
        True,
        Text(
            f"它的区块哈希 {chain_hash.hex()[:16]}… 正是你这条链高度 {verified.height} 的区块",
            f"Its block hash {chain_hash.hex()[:16]}… is your chain's block at height"
            f" {verified.height}",
        ),
    )


CHECKERS: Mapping[int, Callable[[Workspace], Iterator[Finding]]] = {
    1: check_first_chain,
    2: check_blocks_and_proofs,
}


def check(number: int, workspace: Workspace) -> CheckReport:
    """Lesson ``number``'s checker over the workspace (RequestError for a lesson there is not)."""
    taught = lesson(number)
    findings: list[Finding] = []
    try:
        findings.extend(CHECKERS[number](workspace))
    except _CannotGoOnError as stop:
        findings.append(stop.finding)
    return CheckReport(taught, tuple(findings))

"""The exercise checkers of the learning path: each looks at the learner's own running network
and files (the workspace, where they ran the lesson's commands) and says what is done and,
precisely, what is missing, in both languages (causeway.cli.learn.lessons.Text).

A checker is a function of a ``Workspace`` to its ``Finding``s, in the order the lesson does
the work; it stops at the first finding the next ones depend on (no chain running: nothing on
it can be read). Reads only: a checker never writes to the chain or the learner's files.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from causeway.cli.learn.lessons import Lesson, Text, lesson
from causeway.cli.proofs import load_genesis_file, load_proof_document, verify_proof_document
from causeway.contracts.v1 import contracts_pb2, nodes_pb2, proposals_pb2
from causeway.crypto import get_profile
from causeway.errors import CausewayError
from causeway.interchain.v1 import atomic_pb2
from causeway.node import load_node_config
from causeway.node.snapshots import snapshot_trust
from causeway.provisioning import load_devnet_description
from causeway.provisioning.devnet import DevnetNode, load_devnet
from causeway.sdk import Client, FileCheckpoint, Identity
from causeway.sdk.checkpoint import START
from causeway.storage.snapshots import read_snapshot_file, verify_snapshot
from causeway.types import block_hash
from causeway.types.v1 import types_pb2

# The folder of the lessons' network in the workspace (`causeway devnet up --dir devnet`).
NETWORK_FOLDER = "devnet"
READER = "organisations/org1/members/client"
GREETING_KEY = b"greeting"
GREETING_PROOF_FILE = "greeting-proof.json"
# Lesson 3's network of four tbft validators, and the transaction sent while one was stopped.
BFT_FOLDER = "bft"
BFT_VALIDATORS = 4
SURVIVED_FILE = "survived.json"
# The program with which the learner signs, with node4's key, two conflicting prevotes.
DOUBLE_SIGN_PROGRAM = "double_sign.py"
# Lesson 4's chain of three organisations.
GOVERNANCE_FOLDER = "gov"
# Lesson 5's contract on lesson 1's chain, and how far it must count.
COUNTER_CONTRACT = "counter"
COUNTER_TARGET = 3
COUNTER_METHOD = "add"
# Lesson 6: the last note its SDK program writes, and its event follower's checkpoint file.
LAST_NOTE = b"note/2"
EVENTS_CHECKPOINT_FILE = "kv-events.json"
# Lesson 7: the devnet of three chains, and the transfer from chain-a to chain-b.
CHAINS_FOLDER = "chains"
SOURCE_CHAIN = "chain-a"
DESTINATION_CHAIN = "chain-b"
TRANSFER_ACCOUNT = "org1/client"
TRANSFER_DENOM = "gold"
# Lesson 8: the atomic transaction over lesson 7's chains.
HUB_CHAIN = "hub"
ATOMIC_PAYEE = "org2/client"
ATOMIC_AMOUNT = 10
ATOMIC_KEY = "registrations/42"
# Lesson 9: the snapshot of lesson 1's node; the node of a fifth organisation that joins lesson
# 3's chain, and how many blocks behind the chain it may be and still count as following it
# (health.BEHIND_BLOCKS_MAX_DEFAULT: a node further behind is not ready).
SNAPSHOT_FILE = "node1.snapshot"
JOINED_ORGANISATION = "org5"
JOINED_NODE = "org5-node1"
JOINED_MEMBER = f"{JOINED_ORGANISATION}/{JOINED_NODE}"
JOINED_BEHIND_MAX = 5
# Lesson 10: the resource the department MZ registers and revises.
DIRECTORY_RESOURCE = "101-MZ-000001"
DIRECTORY_VERSIONS = 2
STATUS_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class Finding:
    passed: bool
    text: Text


def done(zh: str, en: str) -> Finding:
    """What the learner has done, in both languages."""
    return Finding(True, Text(zh, en))


def missing(zh: str, en: str) -> Finding:
    """What is still missing, and how to do it, in both languages."""
    return Finding(False, Text(zh, en))


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

    def node_address(self, network: str = NETWORK_FOLDER) -> str | None:
        """The first node of a devnet of the workspace (the lessons' by default), or None when
        there is no devnet there."""
        try:
            nodes = load_devnet(self.folder / network)
        except CausewayError:
            return None
        return nodes[0].grpc_address if nodes else None

    @contextmanager
    def connected(self, address: str, member_folder: Path) -> Iterator[Client]:
        client = self._connect(address, Identity.load(member_folder))
        try:
            yield client
        finally:
            client.close()

    def client(
        self, address: str, member: str = READER, *, network: str = NETWORK_FOLDER
    ) -> AbstractContextManager[Client]:
        """A client signing as ``member`` of a devnet of the workspace (the lessons' reader)."""
        return self.connected(address, self.folder / network / member)


class _CannotGoOnError(Exception):
    """A finding the next ones depend on failed: the report ends with it."""

    def __init__(self, finding: Finding) -> None:
        self.finding = finding


def _running_chain(workspace: Workspace) -> tuple[str, Finding]:
    """The address of the lessons' running node, or _CannotGoOnError saying what to do first."""
    address = workspace.node_address()
    if address is None:
        raise _CannotGoOnError(
            missing(
                f"工作目录里还没有网络（{NETWORK_FOLDER}/devnet.json）：先运行第 1 课的"
                f" causeway devnet up --consensus solo --validators 1 --dir {NETWORK_FOLDER}",
                f"No network in this folder yet ({NETWORK_FOLDER}/devnet.json): run lesson"
                f" 1's causeway devnet up --consensus solo --validators 1 --dir"
                f" {NETWORK_FOLDER}",
            )
        )
    try:
        with workspace.client(address) as client:
            status = client.status()
    except CausewayError:
        raise _CannotGoOnError(
            missing(
                f"{NETWORK_FOLDER} 的节点（{address}）没有应答：用 causeway devnet start"
                f" --dir {NETWORK_FOLDER} 重新启动它",
                f"The node of {NETWORK_FOLDER} ({address}) does not answer: start it again"
                f" with causeway devnet start --dir {NETWORK_FOLDER}",
            )
        ) from None
    return address, done(
        f"链 {status.chain_id} 正在运行，高度 {status.height}",
        f"Chain {status.chain_id} is running, at height {status.height}",
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
        yield missing(
            "kv 合约里 greeting 键下还没有值：发送第 3 步的 kv.put 交易",
            "The kv contract holds no value under the key greeting yet: send step 3's"
            " kv.put transaction",
        )
        return
    value = answer.value.decode(errors="replace")
    yield done(
        f"kv 合约里 greeting 的值是 “{value}”", f'The kv contract holds greeting = "{value}"'
    )


def check_blocks_and_proofs(workspace: Workspace) -> Iterator[Finding]:
    """Lesson 2: greeting-proof.json is a valid proof that greeting holds its value, of a block
    of the learner's running chain."""
    address, running = _running_chain(workspace)
    yield running
    path = workspace.folder / GREETING_PROOF_FILE
    if not path.exists():
        yield missing(
            f"还没有 {GREETING_PROOF_FILE}：运行第 2 步的 causeway state get --kv greeting"
            f" --proof --out {GREETING_PROOF_FILE}",
            f"No {GREETING_PROOF_FILE} yet: run step 2's causeway state get --kv greeting"
            f" --proof --out {GREETING_PROOF_FILE}",
        )
        return
    try:
        verified = verify_proof_document(load_proof_document(path))
    except CausewayError as error:
        yield missing(
            f"{GREETING_PROOF_FILE} 不成立：{error.message}（重新运行第 2 步）",
            f"{GREETING_PROOF_FILE} does not hold: {error.message} (run step 2 again)",
        )
        return
    if verified.claim.get("key") != (b"kv/" + GREETING_KEY).hex() or not verified.claim.get(
        "present"
    ):
        yield missing(
            f"{GREETING_PROOF_FILE} 证明的不是 greeting 的值：用 --kv greeting 重新生成它",
            f"{GREETING_PROOF_FILE} does not prove greeting's value: make it again with"
            " --kv greeting",
        )
        return
    yield done(
        f"{GREETING_PROOF_FILE} 成立：高度 {verified.height} 的状态根包含 greeting",
        f"{GREETING_PROOF_FILE} holds: the state root of height {verified.height} contains"
        " greeting",
    )
    with workspace.client(address) as client:
        header = client.get_header(verified.height).block.header
        chain_hash = block_hash(header, client.profile().hash)
    if chain_hash != verified.block_hash:
        yield missing(
            f"{GREETING_PROOF_FILE} 的区块不是你这条链高度 {verified.height} 的区块：在"
            " 第 1 课的网络上重新运行第 2 步",
            f"The block of {GREETING_PROOF_FILE} is not your chain's block at height"
            f" {verified.height}: run step 2 again against lesson 1's network",
        )
        return
    yield done(
        f"它的区块哈希 {chain_hash.hex()[:16]}… 正是你这条链高度 {verified.height} 的区块",
        f"Its block hash {chain_hash.hex()[:16]}… is your chain's block at height"
        f" {verified.height}",
    )


def check_bft(workspace: Workspace) -> Iterator[Finding]:
    """Lesson 3: a tbft chain of four validators in bft/ committed survived.json's transaction
    in a block that node4 did not sign (it was stopped), node4, started again, caught up, and
    the chain recorded evidence that node4's key signed two conflicting votes."""
    try:
        nodes = load_devnet(workspace.folder / BFT_FOLDER)
    except CausewayError:
        nodes = []
    if len(nodes) != BFT_VALIDATORS:
        yield missing(
            f"{BFT_FOLDER}/ 里还没有四个验证者的网络：运行第 1 步的 causeway devnet up"
            f" --validators 4 --consensus tbft --dir {BFT_FOLDER} --port-base 7300",
            f"No network of four validators in {BFT_FOLDER}/ yet: run step 1's causeway"
            f" devnet up --validators 4 --consensus tbft --dir {BFT_FOLDER} --port-base 7300",
        )
        return
    stopped = nodes[-1]
    answering = [node for node in nodes[:-1] if _answers(workspace, BFT_FOLDER, node.grpc_address)]
    if not answering:
        yield missing(
            f"{BFT_FOLDER} 的节点都没有应答：用 causeway devnet start --dir {BFT_FOLDER} 启动它们",
            f"No node of {BFT_FOLDER} answers: start them with causeway devnet start --dir"
            f" {BFT_FOLDER}",
        )
        return
    yield done(
        f"{BFT_FOLDER} 有四个验证者，{len(answering)} 个（不含 {stopped.name}）在应答",
        f"{BFT_FOLDER} has four validators; {len(answering)} of them (not counting"
        f" {stopped.name}) answer",
    )
    path = workspace.folder / SURVIVED_FILE
    try:
        transaction_id = bytes.fromhex(
            json.loads(path.read_text(encoding="utf-8"))["transaction_id"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        yield missing(
            f"还没有 {SURVIVED_FILE}：{stopped.name} 停下后，运行第 3 步的 causeway tx send"
            f" ... --json > {SURVIVED_FILE}",
            f"No {SURVIVED_FILE} yet: with {stopped.name} stopped, run step 3's causeway tx"
            f" send ... --json > {SURVIVED_FILE}",
        )
        return
    with workspace.client(answering[0].grpc_address, network=BFT_FOLDER) as client:
        try:
            committed = client.get_transaction(transaction_id)
        except CausewayError:
            yield missing(
                f"{SURVIVED_FILE} 里的交易不在 {BFT_FOLDER} 链上：重新运行第 3 步",
                f"The transaction of {SURVIVED_FILE} is not on the {BFT_FOLDER} chain: run"
                " step 3 again",
            )
            return
        height = committed.height
        certificate = client.get_block(height).certificate
    signers = {signature.validator for signature in certificate.signatures}
    if stopped.member_id in signers or not stopped.member_id:
        yield missing(
            f"高度 {height} 的区块有 {stopped.name} 的签名：发送时它还在运行。先停下它"
            f"（第 2 步），再发送一次（第 3 步）",
            f"The block at height {height} carries {stopped.name}'s signature: it was"
            " running when you sent the transaction. Stop it (step 2) and send again (step 3)",
        )
        return
    yield done(
        f"高度 {height} 的区块由 {len(signers)} 个验证者签名提交，没有 {stopped.name}："
        "四个中的三个就足以让链继续",
        f"The block at height {height} was committed with the signatures of {len(signers)}"
        f" validators, without {stopped.name}: three of four are enough for the chain to go"
        " on",
    )
    caught_up = _height_of(workspace, BFT_FOLDER, stopped.grpc_address)
    if caught_up is None or caught_up < height:
        yield missing(
            f"{stopped.name} 还没有回来：用 causeway devnet start --dir {BFT_FOLDER} 重新启动"
            "它（第 5 步），看它追上其他节点",
            f"{stopped.name} is not back yet: start it again with causeway devnet start"
            f" --dir {BFT_FOLDER} (step 5) and watch it catch up",
        )
        return
    yield done(
        f"{stopped.name} 重新启动后追上了：它有高度 {caught_up} 的区块",
        f"{stopped.name}, started again, caught up: it holds the blocks to height {caught_up}",
    )
    with workspace.client(answering[0].grpc_address, network=BFT_FOLDER) as client:
        result = client.evaluate(
            "evidence", "list", contracts_pb2.EvidenceListArguments(validator=stopped.member_id)
        )
    records = contracts_pb2.EvidenceListResult.FromString(result.return_value).records
    if not records:
        yield missing(
            f"链上还没有 {stopped.member_id} 双重签名的证据：用它的密钥签两张冲突的预投票"
            f"（第 6 步的 {DOUBLE_SIGN_PROGRAM}），再用 evidence.submit 提交",
            f"No evidence on the chain that {stopped.member_id} signed twice: sign two"
            f" conflicting prevotes with its key (step 6's {DOUBLE_SIGN_PROGRAM}), then submit"
            " them with evidence.submit",
        )
        return
    record = records[0]
    first = record.evidence.first
    yield done(
        f"链在高度 {record.committed_height} 记录了证据：{stopped.member_id} 在高度"
        f" {first.height} 签了两张冲突的投票（由 {record.reporter} 提交）",
        f"The chain recorded at height {record.committed_height} the evidence that"
        f" {stopped.member_id} signed two conflicting votes at height {first.height}"
        f" (reported by {record.reporter})",
    )


def check_governance(workspace: Workspace) -> Iterator[Finding]:
    """Lesson 4: on the three organisations' chain in gov/, a proposal to change the chain's
    configuration was executed with the yes votes of a majority, and the configuration on
    chain is the one it proposed."""
    address = workspace.node_address(GOVERNANCE_FOLDER)
    if address is None:
        yield missing(
            f"{GOVERNANCE_FOLDER}/ 里还没有网络：运行第 1 步的 causeway devnet up"
            f" --consensus solo --validators 1 --orgs 3 --dir {GOVERNANCE_FOLDER}"
            " --port-base 7400",
            f"No network in {GOVERNANCE_FOLDER}/ yet: run step 1's causeway devnet up"
            f" --consensus solo --validators 1 --orgs 3 --dir {GOVERNANCE_FOLDER}"
            " --port-base 7400",
        )
        return
    if not _answers(workspace, GOVERNANCE_FOLDER, address):
        yield missing(
            f"{GOVERNANCE_FOLDER} 的节点（{address}）没有应答：用 causeway devnet start"
            f" --dir {GOVERNANCE_FOLDER} 重新启动它",
            f"The node of {GOVERNANCE_FOLDER} ({address}) does not answer: start it again"
            f" with causeway devnet start --dir {GOVERNANCE_FOLDER}",
        )
        return
    with workspace.client(address, network=GOVERNANCE_FOLDER) as client:
        proposals = [
            proposal
            for proposal in client.proposals.list()
            if any((call.contract, call.method) == ("config", "update") for call in proposal.calls)
        ]
        result = client.evaluate("config", "get", contracts_pb2.ConfigGetArguments())
    executed = [item for item in proposals if item.status == proposals_pb2.PROPOSAL_STATUS_EXECUTED]
    if not executed:
        if not proposals:
            yield missing(
                "还没有修改链配置的提案：以 org1 管理员的身份创建它（第 4 步）",
                "No proposal to change the chain's configuration yet: create it as org1's"
                " admin (step 4)",
            )
            return
        latest = proposals[-1]
        voted = ", ".join(vote.organisation for vote in latest.votes if vote.yes) or "-"
        yield missing(
            f"提案 {latest.id} 还没有执行（赞成的组织：{voted}）：三个组织需要多数赞成，"
            "以 org2 管理员的身份投赞成票（第 5 步），再执行它（第 6 步）",
            f"Proposal {latest.id} is not executed yet (yes votes: {voted}): three"
            " organisations need a majority; vote yes as org2's admin (step 5), then execute"
            " it (step 6)",
        )
        return
    proposal = executed[-1]
    voters = sorted({vote.organisation for vote in proposal.votes if vote.yes})
    yield done(
        f"提案 {proposal.id} 已执行，赞成的组织：{', '.join(voters)}（三个中的多数）",
        f"Proposal {proposal.id} was executed with the yes votes of {', '.join(voters)}"
        " (a majority of three)",
    )
    call = next(
        item for item in proposal.calls if (item.contract, item.method) == ("config", "update")
    )
    proposed = contracts_pb2.ConfigUpdateArguments.FromString(call.arguments).config
    on_chain = types_pb2.ChainConfig.FromString(result.return_value)
    if on_chain != proposed:
        yield missing(
            f"链上的配置与提案 {proposal.id} 提出的不同：之后又有别的修改？",
            f"The configuration on chain differs from what proposal {proposal.id} proposed:"
            " was it changed again since?",
        )
        return
    yield done(
        f"链上的配置正是提案所提出的：保留 {on_chain.state_history_heights} 个高度的状态证明",
        f"The configuration on chain is the proposed one: state proofs kept for"
        f" {on_chain.state_history_heights} heights",
    )


def check_contract(workspace: Workspace) -> Iterator[Finding]:
    """Lesson 5: a user contract named counter is deployed on lesson 1's chain, active, and its
    value is at least COUNTER_TARGET."""
    address, running = _running_chain(workspace)
    yield running
    with workspace.client(address) as client:
        try:
            info = client.contracts.get_contract(COUNTER_CONTRACT)
        except CausewayError:
            yield missing(
                f"你的链上还没有名为 {COUNTER_CONTRACT} 的合约：构建并部署它（第 3、4 步）",
                f"No contract named {COUNTER_CONTRACT} on your chain yet: build and deploy it"
                " (steps 3 and 4)",
            )
            return
        if info.status != "active":
            yield missing(
                f"合约 {COUNTER_CONTRACT} 的状态是 {info.status}，不是 active",
                f"The contract {COUNTER_CONTRACT} is {info.status}, not active",
            )
            return
        yield done(
            f"合约 {COUNTER_CONTRACT} 已部署（版本 {info.version}），状态 active",
            f"The contract {COUNTER_CONTRACT} is deployed (version {info.version}) and active",
        )
        handle = client.contracts.contract(COUNTER_CONTRACT)
        if COUNTER_METHOD not in handle.interface.methods:
            yield missing(
                f"{COUNTER_CONTRACT} 没有 {COUNTER_METHOD} 方法：编写它（第 2 步），再构建，"
                "并用 causeway contract upgrade 升级已部署的合约",
                f"{COUNTER_CONTRACT} has no {COUNTER_METHOD} method: write it (step 2), build"
                " again and upgrade the deployed contract with causeway contract upgrade",
            )
            return
        yield done(
            f"{COUNTER_CONTRACT} 有你写的方法 {COUNTER_METHOD}",
            f"{COUNTER_CONTRACT} has your method {COUNTER_METHOD}",
        )
        try:
            value = handle.query("get")["value"]
        except (CausewayError, KeyError):
            yield missing(
                f"{COUNTER_CONTRACT} 没有回答 get：部署的是第 1 步生成的计数器吗？",
                f"{COUNTER_CONTRACT} does not answer get: is it the counter of step 1?",
            )
            return
    count = value if isinstance(value, int) else 0
    if count < COUNTER_TARGET:
        yield missing(
            f"{COUNTER_CONTRACT} 的值是 {count}：再调用 increment {COUNTER_TARGET - count}"
            " 次（第 5 步）",
            f"{COUNTER_CONTRACT}'s value is {count}: call increment {COUNTER_TARGET - count}"
            " more times (step 5)",
        )
        return
    yield done(
        f"{COUNTER_CONTRACT} 的值是 {count}（至少 {COUNTER_TARGET}）",
        f"{COUNTER_CONTRACT}'s value is {count} (at least {COUNTER_TARGET})",
    )


def check_sdk_events(workspace: Workspace) -> Iterator[Finding]:
    """Lesson 6: the notes the learner's program wrote with the SDK are in the kv contract, and
    the checkpoint its event follower saved is the position of the last note's kv.put event."""
    address, running = _running_chain(workspace)
    yield running
    with workspace.client(address) as client:
        result = client.evaluate("kv", "get", contracts_pb2.KvGetArguments(key=LAST_NOTE))
        answer = contracts_pb2.KvGetResult.FromString(result.return_value)
        if not answer.found:
            yield missing(
                f"kv 合约里还没有 {LAST_NOTE.decode()}：运行第 1 步的 Python 程序",
                f"The kv contract holds no {LAST_NOTE.decode()} yet: run step 1's Python program",
            )
            return
        yield done(
            f"你用 SDK 写入的 {LAST_NOTE.decode()} 在链上",
            f"{LAST_NOTE.decode()}, written with the SDK, is on the chain",
        )
        try:
            position = FileCheckpoint(workspace.folder / EVENTS_CHECKPOINT_FILE).load()
        except CausewayError as error:
            yield missing(
                f"{EVENTS_CHECKPOINT_FILE} 不是检查点：{error.message}",
                f"{EVENTS_CHECKPOINT_FILE} is not a checkpoint: {error.message}",
            )
            return
        if position == START:
            yield missing(
                f"还没有 {EVENTS_CHECKPOINT_FILE}（或它还在起点）：运行第 2 步的事件跟随程序",
                f"No {EVENTS_CHECKPOINT_FILE} yet (or it is still at the start): run step"
                " 2's event follower",
            )
            return
        block = client.get_block(position.height)
    where = f"({position.height}, {position.transaction_index}, {position.event_index})"
    results = block.results
    event = None
    if position.transaction_index < len(results):
        events = results[position.transaction_index].events
        if position.event_index < len(events):
            event = events[position.event_index]
    keys = [] if event is None else [item.value for item in event.attributes if item.key == "key"]
    if event is None or (event.contract, event.name) != ("kv", "put") or keys != [LAST_NOTE.hex()]:
        yield missing(
            f"{EVENTS_CHECKPOINT_FILE} 停在 {where}，那不是 {LAST_NOTE.decode()} 的 kv.put"
            f" 事件：删掉 {EVENTS_CHECKPOINT_FILE}，再从头运行第 2 步",
            f"{EVENTS_CHECKPOINT_FILE} stands at {where}, which is not the kv.put event of"
            f" {LAST_NOTE.decode()}: delete {EVENTS_CHECKPOINT_FILE} and run step 2 again"
            " from the start",
        )
        return
    yield done(
        f"你的跟随程序的检查点 {where} 正是 {LAST_NOTE.decode()} 的 kv.put 事件：重启后它会"
        "从这里之后继续",
        f"Your follower's checkpoint {where} is the kv.put event of {LAST_NOTE.decode()}:"
        " restarted, it goes on right after it",
    )


def check_interchain(workspace: Workspace) -> Iterator[Finding]:
    """Lesson 7: on the devnet of chains/, gold issued on chain-a left it, and org1/client
    holds gold vouchers on chain-b (tokens carried through the hub, proven at each step)."""
    try:
        description = load_devnet_description(workspace.folder / CHAINS_FOLDER)
        source = description.chain(SOURCE_CHAIN)
        destination = description.chain(DESTINATION_CHAIN)
    except CausewayError:
        yield missing(
            f"{CHAINS_FOLDER}/ 里还没有 {SOURCE_CHAIN} 和 {DESTINATION_CHAIN}：保存第 1 步的"
            f" chains.toml，运行第 2 步的 causeway devnet up --manifest chains.toml --dir"
            f" {CHAINS_FOLDER} --port-base 7500",
            f"No {SOURCE_CHAIN} and {DESTINATION_CHAIN} in {CHAINS_FOLDER}/ yet: save step"
            f" 1's chains.toml and run step 2's causeway devnet up --manifest chains.toml"
            f" --dir {CHAINS_FOLDER} --port-base 7500",
        )
        return
    readers = {
        chain.id: next(m for m in chain.members if m.member_id == TRANSFER_ACCOUNT)
        for chain in (source, destination)
    }
    balances: dict[str, list[tuple[str, int]]] = {}
    for chain in (source, destination):
        try:
            with workspace.connected(
                chain.nodes[0].grpc_address, Path(readers[chain.id].directory)
            ) as client:
                coins = client.interchain.balances(TRANSFER_ACCOUNT)
        except CausewayError:
            yield missing(
                f"{chain.id} 的节点（{chain.nodes[0].grpc_address}）没有应答：用 causeway"
                f" devnet start --dir {CHAINS_FOLDER} 重新启动",
                f"The node of {chain.id} ({chain.nodes[0].grpc_address}) does not answer:"
                f" start the chains again with causeway devnet start --dir {CHAINS_FOLDER}",
            )
            return
        balances[chain.id] = [(coin.denom, int(coin.amount)) for coin in coins]
    issued = dict(balances[SOURCE_CHAIN]).get(TRANSFER_DENOM)
    if issued is None:
        yield missing(
            f"{SOURCE_CHAIN} 上的 {TRANSFER_ACCOUNT} 还没有 {TRANSFER_DENOM}：运行第 4 步的"
            " causeway bank issue",
            f"{TRANSFER_ACCOUNT} holds no {TRANSFER_DENOM} on {SOURCE_CHAIN} yet: run step"
            " 4's causeway bank issue",
        )
        return
    yield done(
        f"{SOURCE_CHAIN} 上的 {TRANSFER_ACCOUNT} 持有 {issued} {TRANSFER_DENOM}",
        f"{TRANSFER_ACCOUNT} holds {issued} {TRANSFER_DENOM} on {SOURCE_CHAIN}",
    )
    vouchers = [
        (denom, amount)
        for denom, amount in balances[DESTINATION_CHAIN]
        if denom.startswith("transfer/") and denom.endswith(f"/{TRANSFER_DENOM}") and amount > 0
    ]
    if not vouchers:
        yield missing(
            f"{DESTINATION_CHAIN} 上的 {TRANSFER_ACCOUNT} 还没有来自 {SOURCE_CHAIN} 的"
            f" {TRANSFER_DENOM}：运行第 5 步的 causeway transfer send（中继器要在运行）",
            f"{TRANSFER_ACCOUNT} holds no {TRANSFER_DENOM} from {SOURCE_CHAIN} on"
            f" {DESTINATION_CHAIN} yet: run step 5's causeway transfer send (with the relayer"
            " running)",
        )
        return
    denom, amount = vouchers[0]
    yield done(
        f"{DESTINATION_CHAIN} 上的 {TRANSFER_ACCOUNT} 持有 {amount} {denom}：经由枢纽从"
        f" {SOURCE_CHAIN} 转来的 {TRANSFER_DENOM}",
        f"{TRANSFER_ACCOUNT} holds {amount} {denom} on {DESTINATION_CHAIN}: {TRANSFER_DENOM}"
        f" from {SOURCE_CHAIN}, carried through the hub",
    )


def check_atomic(workspace: Workspace) -> Iterator[Finding]:
    """Lesson 8: on lesson 7's chains, the hub committed one atomic transaction (the gold paid
    on chain-a, the key written on chain-b) and aborted the same one sent again (nothing more
    paid)."""
    try:
        description = load_devnet_description(workspace.folder / CHAINS_FOLDER)
        chains = {
            chain_id: description.chain(chain_id)
            for chain_id in (HUB_CHAIN, SOURCE_CHAIN, DESTINATION_CHAIN)
        }
    except CausewayError:
        yield missing(
            f"{CHAINS_FOLDER}/ 里没有第 7 课的三条链：先完成第 7 课（不要停下它们）",
            f"No lesson 7 chains in {CHAINS_FOLDER}/: do lesson 7 first (and keep them running)",
        )
        return

    def connect(chain_id: str) -> AbstractContextManager[Client]:
        chain = chains[chain_id]
        member = next(m for m in chain.members if m.member_id == TRANSFER_ACCOUNT)
        return workspace.connected(chain.nodes[0].grpc_address, Path(member.directory))

    try:
        with connect(HUB_CHAIN) as hub:
            records = list(hub.atomic.list().records)
        with connect(SOURCE_CHAIN) as chain_a:
            paid = chain_a.interchain.balance(ATOMIC_PAYEE, TRANSFER_DENOM)
        with connect(DESTINATION_CHAIN) as chain_b:
            written = chain_b.evaluate(
                "kv", "get", contracts_pb2.KvGetArguments(key=ATOMIC_KEY.encode())
            )
    except CausewayError as error:
        yield missing(
            f"第 7 课的链没有应答（{error.message}）：用 causeway devnet start --dir"
            f" {CHAINS_FOLDER} 重新启动",
            f"Lesson 7's chains do not answer ({error.message}): start them again with"
            f" causeway devnet start --dir {CHAINS_FOLDER}",
        )
        return
    outcomes = [record.outcome for record in records]
    if atomic_pb2.ATOMIC_OUTCOME_COMMIT not in outcomes:
        yield missing(
            "枢纽上还没有提交的原子交易：运行第 2 步的 causeway xtx submit",
            "The hub has no committed atomic transaction yet: run step 2's causeway xtx submit",
        )
        return
    value = contracts_pb2.KvGetResult.FromString(written.return_value)
    if not value.found or paid < ATOMIC_AMOUNT:
        yield missing(
            f"提交的交易没有在两条链上都生效（{ATOMIC_PAYEE} 在 {SOURCE_CHAIN} 上有 {paid}"
            f" {TRANSFER_DENOM}，{ATOMIC_KEY} {'已' if value.found else '未'}写入"
            f" {DESTINATION_CHAIN}）：交易文件和第 1 步的一样吗？",
            f"The committed transaction did not apply on both chains ({ATOMIC_PAYEE} holds"
            f" {paid} {TRANSFER_DENOM} on {SOURCE_CHAIN}; {ATOMIC_KEY} is"
            f" {'' if value.found else 'not '}written on {DESTINATION_CHAIN}): is the file"
            " step 1's?",
        )
        return
    yield done(
        f"枢纽提交了一笔原子交易：{SOURCE_CHAIN} 上付了 {ATOMIC_AMOUNT} {TRANSFER_DENOM}，"
        f"{DESTINATION_CHAIN} 上写入了 {ATOMIC_KEY}",
        f"The hub committed an atomic transaction: {ATOMIC_AMOUNT} {TRANSFER_DENOM} paid on"
        f" {SOURCE_CHAIN} and {ATOMIC_KEY} written on {DESTINATION_CHAIN}",
    )
    if atomic_pb2.ATOMIC_OUTCOME_ABORT not in outcomes:
        yield missing(
            "枢纽上还没有中止的原子交易：再提交一次同一个文件（第 3 步）",
            "The hub has no aborted atomic transaction yet: submit the same file again (step 3)",
        )
        return
    if paid != ATOMIC_AMOUNT:
        yield missing(
            f"{ATOMIC_PAYEE} 在 {SOURCE_CHAIN} 上有 {paid} {TRANSFER_DENOM}，不是"
            f" {ATOMIC_AMOUNT}：不止一笔付款生效了",
            f"{ATOMIC_PAYEE} holds {paid} {TRANSFER_DENOM} on {SOURCE_CHAIN}, not"
            f" {ATOMIC_AMOUNT}: more than one payment applied",
        )
        return
    yield done(
        f"第二笔被中止：{DESTINATION_CHAIN} 投了反对票，{SOURCE_CHAIN} 上预留的"
        f" {TRANSFER_DENOM} 退了回去（{ATOMIC_PAYEE} 仍然只有 {paid}）",
        f"The second one aborted: {DESTINATION_CHAIN} voted no and {SOURCE_CHAIN}'s reserved"
        f" {TRANSFER_DENOM} went back ({ATOMIC_PAYEE} still holds {paid})",
    )


def check_operations(workspace: Workspace) -> Iterator[Finding]:
    """Lesson 9: node1.snapshot is a snapshot of the learner's chain that a new node would
    accept: proven from the chain's genesis through the validators' signatures, its block the
    running chain's at that height; then org5's node joined lesson 3's chain (below)."""
    address, running = _running_chain(workspace)
    yield running
    path = workspace.folder / SNAPSHOT_FILE
    if not path.exists():
        yield missing(
            f"还没有 {SNAPSHOT_FILE}：运行第 3 步的 causeway node snapshot create",
            f"No {SNAPSHOT_FILE} yet: run step 3's causeway node snapshot create",
        )
        return
    try:
        genesis = load_genesis_file(workspace.network() / "genesis.json")
        profile = get_profile(genesis.crypto_profile)
        verified = verify_snapshot(read_snapshot_file(path), snapshot_trust(genesis, profile))
    except CausewayError as error:
        yield missing(
            f"{SNAPSHOT_FILE} 不成立：{error.message}（重新运行第 3 步）",
            f"{SNAPSHOT_FILE} does not hold: {error.message} (run step 3 again)",
        )
        return
    height = verified.manifest.height
    yield done(
        f"{SNAPSHOT_FILE} 成立：高度 {height} 的 {len(verified.state)} 个状态条目，从创世文件"
        "经验证者签名得到证明",
        f"{SNAPSHOT_FILE} holds: {len(verified.state)} state entries at height {height},"
        " proven from the genesis through the validators' signatures",
    )
    with workspace.client(address) as client:
        header = client.get_header(height).block.header
        chain_hash = block_hash(header, client.profile().hash)
    if chain_hash != block_hash(verified.manifest.header.header, profile.hash):
        yield missing(
            f"{SNAPSHOT_FILE} 的区块不是你这条链高度 {height} 的区块",
            f"The block of {SNAPSHOT_FILE} is not your chain's block at height {height}",
        )
        return
    yield done(
        f"它的区块正是你这条链高度 {height} 的区块：新节点可以从这里开始",
        f"Its block is your chain's at height {height}: a new node can start from it",
    )
    yield from _check_joined_node(workspace)


def _check_joined_node(workspace: Workspace) -> Iterator[Finding]:
    """Lesson 9, sections 5 and 6: bft's governance recorded org5's node, which runs from its
    own folder as an observer of bft, caught up with bft's validators."""
    answering = [
        node
        for node in _devnet_nodes(workspace, BFT_FOLDER)
        if _answers(workspace, BFT_FOLDER, node.grpc_address)
    ]
    if not answering:
        yield missing(
            f"第 3 课的链没有在运行：用第 5 步的 causeway devnet start --dir {BFT_FOLDER} 启动它",
            f"Lesson 3's chain is not running: start it with step 5's causeway devnet start"
            f" --dir {BFT_FOLDER}",
        )
        return
    validator = answering[0]
    with workspace.client(validator.grpc_address, network=BFT_FOLDER) as client:
        result = client.evaluate("nodes", "list", nodes_pb2.NodesListArguments())
        chain = client.status()
    recorded = nodes_pb2.NodesListResult.FromString(result.return_value)
    endpoint = next((e for e in recorded.endpoints if e.member_id == JOINED_MEMBER), None)
    if endpoint is None:
        yield missing(
            f"{BFT_FOLDER} 链上还没有 {JOINED_MEMBER} 的记录：生成"
            f" join-{JOINED_ORGANISATION}.json，再让三个组织投票并执行它（第 5 步）",
            f"The {BFT_FOLDER} chain does not record {JOINED_MEMBER} yet: write"
            f" join-{JOINED_ORGANISATION}.json, then have three organisations vote it and"
            " execute it (step 5)",
        )
        return
    yield done(
        f"{BFT_FOLDER} 的治理接纳了 {JOINED_ORGANISATION}：它的节点记录在链上，地址"
        f" {endpoint.address}",
        f"{BFT_FOLDER}'s governance took {JOINED_ORGANISATION} in: its node is recorded on"
        f" the chain, at {endpoint.address}",
    )
    home = workspace.folder / JOINED_NODE
    try:
        address = load_node_config(home).grpc_address
    except CausewayError:
        yield missing(
            f"还没有节点目录 {JOINED_NODE}：用第 6 步的 causeway node join 准备它",
            f"No node folder {JOINED_NODE} yet: prepare it with step 6's causeway node join",
        )
        return
    try:
        with workspace.client(address, network=BFT_FOLDER) as client:
            joined = client.status()
    except CausewayError:
        yield missing(
            f"{JOINED_NODE} 没有应答（{address}）：用 causeway node start --home {JOINED_NODE}"
            f" > {JOINED_NODE}.log 2>&1 & 启动它（第 6 步）",
            f"{JOINED_NODE} does not answer ({address}): start it with causeway node start"
            f" --home {JOINED_NODE} > {JOINED_NODE}.log 2>&1 & (step 6)",
        )
        return
    if joined.genesis_hash != chain.genesis_hash:
        yield missing(
            f"{JOINED_NODE} 跟随的是另一条链（{joined.chain_id}）：用 --genesis"
            f" {BFT_FOLDER}/genesis.json 重新准备它",
            f"{JOINED_NODE} follows another chain ({joined.chain_id}): prepare it again with"
            f" --genesis {BFT_FOLDER}/genesis.json",
        )
        return
    if joined.height + JOINED_BEHIND_MAX < chain.height:
        yield missing(
            f"{JOINED_NODE} 在高度 {joined.height}，{validator.name} 在 {chain.height}："
            f"它还在追赶，稍后再检查（它的日志在 {JOINED_NODE}.log）",
            f"{JOINED_NODE} is at height {joined.height}, {validator.name} at {chain.height}: it"
            f" is still catching up; check again soon (its log is {JOINED_NODE}.log)",
        )
        return
    yield done(
        f"{JOINED_NODE} 以 {joined.role} 身份跟随 {BFT_FOLDER}，高度 {joined.height}"
        f"（{validator.name} 在 {chain.height}）",
        f"{JOINED_NODE} follows {BFT_FOLDER} as {joined.role}, at height {joined.height}"
        f" ({validator.name} at {chain.height})",
    )


def check_directory(workspace: Workspace) -> Iterator[Finding]:
    """Lesson 10: the directory contract on lesson 1's chain, with a resource registered by the
    department MZ and revised: two versions, the second linked to the first, both kept."""
    from causeway.apps.directory.client import DirectoryClient  # noqa: PLC0415 (an app)

    address, running = _running_chain(workspace)
    yield running
    with workspace.client(address) as client:
        directory = DirectoryClient(client)
        try:
            info = directory.info()
        except CausewayError:
            yield missing(
                "你的链上还没有目录合约：运行第 1 步的 Python 程序部署它",
                "No directory contract on your chain yet: deploy it with step 1's Python program",
            )
            return
        yield done(
            f"目录合约“{info.settings.name}”已部署，管理员组织："
            f"{', '.join(info.settings.administrator_organisations)}",
            f'The directory contract "{info.settings.name}" is deployed; administrators:'
            f" {', '.join(info.settings.administrator_organisations)}",
        )
        try:
            versions = directory.resource_history(DIRECTORY_RESOURCE)
        except CausewayError:
            versions = []
    if not versions:
        yield missing(
            f"目录里还没有资源 {DIRECTORY_RESOURCE}：设置分类和部门（第 2 步），再登记它"
            "（第 3 步）",
            f"No resource {DIRECTORY_RESOURCE} in the directory yet: set the scheme and the"
            " department (step 2), then register it (step 3)",
        )
        return
    yield done(
        f"资源 {DIRECTORY_RESOURCE}“{versions[0].metadata.name}”由 {versions[0].provider_code}"
        f" 登记于高度 {versions[0].height}",
        f'Resource {DIRECTORY_RESOURCE} "{versions[0].metadata.name}" was registered by'
        f" {versions[0].provider_code} at height {versions[0].height}",
    )
    if len(versions) < DIRECTORY_VERSIONS:
        yield missing(
            f"{DIRECTORY_RESOURCE} 只有 {len(versions)} 个版本：用第 4 步的 causeway directory"
            " revise 修订它",
            f"{DIRECTORY_RESOURCE} has {len(versions)} version: revise it with step 4's"
            " causeway directory revise",
        )
        return
    yield done(
        f"{DIRECTORY_RESOURCE} 有 {len(versions)} 个版本，每一个都保留在链上，各有自己的交易",
        f"{DIRECTORY_RESOURCE} has {len(versions)} versions, each kept on the chain with its"
        " own transaction",
    )


def _devnet_nodes(workspace: Workspace, network: str) -> list[DevnetNode]:
    try:
        return load_devnet(workspace.folder / network)
    except CausewayError:
        return []


def _answers(workspace: Workspace, network: str, address: str) -> bool:
    return _height_of(workspace, network, address) is not None


def _height_of(workspace: Workspace, network: str, address: str) -> int | None:
    """The height a node reports, or None when it does not answer."""
    try:
        with workspace.client(address, network=network) as client:
            return int(client.status().height)
    except CausewayError:
        return None


CHECKERS: Mapping[int, Callable[[Workspace], Iterator[Finding]]] = {
    1: check_first_chain,
    2: check_blocks_and_proofs,
    3: check_bft,
    4: check_governance,
    5: check_contract,
    6: check_sdk_events,
    7: check_interchain,
    8: check_atomic,
    9: check_operations,
    10: check_directory,
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

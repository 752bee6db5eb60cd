"""The SDK's user-contract operations without a node: arguments encoded through the interface
and refused before anything is sent, results and events decoded, failures raised with the
contract's message, records and list pages read, for the blocking and the asyncio handles.
tests/e2e/test_e2e_user_contracts.py runs the same against a real node."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from google.protobuf.message import Message
from tally_contract import REVERT_MESSAGE, tally_interface

from causeway.api.v1 import api_pb2
from causeway.contracts.v1 import contracts_pb2
from causeway.crypto import PrivateKey
from causeway.errors import (
    CausewayError,
    ConfigurationError,
    NotFoundError,
    RequestError,
    TransactionFailedError,
)
from causeway.execution.keys import code_record_key
from causeway.sdk import (
    AsyncContractHandle,
    AsyncContracts,
    ContractHandle,
    ContractInfo,
    Contracts,
    Identity,
    SubmitResult,
)
from causeway.sdk.contracts import (
    LIST_PAGE_MAX,
    decode_event,
    encode_call,
    entry_input,
)
from causeway.types.interface import decode_fields, encode_fields, parse_interface
from causeway.types.v1 import types_pb2

INTERFACE = parse_interface(tally_interface())
ADD = INTERFACE.methods["add"]
ADDED = INTERFACE.events["added"]


def _identity(member_id: str = "org1/alice") -> Identity:
    return Identity(member_id, PrivateKey.generate("ecdsa-p256"), "intl", "test-chain")


def _record(name: str, interface_json: str | None = None) -> contracts_pb2.ContractRecord:
    return contracts_pb2.ContractRecord(
        name=name,
        code_hash=bytes(32),
        version=1,
        status=contracts_pb2.CONTRACT_STATUS_ACTIVE,
        interface_json=INTERFACE.canonical_json() if interface_json is None else interface_json,
        methods=["add", "echo", "fail", "total"],
    )


def _added_result(total: int) -> types_pb2.TransactionResult:
    return types_pb2.TransactionResult(
        status=types_pb2.RESULT_STATUS_OK,
        return_value=encode_fields(ADD.returns, {"total": total}),
        events=[
            types_pb2.Event(
                contract="tally",
                name="added",
                data=encode_fields(ADDED.fields, {"by": "org1/alice", "amount": 2, "total": total}),
            ),
            types_pb2.Event(contract="other", name="added", data=b"\x01"),
        ],
    )


@dataclass
class FakeNode:
    """A ContractNode that answers from fixed results and records what reached it."""

    identity: Identity | None = field(default_factory=_identity)
    result: types_pb2.TransactionResult = field(default_factory=lambda: _added_result(5))
    committed: bool = True
    records: dict[bytes, bytes] = field(default_factory=dict)
    pages: list[contracts_pb2.CodeListResult] = field(default_factory=list)
    submitted: list[types_pb2.Transaction] = field(default_factory=list)
    evaluated: list[tuple[str, str, bytes]] = field(default_factory=list)

    def chain_id(self) -> str:
        return "test-chain"

    def get_state(
        self, key: bytes, height: int = 0, *, verify: bool = True
    ) -> api_pb2.GetStateResponse:
        value = self.records.get(key)
        return api_pb2.GetStateResponse(found=value is not None, value=value or b"", height=1)

    def evaluate(
        self, contract: str, method: str, arguments: Message | bytes
    ) -> types_pb2.TransactionResult:
        data = arguments if isinstance(arguments, bytes) else arguments.SerializeToString()
        self.evaluated.append((contract, method, data))
        if contract == "code" and method == "list":
            page = self.pages.pop(0)
            return types_pb2.TransactionResult(
                status=types_pb2.RESULT_STATUS_OK, return_value=page.SerializeToString()
            )
        return self.result

    def submit(
        self, transaction: types_pb2.Transaction, *, wait: bool = True, timeout_s: float = 30.0
    ) -> SubmitResult:
        self.submitted.append(transaction)
        return SubmitResult(
            transaction_id=b"\x07" * 32,
            height=9 if self.committed else 0,
            result=self.result if self.committed else None,
            committed=self.committed,
        )


class AsyncFakeNode:
    """FakeNode's answers, awaited."""

    def __init__(self, node: FakeNode) -> None:
        self.node = node
        self.identity = node.identity

    async def chain_id(self) -> str:
        return self.node.chain_id()

    async def get_state(
        self, key: bytes, height: int = 0, *, verify: bool = True
    ) -> api_pb2.GetStateResponse:
        return self.node.get_state(key, height, verify=verify)

    async def evaluate(
        self, contract: str, method: str, arguments: Message | bytes
    ) -> types_pb2.TransactionResult:
        return self.node.evaluate(contract, method, arguments)

    async def submit(
        self, transaction: types_pb2.Transaction, *, wait: bool = True, timeout_s: float = 30.0
    ) -> SubmitResult:
        return self.node.submit(transaction, wait=wait, timeout_s=timeout_s)


def _handle(node: FakeNode, name: str = "tally") -> ContractHandle:
    return ContractHandle(node, ContractInfo(_record(name), INTERFACE))


def _body(transaction: types_pb2.Transaction) -> types_pb2.TransactionBody:
    return types_pb2.TransactionBody.FromString(transaction.body)


# ------------------------------------------------------------------------------ encoding


def test_arguments_are_encoded_by_position_as_the_interface_lists_them() -> None:
    assert encode_call("tally", INTERFACE, "add", {"amount": 300}) == b"\x08\xac\x02"
    assert encode_call("tally", INTERFACE, "add", {}) == b""
    echoed = {"text": "hi", "flag": True, "blob": b"\x00", "offset": -1}
    data = encode_call("tally", INTERFACE, "echo", echoed)
    assert decode_fields(INTERFACE.methods["echo"].arguments, data) == echoed


@pytest.mark.parametrize(
    ("method", "arguments", "says"),
    [
        (
            "subtract",
            {},
            "contract tally-7 has no method 'subtract' in its interface (it has "
            "add, echo, fail, total)",
        ),
        ("init", {"start": 1}, "tally-7.init runs only at deployment or upgrade"),
        ("add", {"amout": 1}, "tally-7.add: unknown fields: amout"),
        ("add", {"amount": "1"}, "tally-7.add: field amount must be an integer, not '1'"),
        ("add", {"amount": True}, "field amount must be an integer, not True"),
        ("add", {"amount": 1 << 64}, "field amount must be 0 to 18446744073709551615"),
        ("echo", {"flag": 1}, "field flag must be true or false, not 1"),
        ("echo", {"text": b"x"}, "field text must be a string"),
        ("echo", {"blob": "x"}, "field blob must be bytes, not str"),
    ],
)
def test_bad_calls_are_refused_naming_what_is_wrong_before_anything_is_sent(
    method: str, arguments: dict[str, object], says: str
) -> None:
    node = FakeNode()
    handle = _handle(node, "tally-7")
    with pytest.raises(RequestError) as refused:
        handle.call(None, method, **arguments)
    assert says in refused.value.message
    with pytest.raises(RequestError):
        handle.query(method, **arguments)
    assert node.submitted == [] and node.evaluated == []


def test_init_and_migrate_inputs_follow_their_entries() -> None:
    assert entry_input(INTERFACE, "init", {"start": 1}) == b"\x08\x01"
    assert entry_input(INTERFACE, "init", None) == b""
    assert entry_input(INTERFACE, "migrate", None) == b""
    with pytest.raises(RequestError, match="has no migrate entry"):
        entry_input(INTERFACE, "migrate", {"bonus": 1})
    with pytest.raises(RequestError, match=r"tally\.init: unknown fields: begin"):
        entry_input(INTERFACE, "init", {"begin": 1})


def test_events_are_decoded_only_for_the_contract_and_the_names_of_its_interface() -> None:
    data = encode_fields(ADDED.fields, {"by": "org1/bob", "amount": 1, "total": 2})
    own = decode_event(
        "tally", INTERFACE, types_pb2.Event(contract="tally", name="added", data=data)
    )
    assert own.values == {"by": "org1/bob", "amount": 1, "total": 2} and own.data == data
    other = decode_event(
        "tally", INTERFACE, types_pb2.Event(contract="kv", name="added", data=data)
    )
    unlisted = decode_event(
        "tally", INTERFACE, types_pb2.Event(contract="tally", name="unknown", data=data)
    )
    garbage = decode_event(
        "tally", INTERFACE, types_pb2.Event(contract="tally", name="added", data=b"\xff")
    )
    assert other.values is None and unlisted.values is None and garbage.values is None
    native = decode_event(
        "tally",
        INTERFACE,
        types_pb2.Event(
            contract="code",
            name="deploy",
            attributes=[types_pb2.EventAttribute(key="contract", value="tally")],
        ),
    )
    assert native.attributes == {"contract": "tally"}


# ------------------------------------------------------------------------------ calls


def test_a_call_signs_sends_and_decodes() -> None:
    node = FakeNode()
    signer = _identity("org2/bob")
    result = _handle(node).call(signer, "add", amount=2)
    (transaction,) = node.submitted
    body = _body(transaction)
    assert (body.contract, body.method, body.arguments, body.sender) == (
        "tally",
        "add",
        b"\x08\x02",
        "org2/bob",
    )
    assert result.values == {"total": 5} and result["total"] == 5
    assert (result.height, result.transaction_id) == (9, b"\x07" * 32)
    assert [event.values for event in result.events] == [
        {"by": "org1/alice", "amount": 2, "total": 5},
        None,
    ]
    # Without an identity, the client's own signs; endorsers endorse.
    _handle(node).invoke("add", {"amount": 1}, endorsers=[_identity("org3/carol")])
    assert _body(node.submitted[-1]).sender == "org1/alice"
    assert [item.endorser for item in node.submitted[-1].endorsements] == ["org3/carol"]


def test_a_failed_call_raises_with_its_status_and_message() -> None:
    node = FakeNode(
        result=types_pb2.TransactionResult(
            status=types_pb2.RESULT_STATUS_CONTRACT_REVERTED, error=f"tally.fail: {REVERT_MESSAGE}"
        )
    )
    with pytest.raises(TransactionFailedError) as failed:
        _handle(node).call(None, "fail")
    assert failed.value.message == (
        f"tally.fail failed (RESULT_STATUS_CONTRACT_REVERTED): tally.fail: {REVERT_MESSAGE}"
    )
    assert failed.value.result is node.result
    with pytest.raises(TransactionFailedError, match="CONTRACT_REVERTED"):
        _handle(node).query("fail")


def test_a_call_not_committed_in_time_says_so() -> None:
    with pytest.raises(RequestError, match="not committed within 2 s") as late:
        _handle(FakeNode(committed=False)).invoke("add", {"amount": 1}, timeout_s=2)
    assert late.value.reason == "timeout"


def test_a_call_needs_an_identity() -> None:
    with pytest.raises(ConfigurationError, match="no identity"):
        _handle(FakeNode(identity=None)).call(None, "add", amount=1)


def test_a_query_evaluates_the_encoded_call() -> None:
    node = FakeNode(result=_added_result(12))
    assert _handle(node).query("total").values == {"total": 12}
    assert node.evaluated == [("tally", "total", b"")]


# ------------------------------------------------------------------------------ records


def _change_result(record: contracts_pb2.ContractRecord) -> types_pb2.TransactionResult:
    return types_pb2.TransactionResult(
        status=types_pb2.RESULT_STATUS_OK, return_value=record.SerializeToString()
    )


def test_deploy_sends_the_canonical_interface_and_the_init_input() -> None:
    node = FakeNode(result=_change_result(_record("tally")))
    change = Contracts(node).deploy(
        "tally", b"\0asm", tally_interface(), init_arguments={"start": 3}
    )
    body = _body(node.submitted[0])
    assert (body.contract, body.method) == ("code", "deploy")
    arguments = contracts_pb2.CodeDeployArguments.FromString(body.arguments)
    assert arguments.interface_json == INTERFACE.canonical_json()
    assert (arguments.name, arguments.code, arguments.init_input) == (
        "tally",
        b"\0asm",
        b"\x08\x03",
    )
    assert change.contract.name == "tally" and change.contract.status == "active"
    assert change.height == 9


def test_a_bad_interface_or_init_argument_is_refused_before_sending() -> None:
    node = FakeNode()
    with pytest.raises(RequestError, match="the interface is not JSON"):
        Contracts(node).deploy("tally", b"\0asm", "{nope")
    with pytest.raises(RequestError, match="unknown fields: begin"):
        Contracts(node).deploy("tally", b"\0asm", INTERFACE, init_arguments={"begin": 1})
    with pytest.raises(RequestError, match="has no migrate entry"):
        Contracts(node).upgrade("tally", b"\0asm", INTERFACE, migrate_arguments={"bonus": 1})
    assert node.submitted == []


def test_a_refused_change_raises_with_the_policy_message() -> None:
    node = FakeNode(
        result=types_pb2.TransactionResult(
            status=types_pb2.RESULT_STATUS_ENDORSEMENT_POLICY_NOT_SATISFIED,
            error="code.freeze needs endorsements satisfying the MAJORITY policy",
        )
    )
    with pytest.raises(TransactionFailedError, match=r"code\.freeze needs endorsements"):
        Contracts(node).freeze("tally")
    assert _body(node.submitted[0]).method == "freeze"


def test_get_contract_reads_the_record_key_and_parses_the_interface() -> None:
    node = FakeNode(records={code_record_key("tally"): _record("tally").SerializeToString()})
    info = Contracts(node).get_contract("tally")
    assert info.name == "tally" and info.interface == INTERFACE
    with pytest.raises(NotFoundError, match="no user contract 'missing' on chain test-chain"):
        Contracts(node).get_contract("missing")
    broken = FakeNode(
        records={code_record_key("tally"): _record("tally", "{}").SerializeToString()}
    )
    with pytest.raises(CausewayError, match="holds an interface that does not parse") as bad:
        Contracts(broken).get_contract("tally")
    assert bad.value.reason == "bad_response"


def _page(names: list[str], next_start_after: str = "") -> contracts_pb2.CodeListResult:
    return contracts_pb2.CodeListResult(
        contracts=[_record(name) for name in names], next_start_after=next_start_after
    )


def test_list_contracts_follows_the_pages() -> None:
    first = [f"c{index:03d}" for index in range(LIST_PAGE_MAX)]
    node = FakeNode(pages=[_page(first, first[-1]), _page(["z1", "z2"])])
    names = [info.name for info in Contracts(node).list_contracts()]
    assert names == [*first, "z1", "z2"]
    asked = [contracts_pb2.CodeListArguments.FromString(data) for _, _, data in node.evaluated]
    assert [(item.start_after, item.limit) for item in asked] == [
        ("", LIST_PAGE_MAX),
        (first[-1], LIST_PAGE_MAX),
    ]
    limited = FakeNode(pages=[_page(["a", "b"], "b")])
    assert [info.name for info in Contracts(limited).list_contracts(limit=2)] == ["a", "b"]
    assert contracts_pb2.CodeListArguments.FromString(limited.evaluated[0][2]).limit == 2
    with pytest.raises(RequestError, match="limit must be positive"):
        Contracts(FakeNode()).list_contracts(limit=0)


# ------------------------------------------------------------------------------ asyncio


async def test_the_async_handle_and_operations_mirror_the_blocking_ones() -> None:
    node = FakeNode()
    handle = AsyncContractHandle(AsyncFakeNode(node), ContractInfo(_record("tally"), INTERFACE))
    result = await handle.call(None, "add", amount=2)
    assert result["total"] == 5 and result.events[0].values is not None
    assert (await handle.query("total")).values == {"total": 5}
    with pytest.raises(RequestError, match="unknown fields: amout"):
        await handle.call(None, "add", amout=1)
    assert len(node.submitted) == 1
    changes = FakeNode(result=_change_result(_record("tally")))
    contracts = AsyncContracts(AsyncFakeNode(changes))
    change = await contracts.revoke("tally", endorsers=[_identity("org2/admin")])
    assert change.contract.name == "tally"
    assert _body(changes.submitted[0]).method == "revoke"
    listed = FakeNode(pages=[_page(["a"])])
    assert [info.name for info in await AsyncContracts(AsyncFakeNode(listed)).list_contracts()] == [
        "a"
    ]

"""SdkEndpoint against a real (solo) node process: headers whose certificates hold (read without
their blocks' bodies), validator sets (the next height's too), proofs in chunks of the API's
bound that check against their header, queries and submissions signed by the relayer's member,
and failover to the next node when one is down or serves another chain."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

_E2E = str(Path(__file__).resolve().parent.parent / "e2e")
if _E2E not in sys.path:
    sys.path.insert(0, _E2E)

from node_harness import NodeProcess, create_network, free_ports  # noqa: E402

from causeway.api import STATES_PER_REQUEST_MAX  # noqa: E402
from causeway.cli.chain_commands import kv_state_key  # noqa: E402
from causeway.contracts.v1 import contracts_pb2  # noqa: E402
from causeway.crypto import get_profile  # noqa: E402
from causeway.errors import NodeUnavailableError, NotFoundError, RequestError  # noqa: E402
from causeway.interchain.relayer import SdkEndpoint  # noqa: E402
from causeway.interchain.relayer.endpoint import runs_within  # noqa: E402
from causeway.light import CertificateQuorum, verify_header, verify_state  # noqa: E402
from causeway.sdk import Client  # noqa: E402
from causeway.types.v1 import types_pb2  # noqa: E402

pytestmark = pytest.mark.e2e

RELAYER = "org1/client"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    directory = tmp_path_factory.mktemp("relayer-endpoint")
    process = NodeProcess(create_network(directory / "network", "intl"), directory / "node.log")
    try:
        process.start()
        yield process
    finally:
        process.cleanup()


def endpoint(node: NodeProcess, *addresses: str, chain_id: str | None = None) -> SdkEndpoint:
    return SdkEndpoint(
        chain_id or node.network.chain_id,
        addresses or (node.grpc_address,),
        node.network.identity(RELAYER),
        request_timeout_s=5.0,
        submit_timeout_s=20.0,
    )


def put(end: SdkEndpoint, key: bytes, value: bytes) -> types_pb2.TransactionResult:
    (result,) = end.submit_all("kv", "put", [contracts_pb2.KvPutArguments(key=key, value=value)])
    return result


def test_submit_query_and_headers_of_a_real_node(node: NodeProcess) -> None:
    end = endpoint(node)
    try:
        result = put(end, b"colour", b"blue")
        assert result.status == types_pb2.RESULT_STATUS_OK
        answer = end.query("kv", "get", contracts_pb2.KvGetArguments(key=b"colour"))
        assert contracts_pb2.KvGetResult.FromString(answer).value == b"blue"
        latest = end.latest_height()
        assert latest >= 1
        profile = get_profile(node.network.crypto_profile)
        for height in (1, latest):
            header, certificate = end.signed_header(height)
            assert header.height == certificate.height == height
            verify_header(
                header,
                certificate,
                chain_id=node.network.chain_id,
                validators=end.validator_set(height),
                profile=profile,
                quorum=CertificateQuorum.MORE_THAN_TWO_THIRDS,
            )
        # Kept for the round; read again after begin_round.
        assert end.signed_header(latest) is end.signed_header(latest)
        end.begin_round()
        assert end.signed_header(latest)[0] == end.signed_header(latest)[0]
    finally:
        end.close()


def test_headers_are_read_without_their_blocks_body(
    node: NodeProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    def whole_block(client: Client, height: int = 0, *, verify: bool = True) -> NoReturn:
        raise AssertionError(f"block {height} was read whole for its header")

    monkeypatch.setattr(Client, "get_block", whole_block)
    end = endpoint(node)
    try:
        put(end, b"shape", b"round")
        height = end.latest_height()
        header, certificate = end.signed_header(height)
        assert header.height == certificate.height == height
        assert header.transaction_count >= 1
    finally:
        end.close()


def test_the_set_of_the_height_after_the_newest_is_its_next_set(node: NodeProcess) -> None:
    end = endpoint(node)
    try:
        latest = end.latest_height()
        header = end.signed_header(latest)[0]
        # A solo chain's set never changes: the newest header names the same set next.
        assert header.next_validator_set_hash == header.validator_set_hash
        assert end.validator_set(latest + 1) == end.validator_set(latest)
        with pytest.raises(NotFoundError, match="is not committed yet"):
            end.validator_set(latest + 50)
        with pytest.raises(RequestError, match="no validator set at height 0"):
            end.validator_set(0)
        with pytest.raises(RequestError, match="no block at height 0"):
            end.signed_header(0)
    finally:
        end.close()


def test_proofs_in_chunks_of_the_api_bound_check_against_their_header(node: NodeProcess) -> None:
    end = endpoint(node)
    try:
        put(end, b"first", b"1")
        put(end, b"second", b"2")
        height = end.latest_height()
        profile = get_profile(node.network.crypto_profile)
        header = end.signed_header(height)[0]
        present = [kv_state_key(b"first"), kv_state_key(b"second")]
        # One past the bound of a GetStates request: two requests, answered in order.
        absent = [kv_state_key(b"absent %d" % index) for index in range(STATES_PER_REQUEST_MAX)]
        keys = [present[0], *absent[:200], present[1], *absent[200:]]
        assert len(keys) == STATES_PER_REQUEST_MAX + 2
        proven = end.prove(keys, height)
        assert len(proven) == len(keys)
        assert proven[0][0] is not None and proven[201][0] is not None
        assert [value for value, _ in proven].count(None) == STATES_PER_REQUEST_MAX
        for key, (value, proof) in zip(keys, proven, strict=True):
            verify_state(header, key, value, proof, profile)
        # At a height before the second put, its key is proven absent.
        value, proof = end.prove([present[1]], height - 1)[0]
        assert value is None
        verify_state(end.signed_header(height - 1)[0], present[1], None, proof, profile)
        with pytest.raises(RequestError, match="no state at height 0"):
            end.prove(present, 0)
    finally:
        end.close()


def test_a_failed_query_is_a_request_error_naming_its_status(node: NodeProcess) -> None:
    end = endpoint(node)
    try:
        with pytest.raises(RequestError, match=r"kv\.nothing answered RESULT_STATUS_\w+"):
            end.query("kv", "nothing", contracts_pb2.KvGetArguments(key=b"x"))
    finally:
        end.close()


def test_a_node_down_is_skipped_for_the_next(node: NodeProcess) -> None:
    (dead_port,) = free_ports(1)
    end = endpoint(node, f"127.0.0.1:{dead_port}", node.grpc_address)
    try:
        assert end.latest_height() >= 1
        assert end.failovers == 1
        assert end.address == node.grpc_address
        assert put(end, b"after failover", b"x").status == types_pb2.RESULT_STATUS_OK
    finally:
        end.close()
    end = endpoint(node, f"127.0.0.1:{dead_port}")
    try:
        with pytest.raises(
            NodeUnavailableError, match=f"no node of chain {node.network.chain_id} answered"
        ):
            end.latest_height()
        with pytest.raises(NodeUnavailableError, match="answered"):
            put(end, b"k", b"v")
    finally:
        end.close()


def test_a_node_of_another_chain_counts_as_down(node: NodeProcess) -> None:
    end = endpoint(node, chain_id="other-chain")
    try:
        with pytest.raises(
            NodeUnavailableError,
            match=f"serves chain '{node.network.chain_id}', not 'other-chain'",
        ):
            end.latest_height()
    finally:
        end.close()


def test_several_submitted_together_commit_in_their_order(node: NodeProcess) -> None:
    end = endpoint(node)
    try:
        values = [b"first", b"second", b"third"]
        results = end.submit_all(
            "kv", "put", [contracts_pb2.KvPutArguments(key=b"order", value=v) for v in values]
        )
        assert [result.status for result in results] == [types_pb2.RESULT_STATUS_OK] * 3
        answer = end.query("kv", "get", contracts_pb2.KvGetArguments(key=b"order"))
        assert contracts_pb2.KvGetResult.FromString(answer).value == b"third"
        assert end.submit_all("kv", "put", []) == []
    finally:
        end.close()


def test_a_refused_transaction_among_several_raises_its_error(node: NodeProcess) -> None:
    end = endpoint(node)
    try:
        too_large = contracts_pb2.KvPutArguments(key=b"big", value=b"x" * (1 << 20))
        with pytest.raises(RequestError):
            end.submit_all("kv", "put", [too_large])
        answer = end.query("kv", "get", contracts_pb2.KvGetArguments(key=b"big"))
        assert contracts_pb2.KvGetResult.FromString(answer).found is False
    finally:
        end.close()


def test_submissions_go_in_runs_under_the_byte_bound() -> None:
    transactions = [types_pb2.Transaction(signature=b"s" * size) for size in (40, 40, 40, 90)]
    runs = runs_within(transactions, 100)
    assert [[len(t.signature) for t in run] for run in runs] == [[40, 40], [40], [90]]
    assert runs_within([], 100) == []
    # One larger than the bound goes alone.
    assert len(runs_within([types_pb2.Transaction(signature=b"s" * 500)], 100)) == 1

"""kv's limits at their edges, and a range page filled to the byte: the tests a cosmic-ray run over
execution/contracts/kv.py showed missing (docs/testing.md).

The limits are written out as numbers, not read by name: they decide which transactions succeed
and where a page ends, which every validator computes alike, so changing one is a change of the
protocol that a test should notice."""

from __future__ import annotations

import pytest
from execution_chain import Chain, status_name

from causeway.contracts.v1 import contracts_pb2
from causeway.execution.keys import KV_NAMESPACE, kv_key

KEY_BYTES_MAX = 256
VALUE_BYTES_MAX = 65_536
RANGE_LIMIT_DEFAULT = 100
RANGE_LIMIT_MAX = 1_000
RANGE_BYTES_MAX = 1 << 20


def run(chain: Chain, method: str, arguments: object) -> str:
    result = chain.run("org1/alice", "kv", method, arguments)  # type: ignore[arg-type]
    return status_name(result)


def kv_range(chain: Chain, **arguments: object) -> contracts_pb2.KvRangeResult:
    result = chain.run("org2/bob", "kv", "range", contracts_pb2.KvRangeArguments(**arguments))  # type: ignore[arg-type]
    assert status_name(result) == "RESULT_STATUS_OK", result.error
    return contracts_pb2.KvRangeResult.FromString(result.return_value)


def test_a_key_of_256_bytes_is_accepted_and_257_refused(chain: Chain) -> None:
    at, past = b"k" * KEY_BYTES_MAX, b"k" * (KEY_BYTES_MAX + 1)
    assert run(chain, "put", contracts_pb2.KvPutArguments(key=at, value=b"v")) == "RESULT_STATUS_OK"
    assert run(chain, "get", contracts_pb2.KvGetArguments(key=at)) == "RESULT_STATUS_OK"
    assert run(chain, "delete", contracts_pb2.KvDeleteArguments(key=at)) == "RESULT_STATUS_OK"
    before = dict(chain.state)
    for method, arguments in (
        ("put", contracts_pb2.KvPutArguments(key=past, value=b"v")),
        ("get", contracts_pb2.KvGetArguments(key=past)),
        ("delete", contracts_pb2.KvDeleteArguments(key=past)),
    ):
        assert run(chain, method, arguments) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert chain.state == before


def test_a_value_of_65536_bytes_is_accepted_and_65537_refused(chain: Chain) -> None:
    at = contracts_pb2.KvPutArguments(key=b"k", value=b"v" * VALUE_BYTES_MAX)
    assert run(chain, "put", at) == "RESULT_STATUS_OK"
    before = dict(chain.state)
    past = contracts_pb2.KvPutArguments(key=b"j", value=b"v" * (VALUE_BYTES_MAX + 1))
    assert run(chain, "put", past) == "RESULT_STATUS_INVALID_ARGUMENT"
    assert chain.state == before


@pytest.mark.parametrize("field", ["prefix", "start_after"])
def test_a_range_bound_of_256_bytes_is_accepted_and_257_refused(chain: Chain, field: str) -> None:
    chain.state[kv_key(b"k" * KEY_BYTES_MAX + b"z")] = b"v"
    at = kv_range(chain, **{field: b"k" * KEY_BYTES_MAX})
    assert [entry.key for entry in at.entries] == [b"k" * KEY_BYTES_MAX + b"z"]
    past = contracts_pb2.KvRangeArguments(**{field: b"k" * (KEY_BYTES_MAX + 1)})  # type: ignore[arg-type]
    assert run(chain, "range", past) == "RESULT_STATUS_INVALID_ARGUMENT"


def test_a_range_pages_100_entries_by_default_and_1000_at_most(chain: Chain) -> None:
    for index in range(RANGE_LIMIT_MAX + 1):
        chain.state[kv_key(b"%05d" % index)] = b""
    default = kv_range(chain)
    assert len(default.entries) == RANGE_LIMIT_DEFAULT
    assert default.next_start_after == b"%05d" % (RANGE_LIMIT_DEFAULT - 1)
    for asked in (RANGE_LIMIT_MAX, RANGE_LIMIT_MAX + 1):
        capped = kv_range(chain, limit=asked)
        assert len(capped.entries) == RANGE_LIMIT_MAX
        assert capped.next_start_after == b"%05d" % (RANGE_LIMIT_MAX - 1)
    one_below = kv_range(chain, limit=RANGE_LIMIT_MAX - 1)
    assert len(one_below.entries) == RANGE_LIMIT_MAX - 1


def test_a_range_reads_one_entry_past_its_page(chain: Chain) -> None:
    """The entry past the page says whether there is more; the entries read are charged."""
    for key in (b"a", b"b", b"c"):
        chain.state[kv_key(key)] = b"v"
    result = chain.run("org2/bob", "kv", "range", contracts_pb2.KvRangeArguments(limit=1))
    page = contracts_pb2.KvRangeResult.FromString(result.return_value)
    assert [entry.key for entry in page.entries] == [b"a"]
    assert page.next_start_after == b"a"
    # One range, two entries read (the page's and the next one).
    assert result.cost.reads == 3
    assert result.cost.bytes_read == len(KV_NAMESPACE) + 2 * len(kv_key(b"a") + b"v")


def _fill_a_page(chain: Chain, extra_bytes: int) -> None:
    """Sixteen entries of 1 MiB together (state key bytes, namespace included, and value bytes),
    plus `extra_bytes` in the last of them, then a small entry that would fit after a shorter
    page."""
    entry_overhead = len(KV_NAMESPACE) + len(b"big00")
    for index in range(15):
        chain.state[kv_key(b"big%02d" % index)] = b"v" * (VALUE_BYTES_MAX - entry_overhead)
    last = RANGE_BYTES_MAX - 15 * VALUE_BYTES_MAX - entry_overhead + extra_bytes
    chain.state[kv_key(b"big15")] = b"v" * last
    chain.state[kv_key(b"big16")] = b"v"


def test_a_range_page_may_hold_exactly_one_mebibyte(chain: Chain) -> None:
    _fill_a_page(chain, extra_bytes=0)
    page = kv_range(chain, prefix=b"big")
    assert [entry.key for entry in page.entries] == [b"big%02d" % index for index in range(16)]
    assert page.next_start_after == b"big15"


def test_a_range_page_ends_before_the_entry_one_byte_past_a_mebibyte(chain: Chain) -> None:
    _fill_a_page(chain, extra_bytes=1)
    page = kv_range(chain, prefix=b"big")
    # Not the entry that does not fit, nor the small one after it: a page is a prefix of the keys.
    assert [entry.key for entry in page.entries] == [b"big%02d" % index for index in range(15)]
    assert page.next_start_after == b"big14"

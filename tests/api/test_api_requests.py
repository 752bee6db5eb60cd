"""Which transactions a submit or query request carries: canonical bytes, or messages, not both."""

from __future__ import annotations

import pytest

from causeway.api import submitted_transaction, submitted_transactions
from causeway.api.v1 import api_pb2
from causeway.errors import DecodeError
from causeway.types import encode
from causeway.types.v1 import types_pb2

TRANSACTION = types_pb2.Transaction(body=b"\x08\x01", signature=b"s")


def test_canonical_bytes_are_taken_as_sent() -> None:
    data = encode(TRANSACTION)
    for request in (
        api_pb2.SubmitRequest(encoded_transaction=data),
        api_pb2.QueryRequest(encoded_transaction=data),
    ):
        assert submitted_transaction(request) == data
    batch = api_pb2.SubmitBatchRequest(encoded_transactions=[data, data])
    assert submitted_transactions(batch) == [data, data]


def test_a_message_is_taken_when_no_bytes_are_sent() -> None:
    assert submitted_transaction(api_pb2.SubmitRequest(transaction=TRANSACTION)) == TRANSACTION
    assert submitted_transaction(api_pb2.QueryRequest()) == types_pb2.Transaction()
    batch = api_pb2.SubmitBatchRequest(transactions=[TRANSACTION])
    assert submitted_transactions(batch) == [TRANSACTION]
    assert submitted_transactions(api_pb2.SubmitBatchRequest()) == []


@pytest.mark.parametrize(
    "request_",
    [
        api_pb2.SubmitRequest(transaction=TRANSACTION, encoded_transaction=b"x"),
        api_pb2.QueryRequest(transaction=TRANSACTION, encoded_transaction=b"x"),
    ],
)
def test_a_transaction_sent_both_ways_is_refused(
    request_: api_pb2.SubmitRequest | api_pb2.QueryRequest,
) -> None:
    with pytest.raises(DecodeError) as refused:
        submitted_transaction(request_)
    assert refused.value.reason == "malformed"
    assert refused.value.message == "set transaction or encoded_transaction, not both"


def test_a_batch_sent_both_ways_is_refused() -> None:
    batch = api_pb2.SubmitBatchRequest(transactions=[TRANSACTION], encoded_transactions=[b"x"])
    with pytest.raises(DecodeError) as refused:
        submitted_transactions(batch)
    assert refused.value.message == "set transactions or encoded_transactions, not both"

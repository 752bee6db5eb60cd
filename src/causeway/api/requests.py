"""The transactions of a submit or query request, as the client sent them.

A request carries a transaction either as its canonical bytes (`encoded_transaction(s)`, what the
SDK sends: the node decodes them once and keeps them) or as a message (`transaction(s)`, what an
HTTP/JSON client sends: encoded once by the node's decoder). Setting both is refused.
"""

from __future__ import annotations

from causeway.api.v1 import api_pb2
from causeway.errors import DecodeError
from causeway.types.v1 import types_pb2

SubmittedTransaction = bytes | types_pb2.Transaction


def submitted_transaction(
    request: api_pb2.SubmitRequest | api_pb2.QueryRequest,
) -> SubmittedTransaction:
    if request.encoded_transaction:
        if request.HasField("transaction"):
            raise DecodeError("set transaction or encoded_transaction, not both")
        return request.encoded_transaction
    return request.transaction


def submitted_transactions(request: api_pb2.SubmitBatchRequest) -> list[SubmittedTransaction]:
    if request.encoded_transactions:
        if request.transactions:
            raise DecodeError("set transactions or encoded_transactions, not both")
        return list(request.encoded_transactions)
    return list(request.transactions)

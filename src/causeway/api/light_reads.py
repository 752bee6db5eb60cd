"""What a light client reads: the validator set of any committed height, and many state proofs at
one height in one call (GetValidatorSet, GetStates).

Free functions over the node's store and state tree (structural types, so the API's test double
and the node answer alike); the client service calls them in a worker thread. The answers carry
the header they are checked against: ``causeway.light.verify_validator_set`` for a set,
``causeway.light.verify_state`` for each entry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from causeway.api.v1 import api_pb2
from causeway.errors import LimitExceededError, NotFoundError, RequestError
from causeway.types.v1 import types_pb2

# Keys one GetStates may ask for: bounds the proofs one call builds and the answer's size
# (each proof is at most 256 sibling hashes of 32 bytes, about 8 KiB).
STATES_PER_REQUEST_MAX = 256

ValidatorSetAt = tuple[int, types_pb2.ValidatorSet]


class BlockHeaders(Protocol):
    def latest_height(self) -> int: ...

    def get_header(self, height: int) -> types_pb2.BlockHeader: ...


class ValidatorSetIndex(BlockHeaders, Protocol):
    def get_validator_set(self, height: int) -> ValidatorSetAt | None: ...


class StateReader(BlockHeaders, Protocol):
    def get_state(self, key: bytes, version: int | None = None) -> bytes | None: ...


class StateProver(Protocol):
    def prove(self, key: bytes, version: int) -> types_pb2.StateProof: ...


def resolve_height(latest: int, requested: int) -> int:
    """The committed height a request names (0: the latest); NotFoundError beyond it."""
    if requested == 0:
        if latest == 0:
            raise NotFoundError("no block has been committed yet")
        return latest
    if requested > latest:
        raise NotFoundError(f"height {requested} is not committed yet (latest is {latest})")
    return requested


def validator_set_response(
    store: ValidatorSetIndex,
    request: api_pb2.GetValidatorSetRequest,
    schedule: Callable[[int], ValidatorSetAt],
) -> api_pb2.GetValidatorSetResponse:
    """The set that signed the committed block at the requested height, from the store's index;
    ``schedule`` (the validator schedule in state) answers heights below the index's start (a
    store written before the index existed) while it still keeps them."""
    height = resolve_height(store.latest_height(), request.height)
    indexed = store.get_validator_set(height)
    from_height, validators = indexed if indexed is not None else schedule(height)
    return api_pb2.GetValidatorSetResponse(
        height=height,
        validator_set=validators,
        from_height=from_height,
        header=store.get_header(height),
    )


def check_states_request(request: api_pb2.GetStatesRequest) -> None:
    """RequestError for no keys, LimitExceededError beyond STATES_PER_REQUEST_MAX."""
    count = len(request.keys)
    if count == 0:
        raise RequestError("GetStates needs at least one key")
    if count > STATES_PER_REQUEST_MAX:
        raise LimitExceededError(
            f"GetStates asks for {count} keys, above the limit of {STATES_PER_REQUEST_MAX}"
        )


def states_response(
    store: StateReader, tree: StateProver, request: api_pb2.GetStatesRequest, height: int
) -> api_pb2.GetStatesResponse:
    """Each key's value (or absence) at ``height`` with its proof against that height's header.
    The caller has checked the request (check_states_request) and that ``height`` is committed
    and its state kept."""
    check_states_request(request)
    entries = []
    for key in request.keys:
        value = store.get_state(key, height)
        entries.append(
            api_pb2.StateEntry(
                key=key,
                found=value is not None,
                value=value or b"",
                proof=tree.prove(key, height),
            )
        )
    return api_pb2.GetStatesResponse(
        height=height, header=store.get_header(height), entries=entries
    )

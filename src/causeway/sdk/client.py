"""The synchronous client: a gRPC channel to one node and a member identity to sign with."""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from google.protobuf.message import Message

from causeway.api.v1 import api_pb2, api_pb2_grpc
from causeway.crypto import CryptoProfile, get_profile
from causeway.errors import (
    CausewayError,
    ConfigurationError,
    NodeUnavailableError,
    RateLimitedError,
)
from causeway.sdk.checkpoint import Checkpoint
from causeway.sdk.connection import AccessTokenSource, ClientCertificate, channel_credentials
from causeway.sdk.identity import Identity
from causeway.sdk.rpc_errors import error_from_rpc
from causeway.sdk.streams import (
    RECONNECT_DELAY_MAX_S_DEFAULT,
    RECONNECT_DELAY_S_DEFAULT,
    Backoff,
    BlockCursor,
    Cursor,
    EventCursor,
    channel_options,
    position_of,
    reconnect_delay_s,
)
from causeway.sdk.transactions import (
    EXPIRY_S_DEFAULT,
    SubmitResult,
    batch_results,
    build_transaction,
    submit_result,
    wait_timeout_ms,
)
from causeway.sdk.verify import (
    verify_block,
    verify_header_response,
    verify_state_response,
    verify_states_response,
    verify_transaction_response,
    verify_validator_set_response,
)
from causeway.types import HashFunction, encode, transaction_id
from causeway.types.v1 import types_pb2

TIMEOUT_S_DEFAULT = 30.0
# Blocks can be large; this bounds what the client accepts in one message.
MESSAGE_BYTES_MAX_DEFAULT = 64 * 1024 * 1024

if TYPE_CHECKING:
    from causeway.sdk.atomic import Atomic
    from causeway.sdk.contracts import Contracts
    from causeway.sdk.interchain import Interchain
    from causeway.sdk.proposals import Proposals

RequestT = TypeVar("RequestT", bound=Message)
ResponseT = TypeVar("ResponseT", bound=Message)
ItemT = TypeVar("ItemT", bound=Message)


def without_body(response: api_pb2.GetBlockResponse) -> api_pb2.GetBlockResponse:
    """A header-only GetBlock answer as asked for, whatever the node sent: a node older than
    ``header_only`` ignores it and answers the whole block, whose body nothing checked."""
    del response.block.transactions[:]
    del response.results[:]
    return response


class Client:
    """A blocking client of one node.

    ``identity`` is needed only to sign transactions; reads and streams work without it. The
    chain id and crypto profile come from the identity when it names them, otherwise from the
    node's status (asked once). Every failure is a ``causeway.errors`` error: a refused request
    its RequestError subclass, a node that cannot be reached NodeUnavailableError. Close it (or
    use it as a context manager) to release the channel; close() also ends running follows.

    Example:

        identity = Identity.load("net/organisations/org1/members/client")
        with Client("127.0.0.1:7050", identity) as client:
            print(client.status().height)
    """

    def __init__(
        self,
        address: str,
        identity: Identity | None = None,
        *,
        timeout_s: float = TIMEOUT_S_DEFAULT,
        message_bytes_max: int = MESSAGE_BYTES_MAX_DEFAULT,
        credentials: grpc.ChannelCredentials | None = None,
        reconnect_delay_s: float = RECONNECT_DELAY_S_DEFAULT,
        reconnect_delay_max_s: float = RECONNECT_DELAY_MAX_S_DEFAULT,
        tls_ca_file: Path | str | None = None,
        client_certificate: ClientCertificate | None = None,
        token_identity: Identity | None = None,
    ) -> None:
        """Over TLS (``tls_ca_file``: the CAs the node's certificate is checked with), the client
        proves a member to a node that requires it: by ``client_certificate`` (mutual TLS) or by
        access tokens of ``token_identity`` (default: ``identity``) in every call's metadata.
        ``credentials`` instead sets the channel's credentials by hand."""
        if timeout_s <= 0:
            raise ConfigurationError(f"timeout_s must be positive, not {timeout_s}")
        Backoff(reconnect_delay_s, reconnect_delay_max_s, None)  # validates the delays
        self.address = address
        self.identity = identity
        self.timeout_s = timeout_s
        self._reconnect_delay_s = reconnect_delay_s
        self._reconnect_delay_max_s = reconnect_delay_max_s
        options = channel_options(message_bytes_max, reconnect_delay_s, reconnect_delay_max_s)
        if tls_ca_file is not None:
            if credentials is not None:
                raise ConfigurationError("give credentials or tls_ca_file, not both")
            token_identity = token_identity or identity
            credentials = channel_credentials(
                tls_ca_file=tls_ca_file,
                client_certificate=client_certificate,
                token_source=AccessTokenSource(token_identity) if token_identity else None,
            )
        elif client_certificate is not None or token_identity is not None:
            raise ConfigurationError(
                "client certificates and access tokens are sent only over TLS: give tls_ca_file"
            )
        if credentials is None:
            self._channel = grpc.insecure_channel(address, options=options)
        else:
            self._channel = grpc.secure_channel(address, credentials, options=options)
        self._stub = api_pb2_grpc.ChainStub(self._channel)
        self._chain_id = identity.chain_id if identity is not None else ""
        self._crypto_profile = identity.crypto_profile if identity is not None else ""
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._streams: set[Any] = set()

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Ends running follows and closes the channel; idempotent.

        Example:

            client = Client("127.0.0.1:7050")
            try:
                print(client.status().height)
            finally:
                client.close()
        """
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
            streams = list(self._streams)
        for stream in streams:
            stream.cancel()
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True once close() was called.

        Example:

            client.close()
            assert client.closed
        """
        return self._closed.is_set()

    def _check_open(self) -> None:
        if self._closed.is_set():
            raise NodeUnavailableError("the client is closed")

    def _unary(
        self,
        method: grpc.UnaryUnaryMultiCallable[RequestT, ResponseT],
        request: RequestT,
        timeout_s: float | None = None,
    ) -> ResponseT:
        self._check_open()
        try:
            return method(request, timeout=timeout_s or self.timeout_s)
        except grpc.RpcError as error:
            raise error_from_rpc(error) from error
        except ValueError as error:
            # gRPC's answer to a call on a channel closed meanwhile by another thread.
            if self._closed.is_set():
                raise NodeUnavailableError("the client is closed") from error
            raise

    @property
    def interchain(self) -> Interchain:
        """Light clients, ports, the hub's registry, transfers, packets and balances
        (causeway.sdk.interchain). Imported on first use: the interchain records load the
        interchain contracts' package, which a client that never uses them need not load.

        Example:

            print(client.interchain.balance("org1/client", "gold"))
        """
        from causeway.sdk.interchain import Interchain  # noqa: PLC0415

        return Interchain(self)

    @property
    def atomic(self) -> Atomic:
        """Atomic cross-chain transactions: begin, get, list and decide on the hub; leg and
        settle on a participant; register_hub and bind_port by governance
        (causeway.sdk.atomic). Imported on first use, like ``interchain``.

        Example:

            record, decision = client.atomic.get(identifier)
        """
        from causeway.sdk.atomic import Atomic  # noqa: PLC0415

        return Atomic(self)

    @property
    def contracts(self) -> Contracts:
        """User contracts: deploy, upgrade, freeze, unfreeze, revoke, their records, and calls
        through their interface (causeway.sdk.contracts). Imported on first use, like
        ``interchain``.

        Example:

            tally = client.contracts.contract("tally")
            print(tally.query("total")["total"])
        """
        from causeway.sdk.contracts import Contracts  # noqa: PLC0415

        return Contracts(self)

    @property
    def proposals(self) -> Proposals:
        """Governance proposals voted on chain: create, vote, execute, get, list
        (causeway.sdk.proposals). Imported on first use, like ``interchain``.

        Example:

            for proposal in client.proposals.list("open"):
                print(proposal.id, proposal.title)
        """
        from causeway.sdk.proposals import Proposals  # noqa: PLC0415

        return Proposals(self)

    # ------------------------------------------------------------------ chain facts

    def chain_id(self) -> str:
        """The chain id transactions are signed for.

        Example:

            print(client.chain_id())
        """
        if not self._chain_id:
            self._chain_id = self.status().chain_id
        return self._chain_id

    def profile(self) -> CryptoProfile:
        """The chain's crypto profile (asked of the node once, unless the identity names it).

        Example:

            print(client.profile().name)
        """
        if not self._crypto_profile:
            self._crypto_profile = self.status().crypto_profile
        return get_profile(self._crypto_profile)

    def hash_function(self) -> HashFunction:
        """The hash of the chain's crypto profile (ids, proofs).

        Example:

            digest = client.hash_function()(b"some bytes")
        """
        return self.profile().hash

    def transaction_id(self, transaction: types_pb2.Transaction) -> bytes:
        """The id of ``transaction``: the hash of its body, by the chain's crypto profile.

        Example:

            transaction = client.transaction("kv", "put", arguments)
            print(client.transaction_id(transaction).hex())
        """
        return transaction_id(transaction.body, self.hash_function())

    def _signer(self) -> Identity:
        if self.identity is None:
            raise ConfigurationError("this client has no identity to sign transactions with")
        return self.identity

    # ------------------------------------------------------------------ transactions

    def transaction(
        self,
        contract: str,
        method: str,
        arguments: Message | bytes,
        *,
        expiry_s: float = EXPIRY_S_DEFAULT,
        endorsers: Sequence[Identity] = (),
    ) -> types_pb2.Transaction:
        """A signed (and endorsed) transaction calling ``contract.method``; not submitted.

        Example:

            arguments = KvPutArguments(key=b"colour", value=b"blue")
            transaction = client.transaction("kv", "put", arguments, expiry_s=30)
            result = client.submit(transaction)
        """
        return build_transaction(
            self._signer(),
            self.chain_id(),
            contract,
            method,
            arguments,
            expiry_s=expiry_s,
            endorsers=endorsers,
        )

    def submit(
        self,
        transaction: types_pb2.Transaction,
        *,
        wait: bool = True,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> SubmitResult:
        """Submits; with ``wait``, answers once it committed or ``timeout_s`` passed
        (``committed`` says which). Raises the RequestError subclass of a refusal.

        Example:

            result = client.submit(transaction, timeout_s=10)
            print(result.committed, result.height)
        """
        request = api_pb2.SubmitRequest(
            encoded_transaction=encode(transaction),
            wait_for_commit=wait,
            wait_timeout_ms=wait_timeout_ms(timeout_s) if wait else 0,
        )
        deadline_s = self.timeout_s + (timeout_s if wait else 0)
        return submit_result(self._unary(self._stub.Submit, request, deadline_s))

    def submit_batch(
        self,
        transactions: Sequence[types_pb2.Transaction],
        *,
        wait: bool = True,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> list[SubmitResult]:
        """Submits several; one result per transaction, refused ones with ``error`` set.

        Example:

            transactions = [client.transaction("kv", "put", arguments) for arguments in puts]
            for result in client.submit_batch(transactions):
                print(result.transaction_id.hex(), result.error or result.height)
        """
        request = api_pb2.SubmitBatchRequest(
            encoded_transactions=[encode(transaction) for transaction in transactions],
            wait_for_commit=wait,
            wait_timeout_ms=wait_timeout_ms(timeout_s) if wait else 0,
        )
        deadline_s = self.timeout_s + (timeout_s if wait else 0)
        response = self._unary(self._stub.SubmitBatch, request, deadline_s)
        return batch_results(response, len(transactions))

    def invoke(
        self,
        contract: str,
        method: str,
        arguments: Message | bytes,
        *,
        expiry_s: float = EXPIRY_S_DEFAULT,
        endorsers: Sequence[Identity] = (),
        wait: bool = True,
        timeout_s: float = TIMEOUT_S_DEFAULT,
    ) -> SubmitResult:
        """Builds, signs and submits a transaction in one step.

        Example:

            arguments = KvPutArguments(key=b"colour", value=b"blue")
            result = client.invoke("kv", "put", arguments)
            print(result.committed, result.height)
        """
        transaction = self.transaction(
            contract, method, arguments, expiry_s=expiry_s, endorsers=endorsers
        )
        return self.submit(transaction, wait=wait, timeout_s=timeout_s)

    def evaluate(
        self, contract: str, method: str, arguments: Message | bytes
    ) -> types_pb2.TransactionResult:
        """Runs ``contract.method`` read-only against the latest state; nothing is committed.

        Example:

            result = client.evaluate("kv", "get", KvGetArguments(key=b"colour"))
            answer = KvGetResult.FromString(result.return_value)
        """
        transaction = self.transaction(contract, method, arguments)
        response = self._unary(
            self._stub.Query, api_pb2.QueryRequest(encoded_transaction=encode(transaction))
        )
        return response.result

    # ------------------------------------------------------------------ reads

    def status(self) -> api_pb2.GetStatusResponse:
        """The node's status: chain id, height, crypto profile, consensus, role and more.

        Example:

            status = client.status()
            print(status.chain_id, status.height, status.role)
        """
        status = self._unary(self._stub.GetStatus, api_pb2.GetStatusRequest())
        self._chain_id = self._chain_id or status.chain_id
        self._crypto_profile = self._crypto_profile or status.crypto_profile
        return status

    def get_block(self, height: int = 0, *, verify: bool = True) -> api_pb2.GetBlockResponse:
        """The block at ``height`` (0: the latest); ``verify`` checks its body against its
        header and its certificate against its hash.

        Example:

            response = client.get_block(42)
            print(response.block.header.height, len(response.block.transactions))
        """
        response = self._unary(self._stub.GetBlock, api_pb2.GetBlockRequest(height=height))
        if verify:
            verify_block(
                response.block, response.certificate, list(response.results), self.profile()
            )
        return response

    def get_header(self, height: int = 0, *, verify: bool = True) -> api_pb2.GetBlockResponse:
        """The header and certificate of the block at ``height`` (0: the latest), without its
        transactions and results (``block.transactions`` and ``results`` are empty); ``verify``
        checks that the certificate is for the header and the header of the height asked.
        Neither proves the header is the chain's: check the certificate's signatures with a set
        you trust (``verify_signed_header``).

        Example:

            header = client.get_header().block.header
            print(header.height)
        """
        request = api_pb2.GetBlockRequest(height=height, header_only=True)
        response = without_body(self._unary(self._stub.GetBlock, request))
        if verify:
            verify_header_response(response, self.profile(), height=height)
        return response

    def get_transaction(
        self, transaction_id: bytes, wait_s: float = 0, *, verify: bool = True
    ) -> api_pb2.GetTransactionResponse:
        """A committed transaction with its result, header and proofs (checked with
        ``verify``); waits up to ``wait_s`` for one not committed yet. NotFoundError if none.

        Example:

            response = client.get_transaction(result.transaction_id, wait_s=5)
            print(response.height, response.result.status)
        """
        request = api_pb2.GetTransactionRequest(
            transaction_id=transaction_id, wait_timeout_ms=wait_timeout_ms(wait_s)
        )
        response = self._unary(self._stub.GetTransaction, request, self.timeout_s + wait_s)
        if verify:
            verify_transaction_response(
                response, self.profile(), expected_transaction_id=transaction_id
            )
        return response

    def get_state(
        self, key: bytes, height: int = 0, *, verify: bool = True
    ) -> api_pb2.GetStateResponse:
        """The value of ``key`` at ``height`` (0: the latest) with its proof against the
        header's state root, checked with ``verify`` (ProofError when it does not hold).

        Example:

            response = client.get_state(key)
            print(response.found, response.value)
        """
        response = self._unary(self._stub.GetState, api_pb2.GetStateRequest(key=key, height=height))
        if verify:
            verify_state_response(response, key, self.profile(), height=height)
        return response

    def get_states(
        self, keys: Sequence[bytes], height: int = 0, *, verify: bool = True
    ) -> api_pb2.GetStatesResponse:
        """Many keys at one height (0: the latest; at most ``STATES_PER_REQUEST_MAX``) in one
        call, each with its proof against the one header answered, checked with ``verify``.

        Example:

            response = client.get_states([key, other_key])
            for entry in response.entries:
                print(entry.key, entry.found, entry.value)
        """
        request = api_pb2.GetStatesRequest(keys=list(keys), height=height)
        response = self._unary(self._stub.GetStates, request)
        if verify:
            verify_states_response(response, keys, self.profile(), height=height)
        return response

    def get_validator_set(
        self, height: int = 0, *, verify: bool = True
    ) -> api_pb2.GetValidatorSetResponse:
        """The validator set that signed the committed block at ``height`` (0: the latest);
        ``verify`` checks it against the header answered with it (its validator_set_hash).

        Example:

            response = client.get_validator_set()
            print(len(response.validator_set.validators))
        """
        request = api_pb2.GetValidatorSetRequest(height=height)
        response = self._unary(self._stub.GetValidatorSet, request)
        if verify:
            verify_validator_set_response(response, self.profile(), height=height)
        return response

    # ------------------------------------------------------------------ streams

    def follow_blocks(
        self,
        from_height: int = 1,
        *,
        verify: bool = True,
        reconnect_attempts_max: int | None = None,
    ) -> Generator[api_pb2.BlockEvent, None, None]:
        """Every block from ``from_height`` on, then each new one, forever: reconnects when
        the node goes away and resumes after the last block delivered. Ends on close().

        Example:

            for event in client.follow_blocks(from_height=100):
                print(event.block.header.height, len(event.results))
        """
        hash_functions: list[HashFunction] = []

        def prepare() -> None:
            # Asked of the node (once) inside the retried part, so a node that is down when
            # the follow starts or reconnects is waited for like any other outage.
            if verify and not hash_functions:
                hash_functions.append(self.hash_function())

        def delivered(event: api_pb2.BlockEvent) -> None:
            if hash_functions:
                verify_block(event.block, event.certificate, list(event.results), hash_functions[0])

        return self._follow(
            self._stub.StreamBlocks,
            BlockCursor(from_height),
            delivered,
            reconnect_attempts_max,
            prepare,
        )

    def follow_events(
        self,
        checkpoint: Checkpoint,
        contract: str = "",
        name: str = "",
        *,
        from_height: int = 1,
        save_checkpoint: bool = True,
        reconnect_attempts_max: int | None = None,
    ) -> Generator[types_pb2.EventRecord, None, None]:
        """Contract events after the position in ``checkpoint`` (from ``from_height`` when it is
        empty), then new ones, forever; empty ``contract``/``name`` match all.

        Each event's position is saved to the checkpoint as it is delivered, so a consumer that
        restarts with the same checkpoint neither misses an event nor sees one twice. To
        acknowledge only after processing, pass ``save_checkpoint=False`` and save positions
        yourself.

        Example:

            for record in client.follow_events(FileCheckpoint("kv-events.json"), "kv", "put"):
                print(record.height, record.event.name)
        """
        cursor = EventCursor(checkpoint.load(), from_height, contract, name)

        def delivered(record: types_pb2.EventRecord) -> None:
            if save_checkpoint:
                checkpoint.save(position_of(record))

        return self._follow(self._stub.StreamEvents, cursor, delivered, reconnect_attempts_max)

    def _follow(
        self,
        method: grpc.UnaryStreamMultiCallable[Any, ItemT],
        cursor: Cursor[ItemT],
        delivered: Callable[[ItemT], None],
        reconnect_attempts_max: int | None,
        prepare: Callable[[], None] | None = None,
    ) -> Generator[ItemT, None, None]:
        """Streams with reconnects. An item counts as delivered (the cursor moves past it)
        only once ``delivered`` accepted it, right before it is yielded."""
        backoff = Backoff(
            self._reconnect_delay_s, self._reconnect_delay_max_s, reconnect_attempts_max
        )
        self._check_open()
        while not self._closed.is_set():
            failure: CausewayError | None = None
            stream = None
            try:
                if prepare is not None:
                    prepare()
                stream = self._open_stream(method, cursor.request())
                if stream is None:
                    return
                for item in stream:
                    if cursor.is_new(item):
                        delivered(item)
                        cursor.advance(item)
                        backoff.succeeded()
                        yield item
            except grpc.RpcError as error:
                if self._closed.is_set():
                    return
                failure = error_from_rpc(error)
                # A node that is down, or that asks to come back later (its rate limit), is
                # tried again; any other refusal ends the follow.
                if not isinstance(failure, NodeUnavailableError | RateLimitedError):
                    raise failure from error
            except NodeUnavailableError as error:
                if self._closed.is_set():
                    return
                failure = error
            finally:
                if stream is not None:
                    with self._lock:
                        self._streams.discard(stream)
                    stream.cancel()
            if self._closed.wait(reconnect_delay_s(backoff, failure)):
                return

    def _open_stream(
        self, method: grpc.UnaryStreamMultiCallable[Any, ItemT], request: Message
    ) -> Any:
        with self._lock:
            if self._closed.is_set():
                return None
            stream = method(request)
            self._streams.add(stream)
        return stream

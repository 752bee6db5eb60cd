"""``SdkEndpoint``: a ``relaying.ChainEndpoint`` over the SDK, talking to one of a chain's nodes
and moving on to the next when it is down.

Every read is verified as far as the SDK can (a header's certificate against its hash, a
validator set against its header, each state proof against its header's root). The headers
themselves are not trusted here: the relayer checks certificates with ``causeway.light`` and the
counterparty's light client checks everything again; a lying node can only make a round fail.

Headers and validator sets of committed heights do not change, so they are kept for one round
(``begin_round`` forgets them: a raft node completes a height's certificate a moment after the
block, and the next round must see the better certificate).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from causeway.api import STATES_PER_REQUEST_MAX
from causeway.api.v1 import api_pb2
from causeway.errors import (
    CausewayError,
    HeightUnavailableError,
    NodeUnavailableError,
    NotFoundError,
    RequestError,
    WrongChainError,
)
from causeway.interchain.relayer.config import ChainSettings, TlsFiles
from causeway.sdk import AccessTokenSource, Client, Identity, token_call_credentials
from causeway.types.v1 import types_pb2

logger = logging.getLogger("causeway.relayer")

REQUEST_TIMEOUT_S_DEFAULT = 10.0
SUBMIT_TIMEOUT_S_DEFAULT = 30.0
# Headers and sets kept within a round; a round reads a few dozen heights.
ROUND_CACHE_ENTRIES_MAX = 256
# What one SubmitBatch call carries at most: a round's relay transactions go in as few calls as
# this allows, well under the 64 MiB a node accepts by default and what proxies pass.
SUBMIT_BATCH_BYTES_MAX = 4 * 1024 * 1024

T = TypeVar("T")


def channel_credentials(
    tls: TlsFiles, identity: Identity | None = None, chain_id: str = ""
) -> grpc.ChannelCredentials:
    """TLS to a chain's nodes; with ``identity``, every call also carries an access token of that
    member (nodes whose API requires authentication, docs/api.md "Access")."""
    credentials = grpc.ssl_channel_credentials(
        root_certificates=tls.ca_pem,
        private_key=tls.key_pem,
        certificate_chain=tls.certificate_pem,
    )
    if identity is None:
        return credentials
    if not identity.chain_id:
        identity = dataclasses.replace(identity, chain_id=chain_id)
    return grpc.composite_channel_credentials(
        credentials, token_call_credentials(AccessTokenSource(identity))
    )


class SdkEndpoint:
    """One chain as a relayer sees it, through the first of ``addresses`` that answers.

    Reads that find a node down (NodeUnavailableError) are tried on the next address, each
    address once per call; a submission is not repeated on another node (it may have been
    admitted before the connection broke), but the next call goes to the next node. A node that
    answers for another chain counts as down. ``submit`` signs with ``identity`` (the relayer's
    member on this chain) and waits for the commit.
    """

    def __init__(
        self,
        chain_id: str,
        addresses: Sequence[str],
        identity: Identity,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        request_timeout_s: float = REQUEST_TIMEOUT_S_DEFAULT,
        submit_timeout_s: float = SUBMIT_TIMEOUT_S_DEFAULT,
    ) -> None:
        if not addresses:
            raise ValueError(f"chain {chain_id}: no node address")
        self._chain_id = chain_id
        self.addresses = tuple(addresses)
        self.identity = identity
        self._credentials = credentials
        self.request_timeout_s = request_timeout_s
        self.submit_timeout_s = submit_timeout_s
        self._index = 0
        self._client: Client | None = None
        self._headers: dict[int, tuple[types_pb2.BlockHeader, types_pb2.CommitCertificate]] = {}
        self._validator_sets: dict[int, types_pb2.ValidatorSet] = {}
        # How many times a node was given up for the next one (a metric for operators).
        self.failovers = 0

    @classmethod
    def from_settings(
        cls,
        settings: ChainSettings,
        *,
        request_timeout_s: float = REQUEST_TIMEOUT_S_DEFAULT,
        submit_timeout_s: float = SUBMIT_TIMEOUT_S_DEFAULT,
    ) -> SdkEndpoint:
        return cls(
            settings.chain_id,
            settings.nodes,
            settings.identity,
            credentials=(
                None
                if settings.tls is None
                else channel_credentials(settings.tls, settings.identity, settings.chain_id)
            ),
            request_timeout_s=request_timeout_s,
            submit_timeout_s=submit_timeout_s,
        )

    # -- connections -----------------------------------------------------------------------------

    @property
    def chain_id(self) -> str:
        return self._chain_id

    @property
    def address(self) -> str:
        """The node the next call goes to."""
        return self.addresses[self._index]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _connect(self) -> Client:
        if self._client is None:
            client = Client(
                self.address,
                self.identity,
                timeout_s=self.request_timeout_s,
                credentials=self._credentials,
            )
            try:
                status = client.status()
            except BaseException:
                client.close()
                raise
            if status.chain_id != self._chain_id:
                client.close()
                raise WrongChainError(
                    f"the node at {self.address} serves chain {status.chain_id!r}, "
                    f"not {self._chain_id!r}"
                )
            self._client = client
        return self._client

    def _next_node(self, error: CausewayError) -> None:
        logger.warning(
            "node not usable, trying the next",
            extra={"chain": self._chain_id, "node": self.address, "error": error.message},
        )
        self.close()
        self._index = (self._index + 1) % len(self.addresses)
        self.failovers += 1

    def _read(self, call: Callable[[Client], T]) -> T:
        failures: list[str] = []
        for _ in self.addresses:
            try:
                return call(self._connect())
            except (NodeUnavailableError, WrongChainError) as error:
                failures.append(f"{self.address}: {error.message}")
                self._next_node(error)
        raise NodeUnavailableError(
            f"no node of chain {self._chain_id} answered: {'; '.join(failures)}"
        )

    def begin_round(self) -> None:
        """Forgets the headers and sets read in the last round."""
        self._headers.clear()
        self._validator_sets.clear()

    # -- ChainEndpoint ---------------------------------------------------------------------------

    def latest_height(self) -> int:
        return self._read(lambda client: client.status().height)

    def signed_header(
        self, height: int
    ) -> tuple[types_pb2.BlockHeader, types_pb2.CommitCertificate]:
        if height < 1:
            raise RequestError(f"chain {self._chain_id}: no block at height {height}")
        cached = self._headers.get(height)
        if cached is not None:
            return cached
        # The header and its certificate only: a busy block's transactions and results are of
        # no use to a light client, and reading them costs the node and the relayer. Verifying
        # refuses a header of another height (ProofError) or a certificate of another block.
        response = self._read(lambda client: client.get_header(height, verify=True))
        answer = (response.block.header, response.certificate)
        if len(self._headers) < ROUND_CACHE_ENTRIES_MAX:
            self._headers[height] = answer
        return answer

    def validator_set(self, height: int) -> types_pb2.ValidatorSet:
        """The set that signs ``height``. A node answers it for committed heights; for the
        height after the newest, it is the newest header's next set, which a node can name only
        when it is the same set (otherwise HeightUnavailableError: wait for the next block)."""
        if height < 1:
            raise RequestError(f"chain {self._chain_id}: no validator set at height {height}")
        cached = self._validator_sets.get(height)
        if cached is not None:
            return cached
        try:
            validators = self._read(
                lambda client: client.get_validator_set(height, verify=True)
            ).validator_set
        except NotFoundError:
            latest = self.latest_height()
            if height != latest + 1:
                raise
            header = self.signed_header(latest)[0]
            if header.next_validator_set_hash != header.validator_set_hash:
                raise HeightUnavailableError(
                    f"chain {self._chain_id}: the validator set of height {height} is not "
                    f"known yet (it changes after height {latest})"
                ) from None
            validators = self.validator_set(latest)
        if len(self._validator_sets) < ROUND_CACHE_ENTRIES_MAX:
            self._validator_sets[height] = validators
        return validators

    def prove(
        self, keys: Sequence[bytes], height: int
    ) -> list[tuple[bytes | None, types_pb2.StateProof]]:
        if height < 1:
            # 0 would mean "the latest" to the node, and each chunk could be of another height.
            raise RequestError(f"chain {self._chain_id}: no state at height {height}")
        proven: list[tuple[bytes | None, types_pb2.StateProof]] = []
        for start in range(0, len(keys), STATES_PER_REQUEST_MAX):
            chunk = list(keys[start : start + STATES_PER_REQUEST_MAX])

            def states(client: Client, chunk: list[bytes] = chunk) -> api_pb2.GetStatesResponse:
                return client.get_states(chunk, height, verify=True)

            response = self._read(states)
            proven.extend(
                (entry.value if entry.found else None, entry.proof) for entry in response.entries
            )
        return proven

    def query(self, contract: str, method: str, arguments: Message) -> bytes:
        result = self._read(lambda client: client.evaluate(contract, method, arguments))
        if result.status != types_pb2.RESULT_STATUS_OK:
            raise RequestError(
                f"chain {self._chain_id}: {contract}.{method} answered "
                f"{types_pb2.ResultStatus.Name(result.status)}: {result.error}"
            )
        return result.return_value

    def submit_all(
        self, contract: str, method: str, arguments: Sequence[Message]
    ) -> list[types_pb2.TransactionResult]:
        """Signs a transaction per element and submits them in order, as few SubmitBatch calls
        as ``SUBMIT_BATCH_BYTES_MAX`` allows, each waiting for its commits. A refused one raises
        its error (the round fails; the next one starts afresh)."""
        # Connecting may try every node; the submission itself is made once.
        client = self._read(lambda client: client)
        transactions = [client.transaction(contract, method, each) for each in arguments]
        results: list[types_pb2.TransactionResult] = []
        for chunk in runs_within(transactions, SUBMIT_BATCH_BYTES_MAX):
            try:
                answers = client.submit_batch(chunk, wait=True, timeout_s=self.submit_timeout_s)
            except NodeUnavailableError as error:
                self._next_node(error)
                raise
            for answer in answers:
                if answer.error is not None:
                    raise answer.error
                if not answer.committed or answer.result is None:
                    raise NodeUnavailableError(
                        f"chain {self._chain_id}: transaction {answer.transaction_id.hex()} was "
                        f"not committed within {self.submit_timeout_s:g} s"
                    )
                results.append(answer.result)
        return results


def runs_within(
    transactions: Sequence[types_pb2.Transaction], bytes_max: int
) -> list[list[types_pb2.Transaction]]:
    """``transactions`` in order, in runs of at most ``bytes_max`` encoded (a transaction larger
    than that alone in its run)."""
    chunks: list[list[types_pb2.Transaction]] = [[]]
    size = 0
    for transaction in transactions:
        transaction_bytes = transaction.ByteSize()
        if chunks[-1] and size + transaction_bytes > bytes_max:
            chunks.append([])
            size = 0
        chunks[-1].append(transaction)
        size += transaction_bytes
    return chunks if chunks[-1] else []

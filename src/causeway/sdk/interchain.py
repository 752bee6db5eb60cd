"""The interchain operations of the SDK: light clients, ports, the hub's registry, transfers,
packets and bank balances, over a ``Client`` (``Interchain``, as ``client.interchain``) or an
``AsyncClient`` (``AsyncInterchain``, as ``client.interchain``; the same names, awaited).

Governance operations (creating and recovering a client, naming its counterparty, binding a
port, registering a hub member) are transactions signed by the client's identity and endorsed by
``endorsers``, as the chain's governance policy needs (the same as ``Client.invoke``).

**What is verified.** Single records are read with their state proofs (``get_state``), checked
against the header the node answers with: a client, a packet's record on either side, a hub
member, a balance; they need no identity. Lists (``clients``, ``packets``, ``hub_members``,
``balances``) are read-only contract calls, which a node answers without a proof, signed like any
call (the client needs an identity). A header that creates, updates or recovers
a client is checked here before it is sent: its certificate must hold more than two thirds of the
set the header names (the chain checks it again, whatever this code does).

A transaction that commits with a failed status raises ``TransactionFailedError`` (its status and
the contract's message in the error); nothing it wrote was kept.
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Sequence
from typing import Protocol, TypeVar

from google.protobuf.message import Message

from causeway.api.v1 import api_pb2
from causeway.crypto import get_profile
from causeway.errors import (
    CausewayError,
    ConfigurationError,
    HeightUnavailableError,
    NotFoundError,
    ProofError,
    RequestError,
    TransactionFailedError,
)
from causeway.interchain import keys
from causeway.interchain.transfer import forward_memo
from causeway.interchain.v1 import interchain_pb2
from causeway.light import CertificateQuorum, verify_header
from causeway.sdk.identity import Identity
from causeway.sdk.transactions import SubmitResult, now_ms
from causeway.types import decode
from causeway.types.v1 import types_pb2


class ChainNode(Protocol):
    """What the interchain operations use of a ``Client``: declared here, so that this module
    needs nothing of the client that reaches it (``client.interchain``), and the dependency runs
    one way."""

    def chain_id(self) -> str: ...

    def status(self) -> api_pb2.GetStatusResponse: ...

    def get_header(self, height: int = 0, *, verify: bool = True) -> api_pb2.GetBlockResponse: ...

    def get_state(
        self, key: bytes, height: int = 0, *, verify: bool = True
    ) -> api_pb2.GetStateResponse: ...

    def get_validator_set(
        self, height: int = 0, *, verify: bool = True
    ) -> api_pb2.GetValidatorSetResponse: ...

    def evaluate(
        self, contract: str, method: str, arguments: Message | bytes
    ) -> types_pb2.TransactionResult: ...

    def invoke(
        self,
        contract: str,
        method: str,
        arguments: Message | bytes,
        *,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = ...,
    ) -> SubmitResult: ...


class AsyncChainNode(Protocol):
    """``ChainNode`` of an ``AsyncClient``: the same calls, awaited."""

    async def chain_id(self) -> str: ...

    async def status(self) -> api_pb2.GetStatusResponse: ...

    async def get_header(
        self, height: int = 0, *, verify: bool = True
    ) -> api_pb2.GetBlockResponse: ...

    async def get_state(
        self, key: bytes, height: int = 0, *, verify: bool = True
    ) -> api_pb2.GetStateResponse: ...

    async def get_validator_set(
        self, height: int = 0, *, verify: bool = True
    ) -> api_pb2.GetValidatorSetResponse: ...

    async def evaluate(
        self, contract: str, method: str, arguments: Message | bytes
    ) -> types_pb2.TransactionResult: ...

    async def invoke(
        self,
        contract: str,
        method: str,
        arguments: Message | bytes,
        *,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = ...,
    ) -> SubmitResult: ...


# A record or result this large is not one the interchain contracts write.
RESULT_BYTES_MAX = 16 * 1024 * 1024
# How far below a chain's newest height a header with a certificate of more than two thirds is
# looked for (a raft node completes a height's certificate a moment after the block).
CERTIFIED_HEIGHT_SEARCH_MAX = 16
# A client's defaults: trust a header for two weeks, accept clocks ten seconds apart.
TRUSTING_PERIOD_MS_DEFAULT = 14 * 24 * 3_600_000
CLOCK_DRIFT_MS_DEFAULT = 10_000
# A transfer times out when the receiving chain's time passes this much after it was sent.
TRANSFER_TIMEOUT_MS_DEFAULT = 10 * 60_000
# Waiting for a packet to end: how long, and how often the sender's record is read.
PACKET_WAIT_S_DEFAULT = 120.0
PACKET_POLL_INTERVAL_S_DEFAULT = 0.5
# The most records one list call asks for (the contracts' own maxima are 100 and 1000).
CLIENTS_PAGE_MAX = 100
# Every client a chain keeps, read page by page: a bound on the pages (100 000 clients).
CLIENTS_PAGES_MAX = 1_000

SIDE_SENT = "sent"
SIDE_RECEIVED = "received"
SIDES = (SIDE_SENT, SIDE_RECEIVED)
STATE_IN_FLIGHT = "in_flight"
STATE_ACKNOWLEDGED = "acknowledged"
STATE_TIMED_OUT = "timed_out"
ENDED_STATES = frozenset({STATE_ACKNOWLEDGED, STATE_TIMED_OUT})
STATUS_ACTIVE = "active"
STATUS_FROZEN = "frozen"
STATUS_EXPIRED = "expired"
TRANSFER_PORT = "transfer"
SEND_PACKET_EVENT = "send_packet"

_AMOUNT = struct.Struct(">Q")
MessageT = TypeVar("MessageT", bound=Message)


# ------------------------------------------------------------------------------ pure helpers


def decode_result(message_type: type[MessageT], data: bytes) -> MessageT:
    return decode(message_type, data, bytes_max=RESULT_BYTES_MAX)


def state_path(contract: str, relative_key: bytes) -> bytes:
    """The absolute state key of a key an interchain contract writes."""
    return keys.NAMESPACES[contract] + relative_key


def check_side(side: str) -> str:
    if side not in SIDES:
        raise RequestError(f"side {side!r} is not 'sent' or 'received'", reason="invalid_argument")
    return side


def check_sequence(sequence: int) -> int:
    if sequence < 1:
        raise RequestError(
            f"packet sequence {sequence} is not positive (sequences count from 1)",
            reason="invalid_argument",
        )
    return sequence


def committed_result(
    outcome: SubmitResult, contract: str, method: str, timeout_s: float
) -> types_pb2.TransactionResult:
    """The result of a transaction that committed and succeeded; a clear error otherwise."""
    identifier = outcome.transaction_id.hex()
    if not outcome.committed or outcome.result is None:
        raise RequestError(
            f"{contract}.{method} transaction {identifier} was accepted but not committed within "
            f"{timeout_s:g} s",
            reason="timeout",
        )
    result = outcome.result
    if result.status != types_pb2.RESULT_STATUS_OK:
        raise TransactionFailedError(
            f"{contract}.{method} failed ({types_pb2.ResultStatus.Name(result.status)}): "
            f"{result.error}",
            result=result,
        )
    return result


def evaluated(
    result: types_pb2.TransactionResult, contract: str, method: str
) -> types_pb2.TransactionResult:
    """A read-only call's result, once it succeeded."""
    if result.status == types_pb2.RESULT_STATUS_NOT_FOUND:
        raise NotFoundError(f"{contract}.{method}: {result.error}")
    if result.status != types_pb2.RESULT_STATUS_OK:
        raise RequestError(
            f"{contract}.{method} failed ({types_pb2.ResultStatus.Name(result.status)}): "
            f"{result.error}",
            reason="invalid_argument",
        )
    return result


def sent_packet(result: types_pb2.TransactionResult) -> interchain_pb2.Packet:
    """The packet a committed send wrote (its "send_packet" event carries it encoded)."""
    for event in result.events:
        if event.contract == keys.PACKETS_CONTRACT and event.name == SEND_PACKET_EVENT:
            return decode_result(interchain_pb2.Packet, event.data)
    raise RequestError(
        "the send committed without a send_packet event: no packet was sent",
        reason="bad_response",
    )


def certified_client_header(
    block: api_pb2.GetBlockResponse,
    validators: api_pb2.GetValidatorSetResponse,
    *,
    chain_id: str,
    crypto_profile: str,
) -> interchain_pb2.ClientHeader:
    """A header of ``chain_id`` with its certificate and set, once the certificate holds more
    than two thirds of the set the header names (SignatureError, ProofError otherwise)."""
    header = block.block.header
    verify_header(
        header,
        block.certificate,
        chain_id=chain_id,
        validators=validators.validator_set,
        profile=get_profile(crypto_profile),
        quorum=CertificateQuorum.MORE_THAN_TWO_THIRDS,
    )
    return interchain_pb2.ClientHeader(
        header=header, certificate=block.certificate, validator_set=validators.validator_set
    )


def client_status(
    client: interchain_pb2.ClientState, latest: interchain_pb2.ConsensusState, time_ms: int
) -> str:
    """The status clients.get answers, at block time ``time_ms``."""
    if client.frozen_height:
        return STATUS_FROZEN
    if latest.time_ms + client.trusting_period_ms <= time_ms:
        return STATUS_EXPIRED
    return STATUS_ACTIVE


def member_chain(
    status: api_pb2.GetStatusResponse,
    validators: types_pb2.ValidatorSet,
    *,
    client_id: str,
    endpoints: Sequence[str],
) -> interchain_pb2.MemberChain:
    return interchain_pb2.MemberChain(
        chain_id=status.chain_id,
        genesis_hash=status.genesis_hash,
        crypto_profile=status.crypto_profile,
        consensus=status.consensus,
        validator_set=validators,
        endpoints=list(endpoints),
        client_id=client_id,
    )


def amount_of(found: bool, value: bytes, key: bytes) -> int:
    if not found:
        return 0
    if len(value) != _AMOUNT.size:
        raise ProofError(f"the balance at {key!r} is {len(value)} bytes, not an 8-byte number")
    amount: int = _AMOUNT.unpack(value)[0]
    return amount


def create_arguments(
    status: api_pb2.GetStatusResponse,
    header: interchain_pb2.ClientHeader,
    *,
    trusting_period_ms: int,
    clock_drift_ms: int,
    single_signer_accepted: bool,
    counterparty_client_id: str,
) -> interchain_pb2.ClientsCreateArguments:
    return interchain_pb2.ClientsCreateArguments(
        chain_id=status.chain_id,
        genesis_hash=status.genesis_hash,
        consensus=status.consensus,
        crypto_profile=status.crypto_profile,
        trusting_period_ms=trusting_period_ms,
        clock_drift_ms=clock_drift_ms,
        single_signer_accepted=single_signer_accepted,
        header=header,
        counterparty_client_id=counterparty_client_id,
    )


def check_counterparty(
    client: interchain_pb2.ClientState, status: api_pb2.GetStatusResponse
) -> None:
    """ConfigurationError unless the node answering is of the chain the client follows."""
    if status.chain_id != client.chain_id or status.genesis_hash != client.genesis_hash:
        raise ConfigurationError(
            f"client {client.client_id} follows chain {client.chain_id!r} (genesis "
            f"{client.genesis_hash.hex()[:16]}...), but the node given serves chain "
            f"{status.chain_id!r} (genesis {status.genesis_hash.hex()[:16]}...)"
        )


def check_has_blocks(status: api_pb2.GetStatusResponse) -> None:
    if status.height < 1:
        raise HeightUnavailableError(
            f"chain {status.chain_id} has committed no block yet: a light client starts from a "
            "committed header (send the chain a transaction first)"
        )


def check_wait(timeout_s: float, poll_interval_s: float) -> None:
    if timeout_s <= 0:
        raise ConfigurationError(f"timeout_s must be positive, not {timeout_s}")
    if poll_interval_s <= 0:
        raise ConfigurationError(f"poll_interval_s must be positive, not {poll_interval_s}")


def wait_timed_out(source_client: str, sequence: int, timeout_s: float, state: str) -> RequestError:
    return RequestError(
        f"packet {source_client}/{sequence} did not end within {timeout_s:g} s (still "
        f"{state}); is a relayer running on this link?",
        reason="timeout",
    )


def transfer_timeout_ms(newest_time_ms: int, timeout_after_ms: int) -> int:
    """``timeout_after_ms`` after now (this machine's clock) or after the chain's newest block,
    whichever is later: a quiet chain's newest block may be long past."""
    if timeout_after_ms <= 0:
        raise ConfigurationError(f"timeout_after_ms must be positive, not {timeout_after_ms}")
    return max(now_ms(), newest_time_ms) + timeout_after_ms


def transfer_arguments(
    source_client: str,
    *,
    denom: str,
    amount: int,
    receiver: str,
    timeout_ms: int,
    memo: bytes,
) -> interchain_pb2.TransferSendArguments:
    if amount <= 0:
        raise RequestError(f"amount {amount} is not positive", reason="invalid_argument")
    if not denom:
        raise RequestError("the denomination is empty", reason="invalid_argument")
    if not receiver:
        raise RequestError("the receiver is empty", reason="invalid_argument")
    return interchain_pb2.TransferSendArguments(
        source_client=source_client,
        denom=denom,
        amount=amount,
        receiver=receiver,
        timeout_ms=timeout_ms,
        memo=memo,
    )


# ------------------------------------------------------------------------------ sync


class Interchain:
    """The interchain operations of one ``Client`` (``client.interchain``).

    Example:

        admin = Identity.load("chains/chain-a/organisations/org1/members/admin")
        with Client("127.0.0.1:7200", admin) as chain_a, Client("127.0.0.1:7300") as chain_b:
            client_id = chain_a.interchain.create_client(chain_b)
    """

    def __init__(self, client: ChainNode) -> None:
        self._client = client

    # -- plumbing ----------------------------------------------------------------------------------

    def _governance(
        self,
        contract: str,
        method: str,
        arguments: Message,
        endorsers: Sequence[Identity],
        timeout_s: float,
    ) -> types_pb2.TransactionResult:
        outcome = self._client.invoke(
            contract, method, arguments, endorsers=endorsers, timeout_s=timeout_s
        )
        return committed_result(outcome, contract, method, timeout_s)

    def _query(self, contract: str, method: str, arguments: Message) -> bytes:
        result = self._client.evaluate(contract, method, arguments)
        return evaluated(result, contract, method).return_value

    def _record(
        self, contract: str, relative_key: bytes, message_type: type[MessageT], what: str
    ) -> MessageT:
        response = self._client.get_state(state_path(contract, relative_key))
        if not response.found:
            raise NotFoundError(f"{what} is not on chain {self._client.chain_id()}")
        return decode_result(message_type, response.value)

    # -- headers of another chain ------------------------------------------------------------------

    def client_header(
        self, counterparty: ChainNode, height: int = 0
    ) -> interchain_pb2.ClientHeader:
        """A header of ``counterparty``'s chain that a light client accepts: at ``height``, or
        (0) the newest whose certificate holds more than two thirds of its set.

        Example:

            header = chain_a.interchain.client_header(chain_b)
            print(header.header.height, header.trusted_height)
        """
        status = counterparty.status()
        check_has_blocks(status)
        if height:
            return self._header_at(counterparty, status, height)
        lowest = max(1, status.height - CERTIFIED_HEIGHT_SEARCH_MAX)
        failure: CausewayError | None = None
        for candidate in range(status.height, lowest - 1, -1):
            try:
                return self._header_at(counterparty, status, candidate)
            except RequestError as error:
                failure = failure or error
        raise RequestError(
            f"chain {status.chain_id}: no header among heights {lowest}..{status.height} has a "
            f"certificate of more than two thirds of its validators ({failure})",
            reason="invalid_argument",
        )

    @staticmethod
    def _header_at(
        counterparty: ChainNode, status: api_pb2.GetStatusResponse, height: int
    ) -> interchain_pb2.ClientHeader:
        return certified_client_header(
            counterparty.get_header(height),
            counterparty.get_validator_set(height),
            chain_id=status.chain_id,
            crypto_profile=status.crypto_profile,
        )

    # -- clients -----------------------------------------------------------------------------------

    def create_client(
        self,
        counterparty: ChainNode,
        *,
        trusting_period_ms: int = TRUSTING_PERIOD_MS_DEFAULT,
        clock_drift_ms: int = CLOCK_DRIFT_MS_DEFAULT,
        single_signer_accepted: bool = False,
        counterparty_client_id: str = "",
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> str:
        """Governance: a light client of ``counterparty``'s chain (its chain id, genesis hash,
        consensus and profile as its node states them, its newest certified header); the new
        client's id.

        Example:

            org2_admin = Identity.load("chains/chain-a/organisations/org2/members/admin")
            client_id = chain_a.interchain.create_client(chain_b, endorsers=[org2_admin])
        """
        status = counterparty.status()
        header = self.client_header(counterparty)
        arguments = create_arguments(
            status,
            header,
            trusting_period_ms=trusting_period_ms,
            clock_drift_ms=clock_drift_ms,
            single_signer_accepted=single_signer_accepted,
            counterparty_client_id=counterparty_client_id,
        )
        result = self._governance("clients", "create", arguments, endorsers, timeout_s)
        return decode_result(interchain_pb2.ClientsCreateResult, result.return_value).client_id

    def update_client(
        self, client_id: str, counterparty: ChainNode, *, height: int = 0, timeout_s: float = 30.0
    ) -> interchain_pb2.ConsensusState:
        """Brings ``client_id`` to ``counterparty``'s newest certified height (or ``height``)
        from the client's latest consensus state; the consensus state stored. Anyone may.

        Example:

            state = chain_a.interchain.update_client(client_id, chain_b)
            print(state.height, state.time_ms)
        """
        current = self.client_status(client_id)
        check_counterparty(current.client, counterparty.status())
        header = self.client_header(counterparty, height)
        trusted = current.client.latest_height
        if header.header.height <= trusted:
            return current.latest
        header.trusted_height = trusted
        header.trusted_validator_set.CopyFrom(
            counterparty.get_validator_set(trusted + 1).validator_set
        )
        arguments = interchain_pb2.ClientsUpdateArguments(client_id=client_id, header=header)
        outcome = self._client.invoke("clients", "update", arguments, timeout_s=timeout_s)
        result = committed_result(outcome, "clients", "update", timeout_s)
        return decode_result(interchain_pb2.ConsensusState, result.return_value)

    def recover_client(
        self,
        client_id: str,
        counterparty: ChainNode,
        *,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> interchain_pb2.ClientsGetResult:
        """Governance: revives a frozen or expired client from ``counterparty``'s newest
        certified header; the client as it is after.

        Example:

            answer = chain_a.interchain.recover_client(client_id, chain_b)
            print(answer.status)
        """
        current = self.client_status(client_id)
        check_counterparty(current.client, counterparty.status())
        arguments = interchain_pb2.ClientsRecoverArguments(
            client_id=client_id, header=self.client_header(counterparty)
        )
        self._governance("clients", "recover", arguments, endorsers, timeout_s)
        return self.client_status(client_id)

    def register_counterparty(
        self,
        client_id: str,
        counterparty_client_id: str,
        *,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> None:
        """Governance: names the other chain's client of this chain (set once).

        Example:

            chain_a.interchain.register_counterparty(client_id, their_client_id)
        """
        arguments = interchain_pb2.ClientsRegisterCounterpartyArguments(
            client_id=client_id, counterparty_client_id=counterparty_client_id
        )
        self._governance("clients", "register_counterparty", arguments, endorsers, timeout_s)

    def client_status(self, client_id: str) -> interchain_pb2.ClientsGetResult:
        """A client, its latest consensus state and its status, read with their proofs.

        Example:

            answer = chain_a.interchain.client_status(client_id)
            print(answer.status, answer.latest.height)
        """
        response = self._client.get_state(
            state_path(keys.CLIENTS_CONTRACT, keys.client_key(client_id))
        )
        if not response.found:
            raise NotFoundError(f"there is no client {client_id!r} on {self._client.chain_id()}")
        client = decode_result(interchain_pb2.ClientState, response.value)
        latest = self._record_at(
            keys.consensus_state_key(client_id, client.latest_height), response.height
        )
        return interchain_pb2.ClientsGetResult(
            client=client,
            status=client_status(client, latest, response.header.time_ms),
            latest=latest,
        )

    def _record_at(self, relative_key: bytes, height: int) -> interchain_pb2.ConsensusState:
        response = self._client.get_state(state_path(keys.CLIENTS_CONTRACT, relative_key), height)
        if not response.found:
            raise ProofError(f"the client's latest consensus state is missing at height {height}")
        return decode_result(interchain_pb2.ConsensusState, response.value)

    def clients(self) -> list[interchain_pb2.ClientsGetResult]:
        """Every client of this chain, with its status (read-only calls, page by page).

        Example:

            for answer in chain_a.interchain.clients():
                print(answer.client.client_id, answer.client.chain_id, answer.status)
        """
        found: list[interchain_pb2.ClientsGetResult] = []
        start_after = ""
        for _ in range(CLIENTS_PAGES_MAX):
            data = self._query(
                "clients",
                "list",
                interchain_pb2.ClientsListArguments(
                    start_after=start_after, limit=CLIENTS_PAGE_MAX
                ),
            )
            page = list(decode_result(interchain_pb2.ClientsListResult, data).clients)
            found.extend(page)
            if len(page) < CLIENTS_PAGE_MAX:
                break
            start_after = page[-1].client.client_id
        return found

    # -- ports and the hub -------------------------------------------------------------------------

    def bind_port(
        self,
        port: str,
        contract: str,
        *,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> None:
        """Governance: lets packets for ``port`` reach ``contract`` (an application).

        Example:

            chain_a.interchain.bind_port("transfer", "transfer")
        """
        arguments = interchain_pb2.PacketsBindPortArguments(port=port, contract=contract)
        self._governance("packets", "bind_port", arguments, endorsers, timeout_s)

    def hub_register(
        self,
        member: ChainNode,
        client_id: str,
        *,
        endpoints: Sequence[str] = (),
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> interchain_pb2.MemberChain:
        """Governance, on a hub: registers ``member``'s chain (as its node describes it, with
        the validator set the hub's client ``client_id`` trusts) and returns the record.

        Example:

            member = hub.interchain.hub_register(chain_a, client_id, endpoints=["10.0.0.1:7200"])
            print(member.chain_id, member.client_id)
        """
        current = self.client_status(client_id)
        status = member.status()
        check_counterparty(current.client, status)
        validators = member.get_validator_set(current.client.latest_height).validator_set
        record = member_chain(status, validators, client_id=client_id, endpoints=endpoints)
        arguments = interchain_pb2.HubRegisterArguments(member=record)
        self._governance("hub", "register", arguments, endorsers, timeout_s)
        return self.hub_member(status.chain_id)

    def hub_member(self, chain_id: str) -> interchain_pb2.MemberChain:
        """A member chain of this hub, read with its proof.

        Example:

            print(list(hub.interchain.hub_member("chain-a").endpoints))
        """
        return self._record(
            keys.HUB_CONTRACT,
            keys.member_chain_key(chain_id),
            interchain_pb2.MemberChain,
            f"chain {chain_id!r} as a hub member",
        )

    def hub_members(
        self, *, start_after: str = "", limit: int = 0
    ) -> list[interchain_pb2.MemberChain]:
        """The hub's registry in chain id order (a read-only call).

        Example:

            for member in hub.interchain.hub_members():
                print(member.chain_id, member.client_id)
        """
        data = self._query(
            "hub", "list", interchain_pb2.HubListArguments(start_after=start_after, limit=limit)
        )
        return list(decode_result(interchain_pb2.HubListResult, data).members)

    # -- transfers, packets, the bank --------------------------------------------------------------

    def send_transfer(
        self,
        source_client: str,
        *,
        denom: str,
        amount: int,
        receiver: str,
        timeout_ms: int = 0,
        timeout_after_ms: int = TRANSFER_TIMEOUT_MS_DEFAULT,
        memo: bytes = b"",
        timeout_s: float = 30.0,
    ) -> interchain_pb2.Packet:
        """Sends ``amount`` of ``denom`` to ``receiver`` on the chain ``source_client``
        follows; the packet sent (its sequence names it). ``timeout_ms`` is absolute, in the
        receiving chain's time; 0: ``timeout_after_ms`` after now or this chain's newest block,
        whichever is later (the chains' clocks agree within their clients' clock drift).

        Example:

            packet = chain_a.interchain.send_transfer(
                client_id, denom="gold", amount=250, receiver="org1/client"
            )
            record = chain_a.interchain.wait_for_packet(client_id, packet.sequence)
        """
        if not timeout_ms:
            newest = self._client.get_header(0).block.header.time_ms
            timeout_ms = transfer_timeout_ms(newest, timeout_after_ms)
        arguments = transfer_arguments(
            source_client,
            denom=denom,
            amount=amount,
            receiver=receiver,
            timeout_ms=timeout_ms,
            memo=memo,
        )
        outcome = self._client.invoke("transfer", "send", arguments, timeout_s=timeout_s)
        return sent_packet(committed_result(outcome, "transfer", "send", timeout_s))

    def send_transfer_through_hub(
        self,
        hub_client: str,
        *,
        to_chain: str,
        denom: str,
        amount: int,
        receiver: str,
        timeout_after_ms: int = TRANSFER_TIMEOUT_MS_DEFAULT,
        timeout_s: float = 30.0,
    ) -> interchain_pb2.Packet:
        """Sends tokens to ``receiver`` on ``to_chain`` through the hub this chain's client
        ``hub_client`` follows (a memo asks the hub to forward them to its member ``to_chain``);
        the packet sent to the hub, which it acknowledges only once the forwarded packet ended.
        The packet to the hub times out ``timeout_after_ms`` after now (or this chain's newest
        block), the forwarded one as long again after that.

        Example:

            packet = chain_a.interchain.send_transfer_through_hub(
                hub_client_id, to_chain="chain-b", denom="gold", amount=250, receiver="org1/client"
            )
        """
        newest = self._client.get_header(0).block.header.time_ms
        timeout_ms = transfer_timeout_ms(newest, timeout_after_ms)
        return self.send_transfer(
            hub_client,
            denom=denom,
            amount=amount,
            receiver=receiver,
            timeout_ms=timeout_ms,
            memo=forward_memo(to_chain, receiver, timeout_ms + timeout_after_ms),
            timeout_s=timeout_s,
        )

    def packet(
        self, client_id: str, sequence: int, *, side: str = SIDE_SENT
    ) -> interchain_pb2.PacketsGetResult:
        """A packet's record, read with its proof: ``sent`` (by its source client) or
        ``received`` (by its destination client); NotFoundError when there is none.

        Example:

            print(chain_a.interchain.packet(client_id, 1).sent.state)
            receipt = chain_b.interchain.packet(their_client_id, 1, side="received").received
        """
        check_sequence(sequence)
        result = interchain_pb2.PacketsGetResult()
        if check_side(side) == SIDE_SENT:
            result.sent.CopyFrom(
                self._record(
                    keys.PACKETS_CONTRACT,
                    keys.sent_key(client_id, sequence),
                    interchain_pb2.PacketRecord,
                    f"packet {client_id}/{sequence} (sent)",
                )
            )
        else:
            result.received.CopyFrom(
                self._record(
                    keys.PACKETS_CONTRACT,
                    keys.received_key(client_id, sequence),
                    interchain_pb2.ReceiptRecord,
                    f"packet {client_id}/{sequence} (received)",
                )
            )
        return result

    def packets(
        self,
        client_id: str,
        *,
        side: str = SIDE_SENT,
        start_after: int = 0,
        limit: int = 0,
        in_flight_only: bool = False,
    ) -> interchain_pb2.PacketsListResult:
        """Packets of one client in sequence order (a read-only call).

        Example:

            for record in chain_a.interchain.packets(client_id, in_flight_only=True).sent:
                print(record.packet.sequence, record.state)
        """
        arguments = interchain_pb2.PacketsListArguments(
            side=check_side(side),
            client_id=client_id,
            start_after=start_after,
            limit=limit,
            in_flight_only=in_flight_only,
        )
        return decode_result(
            interchain_pb2.PacketsListResult, self._query("packets", "list", arguments)
        )

    def wait_for_packet(
        self,
        source_client: str,
        sequence: int,
        *,
        timeout_s: float = PACKET_WAIT_S_DEFAULT,
        poll_interval_s: float = PACKET_POLL_INTERVAL_S_DEFAULT,
    ) -> interchain_pb2.PacketRecord:
        """The sender's record of a packet once it ended (state ``acknowledged``, with the
        acknowledgement, or ``timed_out``), read with its proof every ``poll_interval_s``;
        RequestError (reason "timeout") when it has not ended within ``timeout_s``.

        Example:

            record = chain_a.interchain.wait_for_packet(client_id, packet.sequence, timeout_s=60)
            print(record.state)
        """
        check_wait(timeout_s, poll_interval_s)
        deadline = time.monotonic() + timeout_s
        while True:
            record = self.packet(source_client, sequence).sent
            if record.state in ENDED_STATES:
                return record
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise wait_timed_out(source_client, sequence, timeout_s, record.state)
            time.sleep(min(poll_interval_s, remaining))

    def balance(self, account: str, denom: str) -> int:
        """An account's balance of one denomination, read with its proof (absent: 0).

        Example:

            print(chain_a.interchain.balance("org1/client", "gold"))
        """
        key = state_path(keys.BANK_CONTRACT, keys.balance_key(account, denom))
        response = self._client.get_state(key)
        return amount_of(response.found, response.value, key)

    def balances(self, account: str) -> list[interchain_pb2.BankCoin]:
        """Every balance of an account (a read-only call).

        Example:

            for coin in chain_a.interchain.balances("org1/client"):
                print(coin.denom, coin.amount)
        """
        data = self._query(
            "bank", "balances", interchain_pb2.BankBalancesArguments(account=account)
        )
        return list(decode_result(interchain_pb2.BankBalancesResult, data).coins)

    def issue(
        self,
        account: str,
        denom: str,
        amount: int,
        *,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> int:
        """Issues ``amount`` of a native denomination to ``account`` (the chain's ledger issue
        policy decides who may); the account's balance after.

        Example:

            balance = chain_a.interchain.issue("org1/client", "gold", 1_000)
        """
        arguments = interchain_pb2.BankIssueArguments(denom=denom, account=account, amount=amount)
        self._governance("bank", "issue", arguments, endorsers, timeout_s)
        return self.balance(account, denom)


# ------------------------------------------------------------------------------ asyncio


class AsyncInterchain:
    """The interchain operations of one ``AsyncClient`` (``client.interchain``): the names and
    meanings of ``Interchain``, each a coroutine.

    Example:

        client_id = await chain_a.interchain.create_client(chain_b)
        await chain_a.interchain.update_client(client_id, chain_b)
    """

    def __init__(self, client: AsyncChainNode) -> None:
        self._client = client

    async def _governance(
        self,
        contract: str,
        method: str,
        arguments: Message,
        endorsers: Sequence[Identity],
        timeout_s: float,
    ) -> types_pb2.TransactionResult:
        outcome = await self._client.invoke(
            contract, method, arguments, endorsers=endorsers, timeout_s=timeout_s
        )
        return committed_result(outcome, contract, method, timeout_s)

    async def _query(self, contract: str, method: str, arguments: Message) -> bytes:
        result = await self._client.evaluate(contract, method, arguments)
        return evaluated(result, contract, method).return_value

    async def _record(
        self, contract: str, relative_key: bytes, message_type: type[MessageT], what: str
    ) -> MessageT:
        response = await self._client.get_state(state_path(contract, relative_key))
        if not response.found:
            raise NotFoundError(f"{what} is not on chain {await self._client.chain_id()}")
        return decode_result(message_type, response.value)

    async def client_header(
        self, counterparty: AsyncChainNode, height: int = 0
    ) -> interchain_pb2.ClientHeader:
        """``Interchain.client_header``, awaited.

        Example:

            header = await chain_a.interchain.client_header(chain_b)
            print(header.header.height, header.trusted_height)
        """
        status = await counterparty.status()
        check_has_blocks(status)
        if height:
            return await self._header_at(counterparty, status, height)
        lowest = max(1, status.height - CERTIFIED_HEIGHT_SEARCH_MAX)
        failure: CausewayError | None = None
        for candidate in range(status.height, lowest - 1, -1):
            try:
                return await self._header_at(counterparty, status, candidate)
            except RequestError as error:
                failure = failure or error
        raise RequestError(
            f"chain {status.chain_id}: no header among heights {lowest}..{status.height} has a "
            f"certificate of more than two thirds of its validators ({failure})",
            reason="invalid_argument",
        )

    @staticmethod
    async def _header_at(
        counterparty: AsyncChainNode, status: api_pb2.GetStatusResponse, height: int
    ) -> interchain_pb2.ClientHeader:
        return certified_client_header(
            await counterparty.get_header(height),
            await counterparty.get_validator_set(height),
            chain_id=status.chain_id,
            crypto_profile=status.crypto_profile,
        )

    async def create_client(
        self,
        counterparty: AsyncChainNode,
        *,
        trusting_period_ms: int = TRUSTING_PERIOD_MS_DEFAULT,
        clock_drift_ms: int = CLOCK_DRIFT_MS_DEFAULT,
        single_signer_accepted: bool = False,
        counterparty_client_id: str = "",
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> str:
        """``Interchain.create_client``, awaited.

        Example:

            org2_admin = Identity.load("chains/chain-a/organisations/org2/members/admin")
            client_id = await chain_a.interchain.create_client(chain_b, endorsers=[org2_admin])
        """
        status = await counterparty.status()
        header = await self.client_header(counterparty)
        arguments = create_arguments(
            status,
            header,
            trusting_period_ms=trusting_period_ms,
            clock_drift_ms=clock_drift_ms,
            single_signer_accepted=single_signer_accepted,
            counterparty_client_id=counterparty_client_id,
        )
        result = await self._governance("clients", "create", arguments, endorsers, timeout_s)
        return decode_result(interchain_pb2.ClientsCreateResult, result.return_value).client_id

    async def update_client(
        self,
        client_id: str,
        counterparty: AsyncChainNode,
        *,
        height: int = 0,
        timeout_s: float = 30.0,
    ) -> interchain_pb2.ConsensusState:
        """``Interchain.update_client``, awaited.

        Example:

            state = await chain_a.interchain.update_client(client_id, chain_b)
            print(state.height, state.time_ms)
        """
        current = await self.client_status(client_id)
        check_counterparty(current.client, await counterparty.status())
        header = await self.client_header(counterparty, height)
        trusted = current.client.latest_height
        if header.header.height <= trusted:
            return current.latest
        header.trusted_height = trusted
        header.trusted_validator_set.CopyFrom(
            (await counterparty.get_validator_set(trusted + 1)).validator_set
        )
        arguments = interchain_pb2.ClientsUpdateArguments(client_id=client_id, header=header)
        outcome = await self._client.invoke("clients", "update", arguments, timeout_s=timeout_s)
        result = committed_result(outcome, "clients", "update", timeout_s)
        return decode_result(interchain_pb2.ConsensusState, result.return_value)

    async def recover_client(
        self,
        client_id: str,
        counterparty: AsyncChainNode,
        *,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> interchain_pb2.ClientsGetResult:
        """``Interchain.recover_client``, awaited.

        Example:

            answer = await chain_a.interchain.recover_client(client_id, chain_b)
            print(answer.status)
        """
        current = await self.client_status(client_id)
        check_counterparty(current.client, await counterparty.status())
        arguments = interchain_pb2.ClientsRecoverArguments(
            client_id=client_id, header=await self.client_header(counterparty)
        )
        await self._governance("clients", "recover", arguments, endorsers, timeout_s)
        return await self.client_status(client_id)

    async def register_counterparty(
        self,
        client_id: str,
        counterparty_client_id: str,
        *,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> None:
        """``Interchain.register_counterparty``, awaited.

        Example:

            await chain_a.interchain.register_counterparty(client_id, their_client_id)
        """
        arguments = interchain_pb2.ClientsRegisterCounterpartyArguments(
            client_id=client_id, counterparty_client_id=counterparty_client_id
        )
        await self._governance("clients", "register_counterparty", arguments, endorsers, timeout_s)

    async def client_status(self, client_id: str) -> interchain_pb2.ClientsGetResult:
        """``Interchain.client_status``, awaited.

        Example:

            answer = await chain_a.interchain.client_status(client_id)
            print(answer.status, answer.latest.height)
        """
        response = await self._client.get_state(
            state_path(keys.CLIENTS_CONTRACT, keys.client_key(client_id))
        )
        if not response.found:
            raise NotFoundError(
                f"there is no client {client_id!r} on {await self._client.chain_id()}"
            )
        client = decode_result(interchain_pb2.ClientState, response.value)
        latest_response = await self._client.get_state(
            state_path(
                keys.CLIENTS_CONTRACT, keys.consensus_state_key(client_id, client.latest_height)
            ),
            response.height,
        )
        if not latest_response.found:
            raise ProofError(
                f"the client's latest consensus state is missing at height {response.height}"
            )
        latest = decode_result(interchain_pb2.ConsensusState, latest_response.value)
        return interchain_pb2.ClientsGetResult(
            client=client,
            status=client_status(client, latest, response.header.time_ms),
            latest=latest,
        )

    async def clients(self) -> list[interchain_pb2.ClientsGetResult]:
        """``Interchain.clients``, awaited.

        Example:

            for answer in await chain_a.interchain.clients():
                print(answer.client.client_id, answer.client.chain_id, answer.status)
        """
        found: list[interchain_pb2.ClientsGetResult] = []
        start_after = ""
        for _ in range(CLIENTS_PAGES_MAX):
            data = await self._query(
                "clients",
                "list",
                interchain_pb2.ClientsListArguments(
                    start_after=start_after, limit=CLIENTS_PAGE_MAX
                ),
            )
            page = list(decode_result(interchain_pb2.ClientsListResult, data).clients)
            found.extend(page)
            if len(page) < CLIENTS_PAGE_MAX:
                break
            start_after = page[-1].client.client_id
        return found

    async def bind_port(
        self,
        port: str,
        contract: str,
        *,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> None:
        """``Interchain.bind_port``, awaited.

        Example:

            await chain_a.interchain.bind_port("transfer", "transfer")
        """
        arguments = interchain_pb2.PacketsBindPortArguments(port=port, contract=contract)
        await self._governance("packets", "bind_port", arguments, endorsers, timeout_s)

    async def hub_register(
        self,
        member: AsyncChainNode,
        client_id: str,
        *,
        endpoints: Sequence[str] = (),
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> interchain_pb2.MemberChain:
        """``Interchain.hub_register``, awaited.

        Example:

            endpoints = ["10.0.0.1:7200"]
            member = await hub.interchain.hub_register(chain_a, client_id, endpoints=endpoints)
            print(member.chain_id, member.client_id)
        """
        current = await self.client_status(client_id)
        status = await member.status()
        check_counterparty(current.client, status)
        validators = (await member.get_validator_set(current.client.latest_height)).validator_set
        record = member_chain(status, validators, client_id=client_id, endpoints=endpoints)
        arguments = interchain_pb2.HubRegisterArguments(member=record)
        await self._governance("hub", "register", arguments, endorsers, timeout_s)
        return await self.hub_member(status.chain_id)

    async def hub_member(self, chain_id: str) -> interchain_pb2.MemberChain:
        """``Interchain.hub_member``, awaited.

        Example:

            print(list((await hub.interchain.hub_member("chain-a")).endpoints))
        """
        return await self._record(
            keys.HUB_CONTRACT,
            keys.member_chain_key(chain_id),
            interchain_pb2.MemberChain,
            f"chain {chain_id!r} as a hub member",
        )

    async def hub_members(
        self, *, start_after: str = "", limit: int = 0
    ) -> list[interchain_pb2.MemberChain]:
        """``Interchain.hub_members``, awaited.

        Example:

            for member in await hub.interchain.hub_members():
                print(member.chain_id, member.client_id)
        """
        data = await self._query(
            "hub", "list", interchain_pb2.HubListArguments(start_after=start_after, limit=limit)
        )
        return list(decode_result(interchain_pb2.HubListResult, data).members)

    async def send_transfer(
        self,
        source_client: str,
        *,
        denom: str,
        amount: int,
        receiver: str,
        timeout_ms: int = 0,
        timeout_after_ms: int = TRANSFER_TIMEOUT_MS_DEFAULT,
        memo: bytes = b"",
        timeout_s: float = 30.0,
    ) -> interchain_pb2.Packet:
        """``Interchain.send_transfer``, awaited.

        Example:

            packet = await chain_a.interchain.send_transfer(
                client_id, denom="gold", amount=250, receiver="org1/client"
            )
            record = await chain_a.interchain.wait_for_packet(client_id, packet.sequence)
        """
        if not timeout_ms:
            newest = (await self._client.get_header(0)).block.header.time_ms
            timeout_ms = transfer_timeout_ms(newest, timeout_after_ms)
        arguments = transfer_arguments(
            source_client,
            denom=denom,
            amount=amount,
            receiver=receiver,
            timeout_ms=timeout_ms,
            memo=memo,
        )
        outcome = await self._client.invoke("transfer", "send", arguments, timeout_s=timeout_s)
        return sent_packet(committed_result(outcome, "transfer", "send", timeout_s))

    async def send_transfer_through_hub(
        self,
        hub_client: str,
        *,
        to_chain: str,
        denom: str,
        amount: int,
        receiver: str,
        timeout_after_ms: int = TRANSFER_TIMEOUT_MS_DEFAULT,
        timeout_s: float = 30.0,
    ) -> interchain_pb2.Packet:
        """``Interchain.send_transfer_through_hub``, awaited.

        Example:

            packet = await chain_a.interchain.send_transfer_through_hub(
                hub_client_id, to_chain="chain-b", denom="gold", amount=250, receiver="org1/client"
            )
        """
        newest = (await self._client.get_header(0)).block.header.time_ms
        timeout_ms = transfer_timeout_ms(newest, timeout_after_ms)
        return await self.send_transfer(
            hub_client,
            denom=denom,
            amount=amount,
            receiver=receiver,
            timeout_ms=timeout_ms,
            memo=forward_memo(to_chain, receiver, timeout_ms + timeout_after_ms),
            timeout_s=timeout_s,
        )

    async def packet(
        self, client_id: str, sequence: int, *, side: str = SIDE_SENT
    ) -> interchain_pb2.PacketsGetResult:
        """``Interchain.packet``, awaited.

        Example:

            print((await chain_a.interchain.packet(client_id, 1)).sent.state)
            answer = await chain_b.interchain.packet(their_client_id, 1, side="received")
        """
        check_sequence(sequence)
        result = interchain_pb2.PacketsGetResult()
        if check_side(side) == SIDE_SENT:
            result.sent.CopyFrom(
                await self._record(
                    keys.PACKETS_CONTRACT,
                    keys.sent_key(client_id, sequence),
                    interchain_pb2.PacketRecord,
                    f"packet {client_id}/{sequence} (sent)",
                )
            )
        else:
            result.received.CopyFrom(
                await self._record(
                    keys.PACKETS_CONTRACT,
                    keys.received_key(client_id, sequence),
                    interchain_pb2.ReceiptRecord,
                    f"packet {client_id}/{sequence} (received)",
                )
            )
        return result

    async def packets(
        self,
        client_id: str,
        *,
        side: str = SIDE_SENT,
        start_after: int = 0,
        limit: int = 0,
        in_flight_only: bool = False,
    ) -> interchain_pb2.PacketsListResult:
        """``Interchain.packets``, awaited.

        Example:

            answer = await chain_a.interchain.packets(client_id, in_flight_only=True)
            for record in answer.sent:
                print(record.packet.sequence, record.state)
        """
        arguments = interchain_pb2.PacketsListArguments(
            side=check_side(side),
            client_id=client_id,
            start_after=start_after,
            limit=limit,
            in_flight_only=in_flight_only,
        )
        return decode_result(
            interchain_pb2.PacketsListResult, await self._query("packets", "list", arguments)
        )

    async def wait_for_packet(
        self,
        source_client: str,
        sequence: int,
        *,
        timeout_s: float = PACKET_WAIT_S_DEFAULT,
        poll_interval_s: float = PACKET_POLL_INTERVAL_S_DEFAULT,
    ) -> interchain_pb2.PacketRecord:
        """``Interchain.wait_for_packet``, awaited.

        Example:

            sequence = packet.sequence
            record = await chain_a.interchain.wait_for_packet(client_id, sequence, timeout_s=60)
            print(record.state)
        """
        check_wait(timeout_s, poll_interval_s)
        deadline = time.monotonic() + timeout_s
        while True:
            record = (await self.packet(source_client, sequence)).sent
            if record.state in ENDED_STATES:
                return record
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise wait_timed_out(source_client, sequence, timeout_s, record.state)
            await asyncio.sleep(min(poll_interval_s, remaining))

    async def balance(self, account: str, denom: str) -> int:
        """``Interchain.balance``, awaited.

        Example:

            print(await chain_a.interchain.balance("org1/client", "gold"))
        """
        key = state_path(keys.BANK_CONTRACT, keys.balance_key(account, denom))
        response = await self._client.get_state(key)
        return amount_of(response.found, response.value, key)

    async def balances(self, account: str) -> list[interchain_pb2.BankCoin]:
        """``Interchain.balances``, awaited.

        Example:

            for coin in await chain_a.interchain.balances("org1/client"):
                print(coin.denom, coin.amount)
        """
        data = await self._query(
            "bank", "balances", interchain_pb2.BankBalancesArguments(account=account)
        )
        return list(decode_result(interchain_pb2.BankBalancesResult, data).coins)

    async def issue(
        self,
        account: str,
        denom: str,
        amount: int,
        *,
        endorsers: Sequence[Identity] = (),
        timeout_s: float = 30.0,
    ) -> int:
        """``Interchain.issue``, awaited.

        Example:

            balance = await chain_a.interchain.issue("org1/client", "gold", 1_000)
        """
        arguments = interchain_pb2.BankIssueArguments(denom=denom, account=account, amount=amount)
        await self._governance("bank", "issue", arguments, endorsers, timeout_s)
        return await self.balance(account, denom)

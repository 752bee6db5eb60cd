"""The EVM chain as one gateway sees it: JSON-RPC reads (blocks, receipts, the endpoint's logs,
its views, storage proofs) and the gateway's own transactions, signed with its committee key.

Reads use raw JSON-RPC where the gateway needs the consensus encodings (the header and the
receipts are re-encoded from their JSON by causeway.interchain.evm and checked against the block's
hash and roots by whoever proves with them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_hash.auto import keccak
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception

from causeway.errors import NodeUnavailableError, ProofError, RequestError
from causeway.interchain import evm
from causeway.interchain.gateways import contracts
from causeway.interchain.v1 import interchain_pb2

REQUEST_TIMEOUT_S_DEFAULT = 10.0
TRANSACTION_TIMEOUT_S_DEFAULT = 60.0
RECEIPT_POLL_S = 0.1
# The gas of a committee-signed call: whether this signature is the k-th (and runs the app, at
# least the endpoint's APPLICATION_GAS_MIN) depends on which gateway's transaction lands first,
# not on the state the estimate saw. Only what is used is paid.
COMMITTEE_CALL_GAS = 3_000_000


@dataclass(frozen=True, slots=True)
class EndpointEvent:
    """A PacketSent or AcknowledgementWritten log of the endpoint, where it is (the block, the
    transaction's index, the log's index in its receipt) and what it carries."""

    kind: str  # "sent" or "acknowledgement"
    packet: interchain_pb2.Packet
    packet_hash: bytes
    acknowledgement: bytes  # ACK_ABI; empty for "sent"
    block_number: int
    transaction_index: int
    log_index_in_block: int


class EvmSide:
    """One EVM chain through ``rpc_url``, and the gateway's key on it."""

    def __init__(
        self,
        rpc_url: str,
        chain_id: int,
        endpoint_address: str,
        private_key: bytes,
        *,
        request_timeout_s: float = REQUEST_TIMEOUT_S_DEFAULT,
        transaction_timeout_s: float = TRANSACTION_TIMEOUT_S_DEFAULT,
    ) -> None:
        self.web3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": request_timeout_s}))
        self.rpc_url = rpc_url
        self.chain_id = chain_id
        self.endpoint = contracts.at(self.web3, contracts.ENDPOINT_CONTRACT, endpoint_address)
        self.endpoint_bytes = bytes.fromhex(self.endpoint.address[2:])
        self.private_key = private_key
        self.account = Account.from_key(private_key)
        self.address = self.account.address
        self.transaction_timeout_s = transaction_timeout_s

    # -- reads ---------------------------------------------------------------------------------

    def _rpc(self, method: str, params: Sequence[Any]) -> Any:
        try:
            answer = self.web3.provider.make_request(method, list(params))  # type: ignore[arg-type]
        except (OSError, Web3Exception) as error:
            raise NodeUnavailableError(f"EVM node {self.rpc_url} {method}: {error}") from None
        if "error" in answer:
            raise NodeUnavailableError(f"EVM node {self.rpc_url} {method}: {answer['error']}")
        return answer["result"]

    def check_chain(self) -> None:
        """NodeUnavailableError unless the node serves the configured chain id."""
        served = evm.hex_integer(self._rpc("eth_chainId", []))
        if served != self.chain_id:
            raise NodeUnavailableError(
                f"the EVM node at {self.rpc_url} serves chain id {served}, not {self.chain_id}"
            )

    def block_number(self) -> int:
        return evm.hex_integer(self._rpc("eth_blockNumber", []))

    def block(self, number: int) -> Mapping[str, Any]:
        block = self._rpc("eth_getBlockByNumber", [hex(number), False])
        if block is None:
            raise NodeUnavailableError(f"EVM node {self.rpc_url}: no block {number}")
        result: Mapping[str, Any] = block
        return result

    def header(self, number: int) -> tuple[bytes, bytes, int]:
        """(header RLP, block hash, time in ms) of block ``number``; ProofError when the RLP
        re-encoded from the JSON does not hash to the block's hash (a header format this
        gateway does not know)."""
        block = self.block(number)
        header_rlp = evm.header_rlp_from_json(block)
        block_hash = evm.hex_bytes(block["hash"])
        if keccak(header_rlp) != block_hash:
            raise ProofError(
                f"block {number}: the header re-encoded from JSON does not hash to the block "
                "hash (an unknown header format)"
            )
        return header_rlp, block_hash, evm.hex_integer(block["timestamp"]) * 1000

    def receipt_proof(self, event: EndpointEvent) -> interchain_pb2.EvmReceiptProof:
        """The receipt proof of ``event``'s log, from all of its block's receipts."""
        receipts = sorted(
            self._rpc("eth_getBlockReceipts", [hex(event.block_number)]),
            key=lambda receipt: evm.hex_integer(receipt["transactionIndex"]),
        )
        encoded = [evm.receipt_from_json(item) for item in receipts]
        topic0 = (
            evm.PACKET_SENT_TOPIC if event.kind == "sent" else evm.ACKNOWLEDGEMENT_WRITTEN_TOPIC
        )
        log_index = evm.find_log_index(
            encoded[event.transaction_index], self.endpoint_bytes, topic0, event.packet_hash
        )
        return interchain_pb2.EvmReceiptProof(
            height=event.block_number,
            transaction_index=event.transaction_index,
            nodes=evm.build_receipt_proof(encoded, event.transaction_index),
            log_index=log_index,
        )

    def storage_proof(self, packet_hash: bytes, number: int) -> interchain_pb2.EvmStorageProof:
        """eth_getProof of ``received[packet_hash]`` in the endpoint at block ``number``."""
        slot = "0x" + evm.received_slot(packet_hash).hex()
        answer = self._rpc("eth_getProof", [self.endpoint.address, [slot], hex(number)])
        return interchain_pb2.EvmStorageProof(
            height=number,
            account_nodes=[evm.hex_bytes(node) for node in answer["accountProof"]],
            storage_nodes=[evm.hex_bytes(node) for node in answer["storageProof"][0]["proof"]],
        )

    def endpoint_events(self, first: int, last: int) -> list[EndpointEvent]:
        """The endpoint's PacketSent and AcknowledgementWritten logs in blocks first..last."""
        logs = self._rpc(
            "eth_getLogs",
            [
                {
                    "address": self.endpoint.address,
                    "fromBlock": hex(first),
                    "toBlock": hex(last),
                    "topics": [
                        [
                            "0x" + evm.PACKET_SENT_TOPIC.hex(),
                            "0x" + evm.ACKNOWLEDGEMENT_WRITTEN_TOPIC.hex(),
                        ]
                    ],
                }
            ],
        )
        events: list[EndpointEvent] = []
        for log in logs:
            if log.get("removed"):
                continue
            topic0 = evm.hex_bytes(log["topics"][0])
            data = evm.hex_bytes(log["data"])
            if topic0 == evm.PACKET_SENT_TOPIC:
                (encoded_packet,) = self.web3.codec.decode(["bytes"], data)
                acknowledgement = b""
                kind = "sent"
            else:
                encoded_packet, acknowledgement = evm.decode_acknowledgement_written(data)
                kind = "acknowledgement"
            packet = evm.decode_packet(bytes(encoded_packet))
            events.append(
                EndpointEvent(
                    kind=kind,
                    packet=packet,
                    packet_hash=keccak(bytes(encoded_packet)),
                    acknowledgement=bytes(acknowledgement),
                    block_number=evm.hex_integer(log["blockNumber"]),
                    transaction_index=evm.hex_integer(log["transactionIndex"]),
                    log_index_in_block=evm.hex_integer(log["logIndex"]),
                )
            )
        return events

    def received(self, packet_hash: bytes) -> bool:
        return bool(self.endpoint.functions.received(packet_hash).call())

    def in_flight(self, packet_hash: bytes) -> bool:
        """Whether a packet the endpoint sent still has its commitment."""
        return bool(self.endpoint.functions.commitments(packet_hash).call())

    def signed_or_executed(self, digest: bytes) -> bool:
        """Whether this gateway signed ``digest`` already, or k members did."""
        functions = self.endpoint.functions
        return bool(functions.executed(digest).call()) or bool(
            functions.signedBy(digest, self.address).call()
        )

    # -- this gateway's signatures and transactions ---------------------------------------------

    def sign(self, digest: bytes) -> bytes:
        return evm.sign_digest(self.private_key, digest)

    def receive_digest(self, packet_hash: bytes) -> bytes:
        return evm.receive_digest(self.chain_id, self.endpoint_bytes, packet_hash)

    def acknowledge_digest(self, packet_hash: bytes, acknowledgement: bytes) -> bytes:
        return evm.acknowledge_digest(
            self.chain_id, self.endpoint_bytes, packet_hash, acknowledgement
        )

    def timeout_digest(self, packet_hash: bytes) -> bytes:
        return evm.timeout_digest(self.chain_id, self.endpoint_bytes, packet_hash)

    def transact(self, call: Any) -> str:
        """Sends ``call`` signed with the gateway's key and waits for it; the transaction hash.
        RequestError when it would revert (nothing sent) or reverted."""
        try:
            transaction = call.build_transaction(
                {
                    "from": self.address,
                    "nonce": self.web3.eth.get_transaction_count(self.address, "pending"),
                    "chainId": self.chain_id,
                    "gas": COMMITTEE_CALL_GAS,
                }
            )
            # With the gas given, build_transaction no longer runs the call: check it here, so
            # that a call the endpoint refuses is never sent (nor paid for).
            call.call({"from": self.address})
        except ContractLogicError as error:
            raise RequestError(f"the endpoint refuses: {error.message or error}") from None
        except (OSError, Web3Exception) as error:
            raise NodeUnavailableError(f"EVM node {self.rpc_url}: {error}") from None
        signed = self.account.sign_transaction(transaction)
        try:
            transaction_hash = self.web3.eth.send_raw_transaction(signed.raw_transaction)
            receipt = self.web3.eth.wait_for_transaction_receipt(
                transaction_hash, timeout=self.transaction_timeout_s, poll_latency=RECEIPT_POLL_S
            )
        except (OSError, Web3Exception) as error:
            raise NodeUnavailableError(f"EVM node {self.rpc_url}: {error}") from None
        if receipt["status"] != 1:
            raise RequestError(f"EVM transaction {transaction_hash.hex()} reverted")
        return "0x" + bytes(transaction_hash).hex()

"""A transfer from the EVM chain forwarded by the hub to a Causeway member chain (chain-b, gm
raft): received on the hub on a receipt proof, sent on to chain-b in protobuf, relayed by the
ordinary relayer, and the EVM packet acknowledged on the hub only once chain-b answered."""

from __future__ import annotations

from evm_hub import EVM_CLIENT, PACKETS_BLOCK, build_evm_hub, header_of
from evm_vectors import log_index, packet, receipt_proof, transaction_index
from interchain_chain import Clock, Endpoint, InterchainChain, check_ok
from link_support import bind_port, create_client_of, register_counterparty

from causeway.interchain import CHAIN_CONTRACTS, LinkEnd, Relayer, bank, evm, keys, transfer
from causeway.interchain.v1 import interchain_pb2
from causeway.types import decode

HUB_OF_B = "client-1"
B_OF_HUB = "client-0"
VOUCHER_ON_HUB = f"transfer/{EVM_CLIENT}/erc20/0x" + "cd" * 20
VOUCHER_ON_B = f"transfer/{B_OF_HUB}/{VOUCHER_ON_HUB}"


def _record(
    chain: InterchainChain, key: bytes, message: type[interchain_pb2.ReceiptRecord]
) -> interchain_pb2.ReceiptRecord:
    data = chain.state[keys.PACKETS_NAMESPACE + key]
    return decode(message, data, bytes_max=len(data))


def _balance(chain: InterchainChain, account: str, denom: str) -> int:
    key = keys.BANK_NAMESPACE + keys.balance_key(account, denom)
    value = chain.state.get(key)
    return 0 if value is None else int.from_bytes(value, "big")


def test_a_transfer_from_the_evm_chain_is_forwarded_to_a_causeway_member() -> None:
    clock = Clock()
    evm_hub = build_evm_hub(clock)
    hub = evm_hub.hub
    b = InterchainChain(
        "chain-b",
        "gm",
        consensus="raft",
        validators=3,
        organisations=3,
        contracts=CHAIN_CONTRACTS,
        clock=clock,
    )
    b.advance(1)
    assert create_client_of(hub, b) == HUB_OF_B
    assert create_client_of(b, hub) == B_OF_HUB
    register_counterparty(hub, HUB_OF_B, B_OF_HUB)
    register_counterparty(b, B_OF_HUB, HUB_OF_B)
    bind_port(b, transfer.PORT, transfer.CONTRACT)
    member = interchain_pb2.MemberChain(
        chain_id=b.chain_id,
        genesis_hash=b.genesis_hash,
        crypto_profile=b.profile_name,
        consensus=b.consensus,
        validator_set=b.blocks[b.height].validator_set,
        client_id=HUB_OF_B,
    )
    check_ok(
        evm_hub.governance("hub", "register", interchain_pb2.HubRegisterArguments(member=member))
    )
    evm_hub.attest_by(3, header_of(PACKETS_BLOCK))

    incoming = packet("evm_to_hub_forward")
    data = evm.decode_transfer_data(incoming.payload.value)
    forward = transfer.forward_request(data.memo)
    assert forward is not None
    assert forward.chain_id == b.chain_id
    check_ok(
        hub.run(
            "org1/relayer",
            "packets",
            "receive",
            interchain_pb2.PacketsReceiveArguments(
                packet=incoming,
                evm_proof=interchain_pb2.EvmReceiptProof(
                    height=PACKETS_BLOCK,
                    transaction_index=transaction_index("evm_to_hub_forward"),
                    nodes=receipt_proof("evm_to_hub_forward"),
                    log_index=log_index("evm_to_hub_forward"),
                ),
            ),
        )
    )
    # Received, held unacknowledged while the forwarded packet travels.
    received = _record(
        hub, keys.received_key(EVM_CLIENT, incoming.sequence), interchain_pb2.ReceiptRecord
    )
    assert not received.HasField("acknowledgement")
    escrow = bank.escrow_account(transfer.PORT, HUB_OF_B)
    assert _balance(hub, escrow, VOUCHER_ON_HUB) == data.amount
    onward = decode(
        interchain_pb2.PacketRecord,
        hub.state[keys.PACKETS_NAMESPACE + keys.sent_key(HUB_OF_B, 1)],
        bytes_max=4096,
    ).packet
    # Toward a Causeway chain the data is protobuf again.
    assert onward.payload.encoding == transfer.ENCODING
    assert onward.timeout_ms == forward.timeout_ms

    relayer = Relayer()
    for _ in range(3):
        relayer.relay_round(LinkEnd(Endpoint(hub), HUB_OF_B), LinkEnd(Endpoint(b), B_OF_HUB))
    assert _balance(b, forward.receiver, VOUCHER_ON_B) == data.amount
    answered = _record(
        hub, keys.received_key(EVM_CLIENT, incoming.sequence), interchain_pb2.ReceiptRecord
    )
    assert answered.acknowledgement.success
    # The hub's acknowledgement commitment is what the gateways read to sign acknowledgePacket.
    assert (
        keys.PACKETS_NAMESPACE + keys.acknowledgement_key(EVM_CLIENT, incoming.sequence)
        in hub.state
    )

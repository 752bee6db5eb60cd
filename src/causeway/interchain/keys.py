"""The interchain layer's state key layout: every key its contracts write, defined here only.

Each contract owns one namespace (causeway.execution.keys explains namespaces and grants) and
passes keys relative to it; the absolute form (namespace + relative key) is what a proof on the
other chain names, so the ``*_path`` functions below give absolute keys for relayers and for the
counterparty's checks. Heights and sequences are 20 decimal digits, so that a prefix range lists
them in numeric order.

    sys/clients/next                        8-byte big-endian: the number of the next client id
    sys/clients/client/<client id>          encoded ClientState
    sys/clients/consensus/<client id>/<height>   encoded ConsensusState
    sys/clients/recovered/<client id>       8-byte big-endian: the height governance last
                                            recovered the client from (older states no longer count)
    sys/packets/next/<source client>        8-byte big-endian: the next sequence to send
    sys/packets/commitment/<source client>/<sequence>   packet commitment (hash, see packets)
    sys/packets/sent/<source client>/<sequence>         encoded PacketRecord
    sys/packets/receipt/<destination client>/<sequence> b"\\x01": the packet was received
    sys/packets/received/<destination client>/<sequence> encoded ReceiptRecord
    sys/packets/ack/<destination client>/<sequence>     acknowledgement commitment (hash)
    sys/packets/port/<port>                 the contract name bound to the port (governance)
    sys/hub/member/<chain id>               encoded MemberChain
    atomic/tx/<id>                      encoded AtomicTransactionRecord (hub)
    atomic/decision/<id>                encoded AtomicDecisionRecord (hub), written once: the
                                            entry atomic.settle proves on a participant
    atomic/open/<deadline_ms be64>/<id> empty (hub): undecided transactions, deadline order
    atomic/count                        8-byte big-endian: transactions begun (hub)
    atomic/hub/<hub chain id>           the client id of that hub (participant, governance)
    atomic/leg/<hub chain id>/<id>/<leg be32>    encoded AtomicLegRecord (participant)
    atomic/cancel/<hub chain id>/<id>/<leg be32> encoded AtomicCancelMarker; never deleted
    atomic/prepared/<hub chain id>/<id>/<leg be32> empty: the leg is PREPARED (an index for
                                            relayers, deleted when the leg ends)
    atomic/lock/<absolute key>          encoded AtomicLockRecord (participant)
    atomic/lock_count                   8-byte big-endian: locks held (participant)
    atomic/port/<port>                  the contract bound to an atomic port (governance)
    atomic/owner_locks/<owner>          8-byte big-endian: locks held by one owner's legs
    bank/balance/<account>\\x00<denom>       8-byte big-endian uint64; absent means zero
    bank/supply/<denom>                     8-byte big-endian uint64, the sum of all balances
    transfer/forward/<client>/<sequence>    encoded Packet: on a hub, the packet that a forwarded
                                            one (sent on <client> with <sequence>) answers

Accounts and denominations may contain "/" (a member id, a voucher's path), so the bank separates
them with a zero byte, which neither may contain; account first, so one account's balances are
one range.

The atomic contract's namespace is ``atomic/``, not ``sys/atomic/`` as ADR 0004 proposed: its port
receives packets, and nothing a packet reaches may write under sys/ (the packets contract refuses
a port of a contract whose namespace starts with sys/; transfer keeps its forwarding records in
its own namespace for the same reason). Only the atomic contract writes under atomic/ all the same.

Atomic transaction ids are the raw 32-byte hash (fixed length, so "/" inside one is harmless);
a leg index is 4 bytes big-endian, a deadline 8 bytes big-endian (so open/ sorts by deadline).
A hub chain id never holds "/" (chain ids are checked at client creation).

Commitments, receipts and acknowledgements are written by the packets contract only; nothing an
application port does can reach them (its context is its own namespace, causeway.execution).
"""

from __future__ import annotations

from causeway.execution.keys import ATOMIC_LOCK_COUNT_KEY, ATOMIC_LOCK_PREFIX

CLIENTS_CONTRACT = "clients"
PACKETS_CONTRACT = "packets"
HUB_CONTRACT = "hub"
BANK_CONTRACT = "bank"
TRANSFER_CONTRACT = "transfer"
ATOMIC_CONTRACT = "atomic"

CLIENTS_NAMESPACE = b"sys/clients/"
PACKETS_NAMESPACE = b"sys/packets/"
HUB_NAMESPACE = b"sys/hub/"
BANK_NAMESPACE = b"bank/"
TRANSFER_NAMESPACE = b"transfer/"
ATOMIC_NAMESPACE = b"atomic/"

NAMESPACES: dict[str, bytes] = {
    CLIENTS_CONTRACT: CLIENTS_NAMESPACE,
    PACKETS_CONTRACT: PACKETS_NAMESPACE,
    HUB_CONTRACT: HUB_NAMESPACE,
    BANK_CONTRACT: BANK_NAMESPACE,
    TRANSFER_CONTRACT: TRANSFER_NAMESPACE,
    ATOMIC_CONTRACT: ATOMIC_NAMESPACE,
}


def _number(value: int) -> bytes:
    return f"{value:020d}".encode()


# -- clients (relative to CLIENTS_NAMESPACE) ------------------------------------------------------

CLIENT_NEXT = b"next"
CLIENT_PREFIX = b"client/"
CONSENSUS_PREFIX = b"consensus/"
RECOVERED_PREFIX = b"recovered/"


def client_key(client_id: str) -> bytes:
    return CLIENT_PREFIX + client_id.encode()


def consensus_states_key(client_id: str) -> bytes:
    """Every consensus state of the client starts with this."""
    return CONSENSUS_PREFIX + client_id.encode() + b"/"


def consensus_state_key(client_id: str, height: int) -> bytes:
    return consensus_states_key(client_id) + _number(height)


def recovered_key(client_id: str) -> bytes:
    return RECOVERED_PREFIX + client_id.encode()


# -- packets (relative to PACKETS_NAMESPACE) ------------------------------------------------------

SEQUENCE_NEXT_PREFIX = b"next/"
COMMITMENT_PREFIX = b"commitment/"
SENT_PREFIX = b"sent/"
RECEIPT_PREFIX = b"receipt/"
RECEIVED_PREFIX = b"received/"
ACKNOWLEDGEMENT_PREFIX = b"ack/"
PORT_PREFIX = b"port/"


def next_sequence_key(source_client: str) -> bytes:
    return SEQUENCE_NEXT_PREFIX + source_client.encode()


def _per_packet(prefix: bytes, client_id: str, sequence: int) -> bytes:
    return prefix + client_id.encode() + b"/" + _number(sequence)


def per_client_prefix(prefix: bytes, client_id: str) -> bytes:
    """Every per-packet key of ``prefix`` for one client starts with this (for ranges)."""
    return prefix + client_id.encode() + b"/"


def commitment_key(source_client: str, sequence: int) -> bytes:
    return _per_packet(COMMITMENT_PREFIX, source_client, sequence)


def sent_key(source_client: str, sequence: int) -> bytes:
    return _per_packet(SENT_PREFIX, source_client, sequence)


def receipt_key(destination_client: str, sequence: int) -> bytes:
    return _per_packet(RECEIPT_PREFIX, destination_client, sequence)


def received_key(destination_client: str, sequence: int) -> bytes:
    return _per_packet(RECEIVED_PREFIX, destination_client, sequence)


def acknowledgement_key(destination_client: str, sequence: int) -> bytes:
    return _per_packet(ACKNOWLEDGEMENT_PREFIX, destination_client, sequence)


def port_key(port: str) -> bytes:
    return PORT_PREFIX + port.encode()


# Absolute keys, as the counterparty's proofs name them.


def commitment_path(source_client: str, sequence: int) -> bytes:
    return PACKETS_NAMESPACE + commitment_key(source_client, sequence)


def receipt_path(destination_client: str, sequence: int) -> bytes:
    return PACKETS_NAMESPACE + receipt_key(destination_client, sequence)


def acknowledgement_path(destination_client: str, sequence: int) -> bytes:
    return PACKETS_NAMESPACE + acknowledgement_key(destination_client, sequence)


# -- hub (relative to HUB_NAMESPACE) -------------------------------------------------------------

MEMBER_PREFIX = b"member/"


def member_chain_key(chain_id: str) -> bytes:
    return MEMBER_PREFIX + chain_id.encode()


# -- transfer (relative to TRANSFER_NAMESPACE) ---------------------------------------------------

FORWARD_PREFIX = b"forward/"


def forward_key(client_id: str, sequence: int) -> bytes:
    """On a hub: the packet a forwarded one (sent on ``client_id`` with ``sequence``) answers.
    Kept in transfer's namespace, not the hub's: nothing a packet reaches writes under sys/."""
    return _per_packet(FORWARD_PREFIX, client_id, sequence)


# -- bank (relative to BANK_NAMESPACE) -----------------------------------------------------------

BALANCE_PREFIX = b"balance/"
SUPPLY_PREFIX = b"supply/"


def account_balances_key(account: str) -> bytes:
    """Every balance of the account starts with this."""
    return BALANCE_PREFIX + account.encode() + b"\x00"


def balance_key(account: str, denom: str) -> bytes:
    return account_balances_key(account) + denom.encode()


def supply_key(denom: str) -> bytes:
    return SUPPLY_PREFIX + denom.encode()


# -- atomic (relative to ATOMIC_NAMESPACE) -------------------------------------------------------

ATOMIC_TRANSACTION_PREFIX = b"tx/"
ATOMIC_DECISION_PREFIX = b"decision/"
ATOMIC_OPEN_PREFIX = b"open/"
ATOMIC_COUNT = b"count"
ATOMIC_HUB_PREFIX = b"hub/"
ATOMIC_LEG_PREFIX = b"leg/"
ATOMIC_CANCEL_PREFIX = b"cancel/"
ATOMIC_PREPARED_PREFIX = b"prepared/"
ATOMIC_LOCK = ATOMIC_LOCK_PREFIX[len(ATOMIC_NAMESPACE) :]
ATOMIC_LOCK_COUNT = ATOMIC_LOCK_COUNT_KEY[len(ATOMIC_NAMESPACE) :]
ATOMIC_PORT_PREFIX = b"port/"


def atomic_transaction_key(transaction_id: bytes) -> bytes:
    return ATOMIC_TRANSACTION_PREFIX + transaction_id


def atomic_decision_key(transaction_id: bytes) -> bytes:
    return ATOMIC_DECISION_PREFIX + transaction_id


def atomic_open_key(deadline_ms: int, transaction_id: bytes) -> bytes:
    """Big-endian deadline first: a range from the start of open/ lists the earliest first."""
    return ATOMIC_OPEN_PREFIX + deadline_ms.to_bytes(8, "big") + b"/" + transaction_id


def atomic_open_until(deadline_ms: int) -> bytes:
    """The exclusive end of a range over open/ that holds every deadline <= ``deadline_ms``."""
    return ATOMIC_OPEN_PREFIX + (deadline_ms + 1).to_bytes(8, "big")


def atomic_hub_key(hub_chain_id: str) -> bytes:
    return ATOMIC_HUB_PREFIX + hub_chain_id.encode()


def _atomic_per_leg(prefix: bytes, hub_chain_id: str, transaction_id: bytes, leg: int) -> bytes:
    return prefix + hub_chain_id.encode() + b"/" + transaction_id + b"/" + leg.to_bytes(4, "big")


def atomic_leg_key(hub_chain_id: str, transaction_id: bytes, leg_index: int) -> bytes:
    return _atomic_per_leg(ATOMIC_LEG_PREFIX, hub_chain_id, transaction_id, leg_index)


def atomic_cancel_key(hub_chain_id: str, transaction_id: bytes, leg_index: int) -> bytes:
    return _atomic_per_leg(ATOMIC_CANCEL_PREFIX, hub_chain_id, transaction_id, leg_index)


def atomic_prepared_key(hub_chain_id: str, transaction_id: bytes, leg_index: int) -> bytes:
    return _atomic_per_leg(ATOMIC_PREPARED_PREFIX, hub_chain_id, transaction_id, leg_index)


def atomic_prepared_prefix(hub_chain_id: str) -> bytes:
    """Every PREPARED index entry of one hub starts with this."""
    return ATOMIC_PREPARED_PREFIX + hub_chain_id.encode() + b"/"


def atomic_lock_key(absolute_key: bytes) -> bytes:
    """The lock of an absolute key, relative to the atomic namespace."""
    return ATOMIC_LOCK + absolute_key


def atomic_port_key(port: str) -> bytes:
    return ATOMIC_PORT_PREFIX + port.encode()


def atomic_decision_path(transaction_id: bytes) -> bytes:
    """The absolute key of a decision, as atomic.settle's proof names it."""
    return ATOMIC_NAMESPACE + atomic_decision_key(transaction_id)


def atomic_leg_path(hub_chain_id: str, transaction_id: bytes, leg_index: int) -> bytes:
    return ATOMIC_NAMESPACE + atomic_leg_key(hub_chain_id, transaction_id, leg_index)


def atomic_cancel_path(hub_chain_id: str, transaction_id: bytes, leg_index: int) -> bytes:
    return ATOMIC_NAMESPACE + atomic_cancel_key(hub_chain_id, transaction_id, leg_index)


# Bank accounts that hold prepared transfer legs' funds: the ":" keeps any member id from equalling
# one (as "escrow:" does for transfer's escrow accounts).
RESERVE_ACCOUNT_PREFIX = "reserve:"


def reserve_account(transaction_id: bytes, leg_index: int) -> str:
    """The bank account a prepared bank_transfer leg's funds wait in."""
    return f"{RESERVE_ACCOUNT_PREFIX}atomic/{transaction_id.hex()}/{leg_index}"


ATOMIC_OWNER_LOCKS_PREFIX = b"owner_locks/"


def atomic_owner_locks_key(owner: str) -> bytes:
    """8-byte big-endian: the locks the legs of one owner hold (bounded per owner)."""
    return ATOMIC_OWNER_LOCKS_PREFIX + owner.encode()

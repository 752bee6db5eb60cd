"""Checkers of a multi-chain run (``causeway.sim.interchain``), over what the chains committed:
every block's results and events, and the state each block left (``InterchainChain.value_at``).

- ``packet_problems``: a packet is received at most once, only as it was sent (the same
  encoding), and ends at most once on its sender: acknowledged (with the acknowledgement its
  receiver wrote) or timed out (and then never received), never both.
- ``ending_problems``: by the end of a run every packet sent has ended.
- ``client_problems``: every consensus state a client stored (create, update, recover) is the
  real chain's block at that height (hash, state root, time), unless the client froze for a
  proven fork at that height; a frozen client accepts nothing (no update, no delivery proven
  through it) until governance recovers it.
- ``conservation_problems``: on every link, for each chain's native denomination, what the
  chain holds in escrow for the link equals the vouchers outstanding on the other chain plus
  what is in flight (sent and not yet received with success, either way).
- ``atomic_problems`` (causeway.sim.atomic_checkers): the invariants of atomic transactions.
- ``fault_problems``: what a fault must cause happened (a fork signed by twins froze the client;
  governance recovered every client a fork froze or a partition expired), and no Byzantine
  submission was accepted.

``check_interchain`` runs them all and raises ``SimulationFailure`` naming the seed and the
command that replays it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from google.protobuf.message import Message

from causeway.interchain import transfer
from causeway.interchain.bank import escrow_account
from causeway.interchain.keys import (
    CLIENTS_NAMESPACE,
    PACKETS_NAMESPACE,
    consensus_state_key,
    received_key,
)
from causeway.interchain.v1 import interchain_pb2
from causeway.sim.atomic_checkers import atomic_problems
from causeway.sim.chain import InterchainChain
from causeway.sim.interchain import InterchainResult, native_denom
from causeway.sim.simulation import SimulationFailure, replay_command
from causeway.types.v1 import types_pb2

PROBLEMS_SHOWN = 20

# (chain id, client id) -> (other chain id, the other end's client id)
_Ends = dict[tuple[str, str], tuple[str, str]]


def _ends(result: InterchainResult) -> _Ends:
    ends: _Ends = {}
    for link in result.links:
        ends[(link.a, link.a_client)] = (link.b, link.b_client)
        ends[(link.b, link.b_client)] = (link.a, link.a_client)
    return ends


def _events(
    chain: InterchainChain,
) -> Iterator[tuple[int, types_pb2.TransactionResult, types_pb2.Event, dict[str, str]]]:
    """Every event the chain committed, in order: (height, its result, the event, attributes)."""
    for height in sorted(chain.blocks):
        for transaction_result in chain.blocks[height].results:
            if transaction_result.status != types_pb2.RESULT_STATUS_OK:
                continue
            for event in transaction_result.events:
                attributes = {a.key: a.value for a in event.attributes}
                yield height, transaction_result, event, attributes


def _packet_key(attributes: dict[str, str], side: str) -> tuple[str, int]:
    return attributes[f"{side}_client"], int(attributes["sequence"])


def packet_problems(result: InterchainResult) -> list[str]:
    problems: list[str] = []
    ends = _ends(result)
    # (sending chain, source client, sequence) -> the packet as sent
    sent: dict[tuple[str, str, int], interchain_pb2.Packet] = {}
    received: Counter[tuple[str, str, int]] = Counter()
    written: dict[tuple[str, str, int], interchain_pb2.Acknowledgement] = {}
    ended: dict[tuple[str, str, int], list[str]] = {}
    for chain_id, chain in result.chains.items():
        for _, _, event, attributes in _events(chain):
            if event.name == "send_packet":
                packet = interchain_pb2.Packet.FromString(event.data)
                sent[(chain_id, packet.source_client, packet.sequence)] = packet
            elif event.name == "write_acknowledgement":
                destination_client, sequence = _packet_key(attributes, "destination")
                source = ends.get((chain_id, destination_client))
                if source is not None:
                    written[(source[0], source[1], sequence)] = (
                        interchain_pb2.Acknowledgement.FromString(event.data)
                    )
    for chain_id, chain in result.chains.items():
        for height, _, event, attributes in _events(chain):
            if event.name == "receive_packet":
                destination_client, sequence = _packet_key(attributes, "destination")
                source = ends.get((chain_id, destination_client))
                if source is None:
                    problems.append(f"{chain_id}@{height}: received on unknown client {attributes}")
                    continue
                key = (source[0], source[1], sequence)
                received[key] += 1
                if received[key] == 2:
                    problems.append(
                        f"packet {key} received more than once (again on {chain_id}@{height})"
                    )
                stored = chain.value_at(
                    PACKETS_NAMESPACE + received_key(destination_client, sequence), height
                )
                record = None if stored is None else interchain_pb2.ReceiptRecord.FromString(stored)
                if key not in sent:
                    problems.append(
                        f"{chain_id}@{height} received packet {key}, which its sender never sent"
                    )
                elif record is None or record.packet != sent[key]:
                    problems.append(
                        f"{chain_id}@{height} received packet {key} other than it was sent"
                    )
            elif event.name in ("acknowledge_packet", "timeout_packet"):
                source_client, sequence = _packet_key(attributes, "source")
                key = (chain_id, source_client, sequence)
                how = "acknowledged" if event.name == "acknowledge_packet" else "timed out"
                ended.setdefault(key, []).append(f"{how}@{height}")
                if event.name == "acknowledge_packet":
                    acknowledgement = written.get(key)
                    success = attributes.get("success") == "true"
                    if acknowledgement is None:
                        problems.append(
                            f"packet {key} acknowledged on {chain_id}@{height} without any "
                            "acknowledgement written by its receiver"
                        )
                    elif acknowledgement.success != success:
                        problems.append(
                            f"packet {key} acknowledged with success={success}, but the receiver "
                            f"wrote success={acknowledgement.success}"
                        )
    for key, endings in ended.items():
        if key not in sent:
            problems.append(f"packet {key} ended ({', '.join(endings)}) but was never sent")
        if len(endings) > 1:
            problems.append(f"packet {key} ended {len(endings)} times: {', '.join(endings)}")
        if any(ending.startswith("timed out") for ending in endings) and received[key]:
            problems.append(f"packet {key} timed out on its sender but was received")
    return problems


def ending_problems(result: InterchainResult) -> list[str]:
    """Every packet sent has ended by the end of the run (the run settles once they all have,
    or stops at its block bound)."""
    problems: list[str] = []
    ended: set[tuple[str, str, int]] = set()
    sent: list[tuple[str, str, int]] = []
    for chain_id, chain in result.chains.items():
        for _, _, event, attributes in _events(chain):
            if event.name == "send_packet":
                sent.append((chain_id, attributes["source_client"], int(attributes["sequence"])))
            elif event.name in ("acknowledge_packet", "timeout_packet"):
                source_client, sequence = _packet_key(attributes, "source")
                ended.add((chain_id, source_client, sequence))
    for key in sent:
        if key not in ended:
            problems.append(f"packet {key} never ended (neither acknowledged nor timed out)")
    return problems


def _stored_state(
    chain: InterchainChain, client_id: str, height: int, at_height: int
) -> interchain_pb2.ConsensusState | None:
    data = chain.value_at(CLIENTS_NAMESPACE + consensus_state_key(client_id, height), at_height)
    return None if data is None else interchain_pb2.ConsensusState.FromString(data)


def client_problems(result: InterchainResult) -> list[str]:
    problems: list[str] = []
    ends = _ends(result)
    for chain_id, chain in result.chains.items():
        # Per client: (height stored, block height) of states that do not match, and the
        # heights the client froze at (a freeze clears the mismatch it proves).
        mismatched: dict[str, list[tuple[int, int, str]]] = {}
        frozen_since: dict[str, int] = {}
        freezes: dict[str, list[int]] = {}
        for height, _, event, attributes in _events(chain):
            client_id = attributes.get("client_id", "")
            if event.name in ("create_client", "update_client", "recover_client"):
                if event.name == "recover_client":
                    frozen_since.pop(client_id, None)
                elif client_id in frozen_since:
                    problems.append(
                        f"{chain_id}@{height}: frozen client {client_id} (since "
                        f"{chain_id}@{frozen_since[client_id]}) accepted an update"
                    )
                remote_end = ends.get((chain_id, client_id))
                if remote_end is None:
                    continue
                remote = result.chains[remote_end[0]]
                stored_height = int(attributes["height"])
                state = _stored_state(chain, client_id, stored_height, height)
                real = remote.blocks.get(stored_height)
                why = ""
                if state is None:
                    why = "nothing stored"
                elif real is None:
                    why = f"{remote.chain_id} has no block at that height"
                elif state.block_hash != real.block_hash:
                    why = "another block hash"
                elif state.state_root != real.header.state_root:
                    why = "another state root"
                elif state.time_ms != real.header.time_ms:
                    why = "another time"
                if why:
                    mismatched.setdefault(client_id, []).append((stored_height, height, why))
            elif event.name == "client_frozen":
                frozen_since.setdefault(client_id, height)
                freezes.setdefault(client_id, []).append(int(attributes["height"]))
            elif event.name in ("receive_packet",):
                destination = attributes["destination_client"]
                if destination in frozen_since:
                    problems.append(
                        f"{chain_id}@{height}: received packet {attributes['sequence']} through "
                        f"frozen client {destination}"
                    )
            elif event.name in ("acknowledge_packet", "timeout_packet"):
                source = attributes["source_client"]
                if source in frozen_since:
                    problems.append(
                        f"{chain_id}@{height}: {event.name} of packet {attributes['sequence']} "
                        f"through frozen client {source}"
                    )
        for client_id, entries in mismatched.items():
            for stored_height, height, why in entries:
                if stored_height in freezes.get(client_id, []):
                    continue
                problems.append(
                    f"{chain_id}@{height}: client {client_id} stored a consensus state for "
                    f"height {stored_height} that is not the real block ({why}) and did not "
                    "freeze for it"
                )
    return problems


def _bank(chain: InterchainChain, method: str, message: Message) -> int:
    answer = chain.query("bank", method, message)
    if answer.status != types_pb2.RESULT_STATUS_OK:
        raise AssertionError(f"bank.{method} on {chain.chain_id} failed: {answer.error}")
    return interchain_pb2.BankBalanceResult.FromString(answer.return_value).amount


def conservation_problems(result: InterchainResult) -> list[str]:
    problems: list[str] = []
    # Transfer packets by (sending chain, source client, sequence): what they carry, whether they
    # ended on the sender, were received, and were refused (an error acknowledgement: nothing
    # credited, or a forwarded credit undone).
    sent: dict[tuple[str, str, int], interchain_pb2.TransferPacketData] = {}
    ended: set[tuple[str, str, int]] = set()
    received: set[tuple[str, str, int]] = set()
    refused: set[tuple[str, str, int]] = set()
    ends = _ends(result)
    for chain_id, chain in result.chains.items():
        for _, _, event, attributes in _events(chain):
            if attributes.get("source_port") != transfer.PORT:
                continue
            if event.name == "send_packet":
                packet = interchain_pb2.Packet.FromString(event.data)
                sent[(chain_id, packet.source_client, packet.sequence)] = transfer.packet_data(
                    packet
                )
            elif event.name in ("acknowledge_packet", "timeout_packet"):
                source_client, sequence = _packet_key(attributes, "source")
                ended.add((chain_id, source_client, sequence))
            elif event.name in ("receive_packet", "write_acknowledgement"):
                destination_client, sequence = _packet_key(attributes, "destination")
                source = ends.get((chain_id, destination_client))
                if source is None:
                    continue
                key = (source[0], source[1], sequence)
                if event.name == "receive_packet":
                    received.add(key)
                elif not interchain_pb2.Acknowledgement.FromString(event.data).success:
                    refused.add(key)
    for link in result.links:
        for (home, home_client), (other, other_client) in (
            ((link.a, link.a_client), (link.b, link.b_client)),
            ((link.b, link.b_client), (link.a, link.a_client)),
        ):
            home_prefix = f"{transfer.PORT}/{home_client}/"
            # Every denomination the home chain escrowed on this link: its own, and vouchers of
            # third chains passing through (a hub forwarding).
            denoms = {native_denom(home)} | {
                data.denom
                for key, data in sent.items()
                if key[:2] == (home, home_client) and not data.denom.startswith(home_prefix)
            }
            for denom in sorted(denoms):
                voucher = f"{transfer.PORT}/{other_client}/{denom}"
                escrowed = _bank(
                    result.chains[home],
                    "balance",
                    interchain_pb2.BankBalanceArguments(
                        account=escrow_account(transfer.PORT, home_client), denom=denom
                    ),
                )
                outstanding = _bank(
                    result.chains[other],
                    "supply",
                    interchain_pb2.BankSupplyArguments(denom=voucher),
                )
                # Taken on one side, not (or no longer) credited on the other.
                in_flight = sum(
                    data.amount
                    for key, data in sent.items()
                    if key not in ended
                    and (key not in received or key in refused)
                    and (
                        (key[:2] == (home, home_client) and data.denom == denom)
                        or (key[:2] == (other, other_client) and data.denom == voucher)
                    )
                )
                if escrowed != outstanding + in_flight:
                    problems.append(
                        f"{denom}: {home} escrows {escrowed} for {home_client}, but {other} has "
                        f"{outstanding} of {voucher} outstanding and {in_flight} is in flight"
                    )
    return problems


def fault_problems(result: InterchainResult) -> list[str]:
    problems: list[str] = []
    frozen: set[tuple[str, str]] = set()
    recovered: set[tuple[str, str]] = set()
    for chain_id, chain in result.chains.items():
        for _, _, event, attributes in _events(chain):
            if event.name == "client_frozen":
                frozen.add((chain_id, attributes["client_id"]))
            elif event.name == "recover_client":
                recovered.add((chain_id, attributes["client_id"]))
    planned = {(chain_id, client_id) for chain_id, client_id, _ in result.expected}
    # Governance recovers only a frozen or expired client: one that no fault planned froze or
    # expired on its own (a quiet link's client left to expire, a fork nobody made).
    for chain_id, client_id in sorted(recovered - planned):
        problems.append(
            f"client {client_id} on {chain_id} was frozen or expired, and recovered, though no "
            "fault planned it"
        )
    for chain_id, client_id, kind in result.expected:
        if kind == "frozen" and (chain_id, client_id) not in frozen:
            problems.append(f"client {client_id} on {chain_id} did not freeze for the twins' fork")
        if (chain_id, client_id) not in recovered:
            problems.append(
                f"client {client_id} on {chain_id} ({kind}) was never recovered by governance"
            )
    for record in result.blocks:
        for transaction_result, origin in zip(record.results, record.origins, strict=True):
            if not origin.startswith("byzantine:"):
                continue
            # A forged header must change no client; a forged delivery (which rides on a
            # genuine update) must deliver nothing.
            forbidden = (
                ("update_client", "client_frozen")
                if origin.startswith("byzantine:header")
                else ("receive_packet",)
            )
            accepted = [
                event.name for event in transaction_result.events if event.name in forbidden
            ]
            if transaction_result.status == types_pb2.RESULT_STATUS_OK and accepted:
                problems.append(
                    f"{record.chain_id}@{record.height}: a forgery ({origin}) was accepted: "
                    f"{', '.join(accepted)}"
                )
    return problems


def interchain_problems(result: InterchainResult) -> list[str]:
    return [
        *packet_problems(result),
        *ending_problems(result),
        *client_problems(result),
        *conservation_problems(result),
        *fault_problems(result),
        *atomic_problems(result),
    ]


def replay_interchain_command(result: InterchainResult) -> str:
    command = replay_command(result.seed)
    if "pytest" in command:
        return command
    return (
        f".venv/bin/python -m causeway.sim interchain --scenario {result.scenario} "
        f"--start {result.seed} --seeds 1 --verbose"
    )


def check_interchain(result: InterchainResult) -> None:
    """SimulationFailure (an AssertionError) listing the problems, the seed and its replay."""
    problems = interchain_problems(result)
    if not problems:
        return
    shown = problems[:PROBLEMS_SHOWN]
    more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
    raise SimulationFailure(
        f"interchain checks failed ({len(problems)}):\n"
        + "\n".join(f"  - {problem}" for problem in shown)
        + more
        + f"\n  faults: {'; '.join(result.faults) or 'none'}"
        + f"\n  seed: {result.seed} (scenario {result.scenario})"
        + f"\n  replay: {replay_interchain_command(result)}"
    )

"""Atomic cross-chain transactions of two legs through the hub (ADR 0004's measurement plan):
latency from submit to both legs final (p50, p99), coordinated transactions per second on the
hub, and how many committed and aborted.

    causeway devnet up --manifest examples/devnet-three-chains.toml --dir /tmp/atomic-bench
    .venv/bin/python bench/atomic_transactions.py --devnet /tmp/atomic-bench \\
        --transactions 1000 --rate 10
    .venv/bin/python bench/atomic_transactions.py --devnet /tmp/atomic-bench --transactions 2000

Each transaction has a bank transfer of 1 token on chain-a (org1/client to org2/client) and a kv
write of a key of its own on chain-b (expect absent), so that nothing contends; the owners are
the devnet's org1/client members (``--kv-owners N``: chain-b's first N members own the kv legs in
turn, since a participant lets one owner hold at most 64 locks at once), the submitter the hub's.
Everything is signed up front; the begin transactions then go to the hub in batches, as fast
as it takes them or at ``--rate`` per second. The devnet's relayer carries the packets and
decisions.

While the run lasts, the bench only follows blocks (one stream per chain): a transaction counts
as ended when both participants' blocks hold an event ending its leg (confirmed, cancelled or
refused) naming its id. Then the figures come
from the records, read once each with their proofs: the hub's decision (its outcome and block
time) and each participant's leg record (the block time its leg ended). Latency is from the
wall-clock time the begin was submitted to the later of the two legs' end times (block times,
the same machine's clock); coordinated per second is the decisions over the span from the first
begin's block to the last decision's block.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from causeway.interchain.v1 import atomic_pb2
from causeway.provisioning import load_devnet_description
from causeway.sdk import Client, Identity
from causeway.sdk.atomic import build_body, sign_leg, transaction_id

DENOM = "bench"
# Below the hub's 10-minute maximum after its block time, with room for the run itself.
DEADLINE_AHEAD_MS_DEFAULT = 540_000
HEX_ID_LENGTH = 64
# A participant's events that end a leg (a refusal is final too).
END_EVENTS = frozenset({"atomic_confirmed", "atomic_cancelled", "atomic_refused"})


def member_client(directory: Path, chain_id: str, member_id: str) -> Client:
    chain = load_devnet_description(directory).chain(chain_id)
    (entry,) = (m for m in chain.members if m.member_id == member_id)
    return Client(chain.nodes[0].grpc_address, Identity.load(Path(entry.directory)), timeout_s=60.0)


def member_identity(directory: Path, chain_id: str, member_id: str) -> Identity:
    chain = load_devnet_description(directory).chain(chain_id)
    (entry,) = (m for m in chain.members if m.member_id == member_id)
    return Identity.load(Path(entry.directory))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def ids_named(values: Iterable[bytes | str], ours: set[bytes]) -> set[bytes]:
    """The ids of ours that an event's attributes name (as hex or raw), whatever their keys."""
    found: set[bytes] = set()
    for value in values:
        text = value
        if isinstance(value, bytes):
            if value in ours:
                found.add(value)
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                continue
        if isinstance(text, str) and len(text) == HEX_ID_LENGTH:
            try:
                raw = bytes.fromhex(text)
            except ValueError:
                continue
            if raw in ours:
                found.add(raw)
    return found


def registrars(directory: Path, chain_id: str, count: int) -> list[Identity]:
    """The first ``count`` members of the chain that may send kv transactions (CLIENT or ADMIN),
    to own the kv legs in turn: a participant lets one owner hold at most 64 locks at once
    (ATOMIC_LOCKS_PER_OWNER_MAX), so a load of many open transactions spreads them."""
    chain = load_devnet_description(directory).chain(chain_id)
    members = [m for m in chain.members if {"CLIENT", "ADMIN"} & set(m.roles)]
    if count > len(members):
        raise SystemExit(f"{chain_id} has {len(members)} members that may own kv legs, not {count}")
    return [Identity.load(Path(member.directory)) for member in members[:count]]


def legs(number: int, run: str, registrar: str) -> list[atomic_pb2.AtomicLeg]:
    return [
        atomic_pb2.AtomicLeg(
            chain_id="chain-a",
            owner="org1/client",
            bank_transfer=atomic_pb2.AtomicBankTransfer(
                from_account="org1/client", to_account="org2/client", denom=DENOM, amount=1
            ),
        ),
        atomic_pb2.AtomicLeg(
            chain_id="chain-b",
            owner=registrar,
            kv_write=atomic_pb2.AtomicKvWrite(
                key=f"bench/{run}/{number}".encode(), value=b"x", expect_absent=True
            ),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devnet", type=Path, required=True)
    parser.add_argument("--hub", default="hub")
    parser.add_argument("--transactions", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="transactions offered per second, in batches ten times a second (0: all at once)",
    )
    parser.add_argument(
        "--kv-owners",
        type=int,
        default=1,
        help="how many of chain-b's members own the kv legs in turn (each may hold 64 locks)",
    )
    parser.add_argument("--deadline-ahead-ms", type=int, default=DEADLINE_AHEAD_MS_DEFAULT)
    parser.add_argument("--wait-s", type=float, default=900.0)
    parser.add_argument("--out", type=Path)
    options = parser.parse_args()
    count = options.transactions
    run = os.urandom(4).hex()
    payer = member_identity(options.devnet, "chain-a", "org1/client")
    owners = registrars(options.devnet, "chain-b", options.kv_owners)
    with (
        member_client(options.devnet, "chain-a", "org1/admin") as admin,
        member_client(options.devnet, options.hub, "org1/client") as hub,
        member_client(options.devnet, "chain-a", "org1/client") as chain_a,
        member_client(options.devnet, "chain-b", "org1/client") as chain_b,
    ):
        admin.interchain.issue("org1/client", DENOM, count)
        status = hub.status()
        profile = status.crypto_profile
        hub_time_ms = hub.get_header(0).block.header.time_ms
        deadline_ms = hub_time_ms + options.deadline_ahead_ms

        signing_started = time.monotonic()
        bodies = []
        transactions = []
        for number in range(count):
            body = build_body(
                status.chain_id,
                legs(number, run, owners[number % len(owners)].member_id),
                deadline_ms=deadline_ms,
                nonce=os.urandom(16),
                memo=f"bench {run}",
            )
            authorisations = [
                sign_leg(payer, body, 0, hub_profile=profile),
                sign_leg(owners[number % len(owners)], body, 1, hub_profile=profile),
            ]
            bodies.append(body)
            transactions.append(
                hub.transaction(
                    "atomic",
                    "begin",
                    atomic_pb2.AtomicBeginArguments(body=body, authorisations=authorisations),
                    expiry_s=3_000,
                )
            )
        signing_s = time.monotonic() - signing_started
        ids = [transaction_id(body, profile) for body in bodies]
        ours = set(ids)

        ended: dict[str, set[bytes]] = {"chain-a": set(), "chain-b": set()}
        lock = threading.Lock()
        done = threading.Event()

        def follow(client: Client, chain: str, start_height: int) -> None:
            for event in client.follow_blocks(start_height, verify=False):
                for result in event.results:
                    for emitted in result.events:
                        if emitted.contract != "atomic" or emitted.name not in END_EVENTS:
                            continue
                        values: list[bytes | str] = [emitted.data]
                        values.extend(attribute.value for attribute in emitted.attributes)
                        named = ids_named(values, ours)
                        if named:
                            with lock:
                                ended[chain].update(named)
                with lock:
                    if all(len(found) >= count for found in ended.values()):
                        done.set()
                if done.is_set():
                    return

        for client, chain in ((chain_a, "chain-a"), (chain_b, "chain-b")):
            threading.Thread(
                target=follow, args=(client, chain, client.status().height + 1), daemon=True
            ).start()

        submitted_ms: list[int] = [0] * count
        refused = 0
        submit_started = time.monotonic()
        step = max(1, round(options.rate / 10)) if options.rate > 0 else options.batch
        for start in range(0, count, step):
            if options.rate > 0:
                due = submit_started + start / options.rate
                time.sleep(max(0.0, due - time.monotonic()))
            now_ms = int(time.time() * 1000)
            for index in range(start, min(count, start + step)):
                submitted_ms[index] = now_ms
            results = hub.submit_batch(transactions[start : start + step], wait=False)
            refused += sum(1 for result in results if result.error is not None)
        submit_s = time.monotonic() - submit_started
        # Legs are final only once an event names them; a participant's refusal is one too.
        finished = done.wait(timeout=options.wait_s)

        latencies: list[float] = []
        begun_times: list[int] = []
        decided_times: list[int] = []
        committed = aborted = undecided = unfinished = 0
        for index, identifier in enumerate(ids):
            try:
                record, decision = hub.atomic.get(identifier)
            except Exception:  # not begun (refused at submit or expired): counted apart
                undecided += 1
                continue
            begun_times.append(record.begun_time_ms)
            if decision is None:
                undecided += 1
                continue
            decided_times.append(decision.decided_time_ms)
            if decision.outcome == atomic_pb2.ATOMIC_OUTCOME_COMMIT:
                committed += 1
            else:
                aborted += 1
            ends: list[int] = []
            for leg, participant in ((0, chain_a), (1, chain_b)):
                result = participant.atomic.leg(status.chain_id, identifier, leg)
                state = result.record.state
                if state == atomic_pb2.ATOMIC_LEG_STATE_PREPARED or not result.HasField("record"):
                    ends = []
                    break
                ends.append(max(result.record.ended_time_ms, result.record.prepared_time_ms))
            if not ends:
                unfinished += 1
                continue
            latencies.append((max(ends) - submitted_ms[index]) / 1000)
        span_s = (max(decided_times) - min(begun_times)) / 1000 if decided_times else 0.0
        report = {
            "transactions": count,
            "kv_owners": options.kv_owners,
            "offered_per_s": options.rate or None,
            "refused_at_submit": refused,
            "finished": finished,
            "committed": committed,
            "aborted": aborted,
            "undecided": undecided,
            "legs_not_final": unfinished,
            "signing_s": round(signing_s, 2),
            "submit_s": round(submit_s, 2),
            "span_s": round(span_s, 2),
            "coordinated_per_s": round((committed + aborted) / span_s, 1) if span_s else None,
            "latency_p50_s": round(statistics.median(latencies), 2) if latencies else None,
            "latency_p99_s": round(percentile(latencies, 0.99), 2) if latencies else None,
            "latency_max_s": round(max(latencies), 2) if latencies else None,
        }
        text = json.dumps(report, indent=2)
        print(text)
        if options.out is not None:
            options.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

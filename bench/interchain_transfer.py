"""Transfers from one chain to another through a relayer: sustained packets per second and the
latency from sending to acknowledgement, read from the sending chain's own blocks.

    causeway devnet up --manifest bench/interchain-two-chains.toml --dir /tmp/ib
    .venv/bin/python bench/interchain_transfer.py --devnet /tmp/ib [--transfers 10000] [--rate 300]

The devnet's relayer carries the packets (as `devnet up` started it). The sender (the first
organisation's client member on the sending chain) is issued the tokens, then the transfers are
signed up front and submitted in batches as fast as the node takes them, or at ``--rate`` per
second. Every figure comes from the sending chain's blocks, followed from the first one: a packet
is sent at the time of the block that holds its "send_packet" event and acknowledged at the time
of the block that holds its "acknowledge_packet" event; throughput counts the packets
acknowledged over the time from the first send to the last acknowledgement.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

from causeway.bench import (
    VERIFY_SAMPLE_MAX,
    VERIFY_SAMPLE_MIN,
    measure_verify_rate,
    verification_items,
)
from causeway.interchain.v1 import interchain_pb2
from causeway.provisioning import load_devnet_description
from causeway.sdk import Client, Identity

DENOM = "bench"
TIMEOUT_AHEAD_MS = 60 * 60_000


def member_client(directory: Path, chain_id: str, member_id: str) -> Client:
    chain = load_devnet_description(directory).chain(chain_id)
    (entry,) = (m for m in chain.members if m.member_id == member_id)
    return Client(chain.nodes[0].grpc_address, Identity.load(Path(entry.directory)), timeout_s=60.0)


def source_client(directory: Path, sender: str, receiver: str) -> str:
    for link in load_devnet_description(directory).links:
        if link.chains == (sender, receiver):
            return link.clients[0]
        if link.chains == (receiver, sender):
            return link.clients[1]
    raise SystemExit(f"the devnet has no link between {sender} and {receiver}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devnet", type=Path, required=True)
    parser.add_argument("--from-chain", default="chain-a")
    parser.add_argument("--to-chain", default="chain-b")
    parser.add_argument("--transfers", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="transfers offered per second, in batches ten times a second (0: all at once)",
    )
    parser.add_argument("--out", type=Path)
    options = parser.parse_args()
    client_id = source_client(options.devnet, options.from_chain, options.to_chain)
    # What the receiver holds: a voucher named after its own client of the sending chain.
    voucher = (
        f"transfer/{source_client(options.devnet, options.to_chain, options.from_chain)}/{DENOM}"
    )
    with (
        member_client(options.devnet, options.from_chain, "org1/admin") as admin,
        member_client(options.devnet, options.from_chain, "org1/client") as sender,
        member_client(options.devnet, options.from_chain, "org1/client") as follower,
        member_client(options.devnet, options.to_chain, "org1/client") as receiver,
    ):
        admin.interchain.issue("org1/client", DENOM, options.transfers)
        start_height = sender.status().height + 1
        receiver_time = receiver.get_block(receiver.status().height).block.header.time_ms
        sent_at: dict[int, int] = {}
        acknowledged_at: dict[int, int] = {}
        done = threading.Event()

        # This run's transfers, by transaction id: packets that other runs left in flight on
        # the link are acknowledged too, and must not count.
        ours: set[bytes] = set()

        def follow() -> None:
            for event in follower.follow_blocks(start_height, verify=False):
                block_time = event.block.header.time_ms
                for result in event.results:
                    for emitted in result.events:
                        if emitted.contract != "packets":
                            continue
                        attributes = {a.key: a.value for a in emitted.attributes}
                        if attributes.get("source_client") != client_id:
                            continue
                        sequence = int(attributes["sequence"])
                        if emitted.name == "send_packet" and result.transaction_id in ours:
                            sent_at[sequence] = block_time
                        elif emitted.name == "acknowledge_packet" and sequence in sent_at:
                            acknowledged_at[sequence] = block_time
                if len(acknowledged_at) >= options.transfers:
                    done.set()
                    return

        arguments = interchain_pb2.TransferSendArguments(
            source_client=client_id,
            denom=DENOM,
            amount=1,
            receiver="org1/client",
            timeout_ms=receiver_time + TIMEOUT_AHEAD_MS,
        )
        signing_started = time.monotonic()
        transactions = [
            sender.transaction("transfer", "send", arguments, expiry_s=3_000)
            for _ in range(options.transfers)
        ]
        signing_s = time.monotonic() - signing_started
        ours.update(sender.transaction_id(transaction) for transaction in transactions)
        # The machine's speed in this sitting (it moves by up to 2x between sittings here): the
        # P-256 verifications per second of its cores over these transfers, as causeway bench
        # reports beside its figures, so that runs of different days can be compared.
        verify_rate = None
        if len(transactions) >= VERIFY_SAMPLE_MIN and sender.identity is not None:
            verify_rate = measure_verify_rate(
                verification_items(
                    [t.SerializeToString() for t in transactions[:VERIFY_SAMPLE_MAX]],
                    sender.identity.key.public_key(),
                    sender.chain_id(),
                )
            )
        thread = threading.Thread(target=follow, daemon=True)
        thread.start()
        submit_started = time.monotonic()
        refused = 0
        # Paced: a tenth of a second's worth at a time, each batch at its due time.
        step = max(1, round(options.rate / 10)) if options.rate > 0 else options.batch
        for start in range(0, len(transactions), step):
            if options.rate > 0:
                due = submit_started + start / options.rate
                time.sleep(max(0.0, due - time.monotonic()))
            results = sender.submit_batch(transactions[start : start + step], wait=False)
            refused += sum(1 for result in results if result.error is not None)
        submit_s = time.monotonic() - submit_started
        finished = done.wait(timeout=max(600.0, options.transfers / 5))
        ended = [s for s in sent_at if s in acknowledged_at]
        latencies = [(acknowledged_at[s] - sent_at[s]) / 1000 for s in ended]
        span_s = (max(acknowledged_at.values()) - min(sent_at.values())) / 1000 if ended else 0
        report = {
            "transfers": options.transfers,
            "offered_per_s": options.rate or None,
            "refused_at_submit": refused,
            "acknowledged": len(ended),
            "finished": finished,
            "signing_s": round(signing_s, 2),
            "submit_s": round(submit_s, 2),
            "span_s": round(span_s, 2),
            "packets_per_s": round(len(ended) / span_s, 1) if span_s else None,
            "latency_p50_s": round(statistics.median(latencies), 2) if latencies else None,
            "latency_p99_s": round(percentile(latencies, 0.99), 2) if latencies else None,
            "latency_max_s": round(max(latencies), 2) if latencies else None,
            "verify_rate_per_s": round(verify_rate) if verify_rate is not None else None,
            "receiver_balance": receiver.interchain.balance(
                "org1/client",
                voucher,
            ),
        }
        text = json.dumps(report, indent=2)
        print(text)
        if options.out is not None:
            options.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""What one light-client update costs the chain that keeps the client: gas and the CPU time of
executing the update transaction, for counterparties of 4 and 16 validators in P-256 and SM2.

    .venv/bin/python bench/interchain_client_update.py [--updates 20]

Runs in one process on the simulator's chain model (causeway.sim.chain: the real executor, the
real clients contract, headers signed by real keys). The time is the executor's alone, per update
transaction (header checks, every signature of the certificate verified, the consensus state
written), the median over ``--updates`` adjacent updates; a node adds admission (the relayer's own
signature), consensus and the write, which do not depend on the counterparty's size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from causeway.execution import CONTRACTS
from causeway.interchain import INTERCHAIN_CONTRACTS
from causeway.interchain.v1 import interchain_pb2
from causeway.sim.chain import Clock, InterchainChain, check_ok

TRUSTING_PERIOD_MS = 3_600_000


def measure(profile: str, validators: int, updates: int) -> dict[str, object]:
    clock = Clock()
    contracts = {**CONTRACTS, **INTERCHAIN_CONTRACTS}
    home = InterchainChain("home", contracts=contracts, clock=clock)
    remote = InterchainChain("remote", profile, validators=validators, organisations=4, clock=clock)
    remote.advance(1)
    created = check_ok(
        home.governance(
            "clients",
            "create",
            interchain_pb2.ClientsCreateArguments(
                chain_id=remote.chain_id,
                genesis_hash=remote.genesis_hash,
                consensus=remote.consensus,
                crypto_profile=remote.profile_name,
                trusting_period_ms=TRUSTING_PERIOD_MS,
                clock_drift_ms=10_000,
                header=remote.client_header(),
            ),
        )
    )
    client_id = interchain_pb2.ClientsCreateResult.FromString(created.return_value).client_id
    seconds: list[float] = []
    gas: list[int] = []
    for _ in range(updates):
        trusted = remote.height
        remote.advance(1)
        transaction = home.transaction(
            "org1/relayer",
            "clients",
            "update",
            interchain_pb2.ClientsUpdateArguments(
                client_id=client_id, header=remote.client_header(trusted_height=trusted)
            ),
        )
        started = time.process_time()
        committed = home.commit([transaction])
        seconds.append(time.process_time() - started)
        result = check_ok(committed.results[0])
        gas.append(result.cost.gas_used)
    return {
        "profile": profile,
        "algorithm": "ecdsa-p256" if profile == "intl" else "sm2",
        "validators": validators,
        "gas": statistics.median(gas),
        "cpu_ms_median": round(1000 * statistics.median(seconds), 2),
        "cpu_ms_max": round(1000 * max(seconds), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=20)
    options = parser.parse_args()
    rows = [
        measure(profile, validators, options.updates)
        for profile in ("intl", "gm")
        for validators in (4, 16)
    ]
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

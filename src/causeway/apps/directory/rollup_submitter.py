"""What carries district directories up to the city's (docs/directory.md, "Three levels"): a
relayer-like round that finds the district resource versions the city has not rolled up yet,
moves the city chain's client of the district chain to a height the district's validators
certified, and submits each version with the district node's proof of it at that height.

Like the relayer (``causeway.interchain.relaying``), it holds no state that matters: each round
starts from the chains' own (the district contract's resource heads, the city contract's
rolled-up heads, the client's latest height), so a submitter that crashed, restarted or runs
beside another does the right thing, and at worst repeats a submission that the city contract
then answers as already rolled up. It is untrusted: the city contract checks every record
against the district chain's state root its client verified; all it can do wrong is not submit.

I/O goes through ``causeway.interchain.relaying.ChainEndpoint`` (the SDK's for the
``causeway directory rollup`` process, the simulator's chains in the tests). One round, for each
district code the submitter serves:

1. The city's registration of the district (``get_district``): its chain, the city's client of
   it and the district contract's name. A district chain endpoint of another chain id is an
   error of the configuration, reported and skipped.
2. The district's resource heads and the city's rolled-up heads, both in code order, merged:
   every version above the city's head up to the district's latest is pending, oldest first
   (the city contract keeps only a later version than its head, so the history goes up in
   order), at most ``round_versions_max`` a round.
3. The client's updates to the district's newest certified height (the relayer's
   ``plan_updates``), submitted first; then each pending version that the district chain holds
   at that height, proven there, one ``rollup_resource`` transaction each, submitted together
   and waited for. A version registered after that height waits for the next round.

The ``causeway directory rollup --config FILE`` process reads a TOML file (``load_rollup_config``)::

    [rollup]
    city = "beijing"          # the city chain: one of the [chains.ID] tables
    contract = "directory"    # the city directory contract's name
    districts = ["HD", "CY"]  # the district codes to roll up; each one's chain is the city's
    interval_ms = 2000        # registration of it (get_district), read from [chains.<its id>]
    round_versions_max = 200

    [chains.beijing]          # nodes, identity (the member that signs on the city), tls_*: the
    nodes = ["127.0.0.1:7050"]    # relayer's file (docs/cli.md)
    identity = "members/rollup"

    [chains.haidian]          # a district chain: its nodes and an identity that may read
    nodes = ["127.0.0.1:7150"]
    identity = "haidian-members/reader"
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from causeway.apps.directory.contract import CONTRACT_NAME, decode_result
from causeway.apps.directory.rollup import district_resource_key, rollup_arguments
from causeway.apps.directory.v1 import directory_pb2
from causeway.errors import CausewayError, ConfigurationError, RequestError
from causeway.interchain.relayer.config import (
    ChainSettings,
    TableReader,
    chain_settings,
    read_config_file,
)
from causeway.interchain.relayer.endpoint import SdkEndpoint
from causeway.interchain.relaying import ChainEndpoint, Relayer
from causeway.interchain.v1 import interchain_pb2
from causeway.types import decode
from causeway.types.v1 import types_pb2

# The contract's page size bound (list_resources, list_rollups).
PAGE_LIMIT = 100
ROUND_VERSIONS_DEFAULT = 200
ROUND_VERSIONS_MAX = 2_000
# A ClientsGetResult is a client and a consensus state: small.
CLIENT_RESULT_BYTES_MAX = 64 * 1024
DISTRICTS_MAX = 64
INTERVAL_MS_DEFAULT = 2_000
INTERVAL_MS_MAX = 3_600_000
_ROLLUP_KEYS = ("city", "contract", "districts", "interval_ms", "round_versions_max")


@dataclass(frozen=True, slots=True)
class RollupConfig:
    path: Path
    city: ChainSettings
    contract: str
    districts: tuple[str, ...]
    # Every other [chains.ID] table: the district chains, by chain id.
    chains: Mapping[str, ChainSettings]
    interval_ms: int = INTERVAL_MS_DEFAULT
    round_versions_max: int = ROUND_VERSIONS_DEFAULT


def load_rollup_config(path: Path | str) -> RollupConfig:
    """The roll-up process's file (see the module docstring), checked whole; a
    ConfigurationError names the file, the table and the key."""
    path = Path(path)
    document = read_config_file(path, ("rollup", "chains"), "[rollup], [chains.ID]")
    rollup = TableReader(path, "rollup", document.get("rollup", {}))
    rollup.check_keys(_ROLLUP_KEYS)
    city_id = rollup.text("city", characters_max=64)
    contract = rollup.values.get("contract", CONTRACT_NAME)
    if not isinstance(contract, str) or not contract:
        raise rollup.error("contract", "must be a contract's name")
    districts = rollup.values.get("districts")
    if (
        not isinstance(districts, list)
        or not districts
        or not all(isinstance(code, str) and code for code in districts)
    ):
        raise rollup.error("districts", 'must be a non-empty list of district codes ("HD")')
    if len(districts) > DISTRICTS_MAX:
        raise rollup.error("districts", f"lists {len(districts)}, above {DISTRICTS_MAX}")
    if len(set(districts)) != len(districts):
        raise rollup.error("districts", "lists a district twice")
    chains = TableReader(path, "chains", document.get("chains", {}))
    settings = {
        chain_id: chain_settings(path, chain_id, values)
        for chain_id, values in chains.values.items()
    }
    if city_id not in settings:
        raise rollup.error("city", f"names {city_id!r}, which has no [chains.{city_id}] table")
    city = settings.pop(city_id)
    return RollupConfig(
        path=path,
        city=city,
        contract=contract,
        districts=tuple(districts),
        chains=settings,
        interval_ms=rollup.integer("interval_ms", INTERVAL_MS_DEFAULT, 100, INTERVAL_MS_MAX),
        round_versions_max=rollup.integer(
            "round_versions_max", ROUND_VERSIONS_DEFAULT, 1, ROUND_VERSIONS_MAX
        ),
    )


@dataclass(frozen=True, slots=True)
class PendingVersion:
    code: str
    version: int


@dataclass(slots=True)
class DistrictReport:
    """What one round did for one district."""

    district_code: str
    pending: int = 0
    client_height: int = 0
    client_updates: int = 0
    rolled_up: list[PendingVersion] = field(default_factory=list)
    # Versions the district chain did not hold yet at the proven height.
    waiting: int = 0
    refused: list[str] = field(default_factory=list)
    error: str = ""

    def to_document(self) -> dict[str, object]:
        return {
            "district": self.district_code,
            "pending": self.pending,
            "client_height": self.client_height,
            "client_updates": self.client_updates,
            "rolled_up": [f"{each.code}@{each.version}" for each in self.rolled_up],
            "waiting": self.waiting,
            "refused": list(self.refused),
            "error": self.error,
        }


def pending_versions(
    district_heads: Sequence[directory_pb2.ResourceHead],
    city_heads: Mapping[str, int],
    limit: int,
) -> list[PendingVersion]:
    """Every district version above the city's rolled-up head of its code, oldest first within a
    code and codes in the order given, at most ``limit``."""
    pending: list[PendingVersion] = []
    for head in district_heads:
        for version in range(city_heads.get(head.code, 0) + 1, head.latest_version + 1):
            if len(pending) == limit:
                return pending
            pending.append(PendingVersion(head.code, version))
    return pending


class RollupSubmitter:
    """Rolls the districts ``districts`` (code → the district chain's endpoint) up into the
    directory contract ``contract`` on ``city``, one round at a time (``run_round``)."""

    def __init__(
        self,
        city: ChainEndpoint,
        districts: Mapping[str, ChainEndpoint],
        *,
        contract: str = CONTRACT_NAME,
        round_versions_max: int = ROUND_VERSIONS_DEFAULT,
    ) -> None:
        if not 1 <= round_versions_max <= ROUND_VERSIONS_MAX:
            raise ValueError(
                f"round_versions_max {round_versions_max} is not from 1 to {ROUND_VERSIONS_MAX}"
            )
        self.city = city
        self.districts = dict(districts)
        self.contract = contract
        self.round_versions_max = round_versions_max
        self._relayer = Relayer()

    # -- reads -------------------------------------------------------------------------------------

    def district(self, code: str) -> directory_pb2.District:
        found = decode_result(
            "get_district",
            self.city.query(
                self.contract, "get_district", directory_pb2.GetDistrictArguments(code=code)
            ),
        )
        assert isinstance(found, directory_pb2.District)
        return found

    def _district_heads(
        self, endpoint: ChainEndpoint, contract: str
    ) -> Iterator[directory_pb2.ResourceHead]:
        start_after = ""
        while True:
            page = decode_result(
                "list_resources",
                endpoint.query(
                    contract,
                    "list_resources",
                    directory_pb2.ListResourcesArguments(start_after=start_after, limit=PAGE_LIMIT),
                ),
            )
            assert isinstance(page, directory_pb2.ListResourcesResult)
            yield from page.heads
            if not page.next:
                return
            start_after = page.next

    def city_heads(self, district_code: str) -> dict[str, int]:
        """The city's rolled-up heads of one district: code → latest rolled-up version."""
        heads: dict[str, int] = {}
        start_after = ""
        while True:
            page = decode_result(
                "list_rollups",
                self.city.query(
                    self.contract,
                    "list_rollups",
                    directory_pb2.ListRollupsArguments(
                        district_code=district_code, start_after=start_after, limit=PAGE_LIMIT
                    ),
                ),
            )
            assert isinstance(page, directory_pb2.ListRollupsResult)
            heads.update((head.code, head.latest_version) for head in page.heads)
            if not page.next:
                return heads
            start_after = page.next

    def _client(self, client_id: str) -> interchain_pb2.ClientsGetResult:
        data = self.city.query(
            "clients", "get", interchain_pb2.ClientsGetArguments(client_id=client_id)
        )
        return decode(interchain_pb2.ClientsGetResult, data, bytes_max=CLIENT_RESULT_BYTES_MAX)

    # -- a round -----------------------------------------------------------------------------------

    def run_round(self) -> list[DistrictReport]:
        """One round over every district; a district's failure is its report's ``error`` and
        does not stop the others."""
        reports = []
        for code, endpoint in self.districts.items():
            report = DistrictReport(code)
            try:
                self._roll_up(code, endpoint, report)
            except CausewayError as error:
                report.error = error.message
            reports.append(report)
        return reports

    def _roll_up(self, code: str, endpoint: ChainEndpoint, report: DistrictReport) -> None:
        district = self.district(code)
        if district.chain_id != endpoint.chain_id:
            raise RequestError(
                f"district {code} is registered on the city with chain {district.chain_id!r}, "
                f"but its endpoint serves {endpoint.chain_id!r}"
            )
        pending = pending_versions(
            list(self._district_heads(endpoint, district.contract_name)),
            self.city_heads(code),
            self.round_versions_max,
        )
        report.pending = len(pending)
        if not pending:
            return
        client = self._client(district.client_id)
        if client.status != "active":
            raise RequestError(
                f"the city's client {district.client_id} of {district.chain_id} is "
                f"{client.status}: roll-ups wait until it is recovered"
            )
        height, updates = self._relayer.plan_updates(endpoint, client)
        report.client_height = height
        if updates:
            for result in self.city.submit_all("clients", "update", updates):
                if result.status != types_pb2.RESULT_STATUS_OK:
                    raise RequestError(f"updating {district.client_id} failed: {result.error}")
            report.client_updates = len(updates)
        keys = [
            district_resource_key(district.contract_name, each.code, each.version)
            for each in pending
        ]
        arguments = []
        proven = []
        for each, key, (value, proof) in zip(
            pending, keys, endpoint.prove(keys, height), strict=True
        ):
            if value is None:
                report.waiting += 1
                continue
            arguments.append(rollup_arguments(code, key, value, height, proof))
            proven.append(each)
        if not arguments:
            return
        results = self.city.submit_all(self.contract, "rollup_resource", arguments)
        for each, result in zip(proven, results, strict=True):
            if result.status == types_pb2.RESULT_STATUS_OK:
                report.rolled_up.append(each)
            else:
                report.refused.append(f"{each.code}@{each.version}: {result.error}")


def build_submitter(config: RollupConfig) -> tuple[RollupSubmitter, list[SdkEndpoint]]:
    """The submitter of ``config`` over the SDK, with the endpoints to close after it: each
    district's chain as the city registered it, from the table of that chain. A district the
    city does not know, or whose chain has no table, is a ConfigurationError naming it."""
    city = SdkEndpoint.from_settings(config.city)
    endpoints = [city]
    try:
        probe = RollupSubmitter(city, {}, contract=config.contract)
        districts: dict[str, ChainEndpoint] = {}
        for code in config.districts:
            try:
                registered = probe.district(code)
            except RequestError as error:
                raise ConfigurationError(
                    f"{config.path}: district {code}: the city's {config.contract} does not "
                    f"answer for it: {error.message}"
                ) from None
            settings = config.chains.get(registered.chain_id)
            if settings is None:
                raise ConfigurationError(
                    f"{config.path}: district {code} is on chain {registered.chain_id!r}, which "
                    f"has no [chains.{registered.chain_id}] table"
                )
            endpoint = SdkEndpoint.from_settings(settings)
            endpoints.append(endpoint)
            districts[code] = endpoint
    except BaseException:
        for endpoint in endpoints:
            endpoint.close()
        raise
    submitter = RollupSubmitter(
        city, districts, contract=config.contract, round_versions_max=config.round_versions_max
    )
    return submitter, endpoints


def run_rounds(
    submitter: RollupSubmitter,
    endpoints: Sequence[SdkEndpoint],
    interval_s: float,
    stop: threading.Event,
    on_round: Callable[[list[DistrictReport]], None],
) -> int:
    """Rounds every ``interval_s`` until ``stop`` is set (the round in progress is finished
    first), each reading the chains afresh; ``on_round`` gets each round's reports. Answers how
    many rounds ran."""
    rounds = 0
    while not stop.is_set():
        for endpoint in endpoints:
            endpoint.begin_round()
        on_round(submitter.run_round())
        rounds += 1
        stop.wait(interval_s)
    return rounds

"""A directory put on a chain of a devnet and filled with the generated catalogue
(``catalogue``): what the directory demo (scripts/demo_directory.py) and the registration
benchmark (bench/directory_registration.py) do, over the SDK.

``DirectoryLoader`` holds a client per member of the chain it is asked for (each signs its own
calls) and submits through the first administrator's node connection, many transactions per
``SubmitBatch``, several batches in flight at once, every result checked. Departments are placed
one organisation each, from org2 on: org1 administers the directory, and the contract lets an
organisation act for one department only.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import Message

from causeway.apps.directory import catalogue
from causeway.apps.directory.client import DirectoryClient
from causeway.apps.directory.contract import CONTRACT_NAME, decode_result, encode_arguments
from causeway.apps.directory.v1 import directory_pb2
from causeway.errors import CausewayError, NotFoundError
from causeway.provisioning.interchain_devnet import ChainEntry
from causeway.provisioning.links import governing_admins
from causeway.sdk import Client, Identity
from causeway.types.v1 import types_pb2

ADMINISTRATOR = "org1"
BATCH_DEFAULT = 100
IN_FLIGHT_DEFAULT = 1
TIMEOUT_S = 120.0

# (member, method, arguments): one call of the directory contract, signed by the member.
Call = tuple[str, str, Message]


@dataclass(frozen=True, slots=True)
class Registered:
    code: str
    department: directory_pb2.Department
    metadata: directory_pb2.ResourceMetadata


def _organisation_number(name: str) -> int:
    digits = name.removeprefix("org")
    return int(digits) if digits.isdigit() else 0


class DirectoryLoader:
    """One chain of a devnet, as its members act on its directory contract."""

    def __init__(self, chain: ChainEntry, *, timeout_s: float = TIMEOUT_S) -> None:
        self.chain = chain
        self.address = chain.nodes[0].grpc_address
        self.timeout_s = timeout_s
        self.members = {member.member_id: Path(member.directory) for member in chain.members}
        self.organisations = sorted(
            {member_id.split("/")[0] for member_id in self.members}, key=_organisation_number
        )
        self._clients: dict[str, Client] = {}
        self.admin = self.client(f"{ADMINISTRATOR}/admin")

    def client(self, member_id: str) -> Client:
        if member_id not in self._clients:
            if member_id not in self.members:
                raise NotFoundError(f"chain {self.chain.id} has no member {member_id}")
            self._clients[member_id] = Client(
                self.address, Identity.load(self.members[member_id]), timeout_s=self.timeout_s
            )
        return self._clients[member_id]

    def endorsers(self) -> list[Identity]:
        """The other governing organisations' admins, as many as a majority of them needs."""
        admins = governing_admins(self.chain)
        return [Identity.load(path) for path in admins[1 : len(admins) // 2 + 1]]

    def department_capacity(self) -> int:
        """How many departments the chain's organisations can act for (one each, org1 aside;
        org1 itself on a chain of one organisation)."""
        return max(1, len(self.organisations) - 1)

    def department_organisation(self, number: int) -> str:
        others = self.organisations[1:] or self.organisations
        if number >= len(others):
            raise CausewayError(
                f"chain {self.chain.id} has {len(self.organisations)} organisations: too few for "
                f"department {number + 1} (one organisation each, org1 aside)"
            )
        return others[number]

    def deployed(self) -> bool:
        try:
            self.admin.contracts.get_contract(CONTRACT_NAME)
        except NotFoundError:
            return False
        return True

    def submit(
        self,
        calls: Sequence[Call],
        what: str,
        *,
        batch: int = BATCH_DEFAULT,
        in_flight: int = IN_FLIGHT_DEFAULT,
    ) -> list[types_pb2.TransactionResult]:
        """Each call signed by its member and submitted, ``batch`` a SubmitBatch with up to
        ``in_flight`` batches waiting at once; the results in the calls' order. Every one must
        be committed and succeed (CausewayError naming ``what`` otherwise)."""
        chunks = [list(calls[start : start + batch]) for start in range(0, len(calls), batch)]

        def send(chunk: list[Call]) -> list[types_pb2.TransactionResult]:
            transactions = [
                self.client(member).transaction(
                    CONTRACT_NAME, method, encode_arguments(method, arguments)
                )
                for member, method, arguments in chunk
            ]
            results = []
            for submitted in self.admin.submit_batch(transactions, timeout_s=self.timeout_s):
                if not submitted.committed or submitted.result is None:
                    raise CausewayError(f"{what}: a transaction was not committed in time")
                if submitted.result.status != types_pb2.RESULT_STATUS_OK:
                    raise CausewayError(f"{what} failed: {submitted.result.error}")
                results.append(submitted.result)
            return results

        if in_flight <= 1:
            return [result for chunk in chunks for result in send(chunk)]
        # Clients are made before the threads share them (the dictionary is not locked).
        for member, _, _ in calls:
            self.client(member)
        with ThreadPoolExecutor(max_workers=in_flight) as pool:
            return [result for chunk_results in pool.map(send, chunks) for result in chunk_results]

    def deploy(
        self, module: bytes, interface: str, settings: directory_pb2.DirectoryInitArguments
    ) -> None:
        DirectoryClient(self.admin).deploy(module, interface, settings, endorsers=self.endorsers())

    def set_scheme(self) -> int:
        """The generated classification scheme, a level at a time (parents first)."""
        scheme = catalogue.categories()
        for level in sorted({category.level for category in scheme}):
            self.submit(
                [
                    (
                        f"{ADMINISTRATOR}/admin",
                        "set_category",
                        directory_pb2.SetCategoryArguments(category=category),
                    )
                    for category in scheme
                    if category.level == level
                ],
                "the classification scheme",
            )
        return len(scheme)

    def set_departments(
        self, departments: Sequence[directory_pb2.Department]
    ) -> list[directory_pb2.Department]:
        """The departments, each placed with an organisation of its own; as recorded."""
        placed = []
        for number, department in enumerate(departments):
            copy = directory_pb2.Department()
            copy.CopyFrom(department)
            copy.organisation = self.department_organisation(number)
            placed.append(copy)
        self.submit(
            [
                (
                    f"{ADMINISTRATOR}/admin",
                    "set_department",
                    directory_pb2.SetDepartmentArguments(department=department),
                )
                for department in placed
            ],
            "the departments",
        )
        return placed

    def registrations(
        self, departments: Sequence[directory_pb2.Department], count: int, seed: int
    ) -> tuple[list[catalogue.GeneratedResource], list[Call]]:
        """``count`` generated resources of ``departments`` and the calls that register them,
        each signed by its department's client member."""
        generated = list(catalogue.resources(list(departments), count, seed=seed))
        calls: list[Call] = [
            (
                f"{each.department.organisation}/client",
                "register_resource",
                directory_pb2.RegisterResourceArguments(metadata=each.metadata),
            )
            for each in generated
        ]
        return generated, calls

    def register(
        self,
        departments: Sequence[directory_pb2.Department],
        count: int,
        *,
        seed: int,
        batch: int = BATCH_DEFAULT,
        in_flight: int = IN_FLIGHT_DEFAULT,
    ) -> list[Registered]:
        generated, calls = self.registrations(departments, count, seed)
        results = self.submit(calls, "registering the catalogue", batch=batch, in_flight=in_flight)
        registered = []
        for each, result in zip(generated, results, strict=True):
            answer = decode_result("register_resource", result.return_value)
            assert isinstance(answer, directory_pb2.RegisterResourceResult)
            registered.append(Registered(answer.code, each.department, each.metadata))
        return registered

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

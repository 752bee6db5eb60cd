"""The directory service (docs/directory.md): one process that follows a directory contract's
events from a node into its search index and serves, over that index, the CKAN-compatible Action
API (``ckan.py``), the DCAT 3 export (``dcat.py``) and the web interface (``web.py``), signing
what staff submit with the identities of the members it acts for.

The configuration file (TOML)::

    [service]
    contract = "directory"          # the contract's name on the chain
    index = "sqlite:index.sqlite3"  # or "postgresql:host=/run/postgresql dbname=directory"
    listen = "127.0.0.1:8900"       # loopback unless an operator decides otherwise
    site_url = "https://directory.example.gov.cn"   # optional: links in the API and DCAT
    escalate_every_s = 60           # overdue requests escalated this often (0: never)

    [chains.city]                   # one table: the chain's id; nodes, identity, tls_* as the
    nodes = ["127.0.0.1:7050"]      # relayer's file (docs/cli.md), the identity reads and follows
    identity = "members/reader"

    [[members]]                     # members whose staff the service signs for (their tokens:
    identity = "members/police-clerk"   # `causeway directory token`), at most 256

Relative paths are relative to the file's folder; every mistake is a ConfigurationError naming
the file, the table and the key.

The index holds nothing the chain does not: the follower applies every event after the index's
own checkpoint (kept in the same database transaction as the rows), so a restart, a crash or a
``rebuild`` from the chain gives the same index (docs/directory.md). API tokens live in the index
database, hashed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from causeway.apps.directory.ckan import ClientSubmitter, Submitter, create_ckan_app
from causeway.apps.directory.client import DirectoryClient
from causeway.apps.directory.contract import CONTRACT_NAME
from causeway.apps.directory.dcat import (
    CATALOG_PAGE_SIZE,
    CatalogContext,
    CatalogEntry,
    DcatError,
    catalog_graph,
    dataset_graph,
    format_of,
    serialise,
)
from causeway.apps.directory.index import DirectoryIndex, IndexStore, PostgresStore, SqliteStore
from causeway.apps.directory.v1 import directory_pb2
from causeway.apps.directory.web import ClientNodeReader, web_routes
from causeway.errors import CausewayError, ConfigurationError, NotFoundError, RequestError
from causeway.interchain.relayer.config import (
    ChainSettings,
    TableReader,
    chain_settings,
    read_config_file,
)
from causeway.interchain.relayer.endpoint import channel_credentials
from causeway.sdk import Client, Identity

MEMBERS_MAX = 256
LISTEN_DEFAULT = "127.0.0.1:8900"
PORT_MAX = 65_535
# How long the follower waits before it opens the stream again after a failure it did not
# expect (the SDK itself reconnects to a node that went away).
FOLLOW_RETRY_S = 2.0
_SERVICE_KEYS = ("contract", "index", "listen", "site_url", "escalate_every_s")
ESCALATE_EVERY_S_DEFAULT = 60
ESCALATE_EVERY_S_MAX = 86_400
# The contract decides by its block time: a request is escalated this long after its answer
# time by the service's clock, so that a block dated a little behind it does not refuse it.
ESCALATE_MARGIN_MS = 10_000
_MEMBER_KEYS = ("identity",)


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    path: Path
    contract: str
    index: str
    listen_host: str
    listen_port: int
    site_url: str
    chain: ChainSettings
    members: Mapping[str, Identity]
    escalate_every_s: int = ESCALATE_EVERY_S_DEFAULT


def _listen(reader: TableReader, text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= PORT_MAX:
        raise reader.error("listen", f'must be "HOST:PORT" with a port from 1 to {PORT_MAX}')
    return host.strip("[]"), int(port)


def _index(reader: TableReader, text: str, folder: Path) -> str:
    kind, _, rest = text.partition(":")
    if kind == "sqlite" and rest:
        path = Path(rest)
        return f"sqlite:{path if path.is_absolute() else folder / path}"
    if kind == "postgresql" and rest:
        return text
    raise reader.error("index", 'must be "sqlite:PATH" or "postgresql:CONNINFO"')


def load_service_config(path: Path | str) -> ServiceConfig:
    """The service's file, checked whole (see the module docstring)."""
    path = Path(path)
    document = read_config_file(
        path, ("service", "chains", "members"), "[service], [chains.ID], [[members]]"
    )
    folder = path.parent
    service = TableReader(path, "service", document.get("service", {}))
    service.check_keys(_SERVICE_KEYS)
    contract = service.values.get("contract", CONTRACT_NAME)
    if not isinstance(contract, str) or not contract:
        raise service.error("contract", "must be a contract's name")
    index_text = service.values.get("index")
    if not isinstance(index_text, str):
        raise service.error("index", 'is required: "sqlite:PATH" or "postgresql:CONNINFO"')
    listen_text = service.values.get("listen", LISTEN_DEFAULT)
    if not isinstance(listen_text, str):
        raise service.error("listen", 'must be "HOST:PORT"')
    host, port = _listen(service, listen_text)
    site_url = service.values.get("site_url", f"http://{listen_text}")
    if not isinstance(site_url, str) or not site_url.startswith(("http://", "https://")):
        raise service.error("site_url", "must be an http:// or https:// address")
    chains = TableReader(path, "chains", document.get("chains", {}))
    if len(chains.values) != 1:
        raise ConfigurationError(f"{path}: [chains] must name exactly one chain, the directory's")
    ((chain_id, chain_values),) = chains.values.items()
    chain = chain_settings(path, chain_id, chain_values)
    member_tables = document.get("members", [])
    if not isinstance(member_tables, list):
        raise ConfigurationError(f"{path}: [[members]] must be an array of tables")
    if len(member_tables) > MEMBERS_MAX:
        raise ConfigurationError(
            f"{path}: [[members]] lists {len(member_tables)}, above {MEMBERS_MAX}"
        )
    members: dict[str, Identity] = {}
    for number, values in enumerate(member_tables):
        reader = TableReader(path, f"members.{number}", values)
        reader.check_keys(_MEMBER_KEYS)
        folder_text = reader.values.get("identity")
        if not isinstance(folder_text, str) or not folder_text:
            raise reader.error("identity", "must be a member folder (member.json and key.pem)")
        member_folder = Path(folder_text)
        try:
            identity = Identity.load(
                member_folder if member_folder.is_absolute() else folder / member_folder
            )
        except CausewayError as error:
            raise reader.error("identity", error.message) from None
        if identity.chain_id and identity.chain_id != chain_id:
            raise reader.error("identity", f"is a member of {identity.chain_id}, not {chain_id}")
        if identity.member_id in members:
            raise reader.error("identity", f"{identity.member_id} is listed twice")
        members[identity.member_id] = identity
    return ServiceConfig(
        path=path,
        contract=contract,
        index=_index(service, index_text, folder),
        listen_host=host,
        listen_port=port,
        site_url=site_url.rstrip("/"),
        chain=chain,
        members=members,
        escalate_every_s=service.integer(
            "escalate_every_s", ESCALATE_EVERY_S_DEFAULT, 0, ESCALATE_EVERY_S_MAX
        ),
    )


def open_store(index: str) -> IndexStore:
    """The store an ``index`` setting names ("sqlite:PATH" or "postgresql:CONNINFO")."""
    kind, _, rest = index.partition(":")
    if kind == "sqlite":
        return SqliteStore(Path(rest))
    if kind == "postgresql":
        return PostgresStore(rest)
    raise ConfigurationError(f'index {index[:80]!r} is not "sqlite:PATH" or "postgresql:..."')


# -- DCAT ------------------------------------------------------------------------------------------


def _catalog_context(index: DirectoryIndex, site_url: str, chain_id: str) -> CatalogContext:
    departments = {department.code: department for department, _ in index.departments()}
    categories = {category.code: category for category, _ in index.categories()}
    return CatalogContext(
        base_url=site_url,
        chain_id=chain_id,
        directory_id=chain_id,
        title=f"{chain_id} data directory",
        departments=departments,
        categories=categories,
    )


def dcat_routes(index: DirectoryIndex, *, site_url: str, chain_id: str) -> list[BaseRoute]:
    """``/catalog.{ttl,jsonld,xml}?page=N`` (CATALOG_PAGE_SIZE datasets a page, hydra paging)
    and ``/dataset/<code>.{ttl,jsonld,xml}``, from the index."""

    def refusal(error: RequestError, status: int) -> JSONResponse:
        return JSONResponse({"error": {"message": error.message}}, status_code=status)

    async def catalog(request: Request) -> Response:
        extension = str(request.path_params["extension"])
        try:
            _, media_type = format_of(extension)
            page_text = request.query_params.get("page", "1")
            if not page_text.isdigit() or len(page_text) > 6:
                raise DcatError(f"page {page_text[:20]!r} is not a page number")
            page = int(page_text)
            total = index.search(rows=0).count
            codes = index.resource_codes((page - 1) * CATALOG_PAGE_SIZE, CATALOG_PAGE_SIZE)
            entries = [CatalogEntry(versions=index.versions(code)) for code in codes]
            graph = catalog_graph(
                _catalog_context(index, site_url, chain_id),
                entries,
                page=page,
                total=total,
                extension=extension,
            )
        except RequestError as error:
            return refusal(error, 400)
        return Response(serialise(graph, extension), media_type=media_type)

    async def dataset(request: Request) -> Response:
        extension = str(request.path_params["extension"])
        code = str(request.path_params["code"])
        try:
            _, media_type = format_of(extension)
            versions = index.versions(code)
            if not versions:
                raise NotFoundError(f"no resource {code[:80]!r} in the directory")
            graph = dataset_graph(
                _catalog_context(index, site_url, chain_id), CatalogEntry(versions=versions)
            )
        except NotFoundError as error:
            return refusal(error, 404)
        except RequestError as error:
            return refusal(error, 400)
        return Response(serialise(graph, extension), media_type=media_type)

    return [
        Route("/catalog.{extension}", catalog),
        Route("/dataset/{code}.{extension}", dataset),
    ]


def connect_to_node(settings: ChainSettings, address: str, identity: Identity) -> Client:
    """A client of one of the chain's nodes signing as ``identity``: over TLS (the CA, and the
    service's certificate for mutual TLS, with access tokens of ``identity``) when the chain's
    table names TLS files, as the relayer connects."""
    if settings.tls is None:
        return Client(address, identity)
    return Client(
        address,
        identity,
        credentials=channel_credentials(settings.tls, identity, settings.chain_id),
    )


# -- the process -----------------------------------------------------------------------------------


def escalate_overdue(
    index: DirectoryIndex, escalate: Callable[[str], None], now_ms: int
) -> tuple[list[str], list[str]]:
    """Escalates every PENDING request the index holds whose answer time passed more than
    ESCALATE_MARGIN_MS before ``now_ms`` (``escalate`` submits one; the contract decides):
    (the ids escalated, a line for each one that failed, left for the next round)."""
    escalated: list[str] = []
    failed: list[str] = []
    for request in index.overdue_requests(now_ms - ESCALATE_MARGIN_MS):
        try:
            escalate(request.id)
        except CausewayError as error:
            failed.append(f"{request.id}: {error.message}")
        else:
            escalated.append(request.id)
    return escalated, failed


class DirectoryService:
    """The follower and the app over one index (see the module docstring)."""

    def __init__(
        self,
        config: ServiceConfig,
        *,
        store: IndexStore | None = None,
        connect: Callable[[str, Identity], Client] | None = None,
    ) -> None:
        self.config = config
        self.index = DirectoryIndex(store if store is not None else open_store(config.index))
        self._connect = connect or partial(connect_to_node, config.chain)
        self.reader = self._connect(config.chain.nodes[0], config.chain.identity)
        self._signers: dict[str, Client] = {}
        self._signers_lock = threading.Lock()
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self._escalator: threading.Thread | None = None
        self.follow_error: CausewayError | None = None
        self.escalation_failures: list[str] = []

    def signer(self, member: str) -> Client:
        """A client signing as ``member`` (one of the configured members)."""
        identity = self.config.members.get(member)
        if identity is None:
            raise RequestError(f"this service does not sign for {member[:80]!r}")
        with self._signers_lock:
            client = self._signers.get(member)
            if client is None:
                client = self._connect(self.config.chain.nodes[0], identity)
                self._signers[member] = client
            return client

    def submitter(self) -> Submitter:
        return ClientSubmitter(self.signer, self.config.contract)

    def app(self) -> Starlette:
        chain_id = self.config.chain.chain_id
        api = create_ckan_app(
            self.index,
            submitter=self.submitter(),
            chain_id=chain_id,
            site_url=self.config.site_url,
        )
        routes: list[BaseRoute] = [
            *api.routes,
            *dcat_routes(self.index, site_url=self.config.site_url, chain_id=chain_id),
            *web_routes(
                self.index,
                submitter=self.submitter(),
                chain_id=chain_id,
                node_reader=ClientNodeReader(self.reader),
                contract=self.config.contract,
            ),
            Route("/healthz", self._health),
        ]
        return Starlette(routes=routes)

    async def _health(self, request: Request) -> JSONResponse:
        position = self.index.checkpoint()
        body: dict[str, Any] = {
            "chain_id": self.config.chain.chain_id,
            "contract": self.config.contract,
            "indexed_height": position.height,
            "following": self._follower is not None and self._follower.is_alive(),
        }
        if self.follow_error is not None:
            body["error"] = self.follow_error.message
        if self.escalation_failures:
            # Overdue requests the last round could not escalate (tried again next round).
            body["escalation_failures"] = self.escalation_failures[:20]
        return JSONResponse(body, status_code=200 if self.follow_error is None else 503)

    def follow(self) -> int:
        """Applies the contract's events from the node until the stream ends or ``stop``;
        resumes after the index's checkpoint."""
        records = self.reader.follow_events(
            self.index.as_checkpoint(), self.config.contract, save_checkpoint=False
        )
        applied = 0
        for record in records:
            if self._stop.is_set():
                break
            applied += self.index.follow([record], self.config.contract)
        return applied

    def start_following(self) -> None:
        def run() -> None:
            while not self._stop.is_set():
                try:
                    self.follow()
                    self.follow_error = None
                except CausewayError as error:
                    # The index refused an event (or the node's answer): reported by /healthz,
                    # tried again; nothing of a refused batch was written.
                    self.follow_error = error
                if self._stop.wait(FOLLOW_RETRY_S):
                    return

        self._follower = threading.Thread(target=run, name="directory-follower", daemon=True)
        self._follower.start()

    def escalate(self, request_id: str) -> None:
        """``escalate`` on the chain, signed by the first configured member (anyone may)."""
        if not self.config.members:
            raise RequestError("the service signs for no member: it cannot escalate")
        member = next(iter(self.config.members))
        outcome = self.signer(member).invoke(
            self.config.contract,
            "escalate",
            directory_pb2.EscalateRequestArguments(id=request_id),
        )
        if not outcome.committed or outcome.result is None:
            raise RequestError(f"escalating {request_id} did not commit in time")
        if not outcome.succeeded:
            raise RequestError(f"escalating {request_id} failed: {outcome.result.error}")

    def start_escalating(self) -> None:
        """Escalates overdue requests every ``escalate_every_s`` (none when it is 0 or the
        service signs for no member)."""
        interval = self.config.escalate_every_s
        if interval == 0 or not self.config.members:
            return

        def run() -> None:
            while not self._stop.wait(interval):
                _, self.escalation_failures = escalate_overdue(
                    self.index, self.escalate, int(time.time() * 1000)
                )

        self._escalator = threading.Thread(target=run, name="directory-escalator", daemon=True)
        self._escalator.start()

    def close(self) -> None:
        self._stop.set()
        self.reader.close()
        with self._signers_lock:
            for client in self._signers.values():
                client.close()
            self._signers.clear()
        for thread in (self._follower, self._escalator):
            if thread is not None:
                thread.join(timeout=10)

    def administrators(self) -> tuple[str, ...]:
        """The directory's administrator organisations, as its contract holds them (fixed by
        its ``init``), read from the node."""
        settings = DirectoryClient(self.reader, self.config.contract).info().settings
        return tuple(settings.administrator_organisations)

    def issue_token(self, member: str, label: str, now_ms: int) -> str:
        """A new API token for a configured member, acting for the department of its
        organisation (as the index knows it from the chain) and, when the organisation is one
        of the directory's administrators (as the contract says), as an administrator too:
        who answers escalated requests. An administrator's organisation need not be a
        department."""
        if member not in self.config.members:
            raise RequestError(f"this service does not sign for {member[:80]!r}")
        organisation = member.split("/", 1)[0]
        administrator = organisation in self.administrators()
        department_code = next(
            (
                department.code
                for department, _ in self.index.departments(counted=False)
                if department.organisation == organisation
            ),
            "",
        )
        if not department_code and not administrator:
            raise NotFoundError(
                f"no department of organisation {organisation!r} in the index yet, and it is not"
                " one of the directory's administrators (is the service following the chain, and"
                " did an administrator record the department?)"
            )
        return self.index.issue_token(
            member, department_code, label, now_ms, administrator=administrator
        )

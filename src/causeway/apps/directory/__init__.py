"""The government data directory (docs/directory.md): a directory contract (WebAssembly) that
keeps the catalogue and the sharing workflow on chain, and the directory service that follows its
events into a search index and serves the CKAN-compatible API.

The wire and state formats are defined once in proto/causeway/apps/directory/v1/directory.proto
(``causeway.apps.directory.v1.directory_pb2``)."""

from causeway.apps.directory.ckan import (
    CKAN_VERSION,
    ClientSubmitter,
    SubmittedCall,
    Submitter,
    create_ckan_app,
    package_of,
)
from causeway.apps.directory.contract import (
    CONTRACT_NAME,
    CONTRACT_PROJECT,
    EVENTS,
    METHOD_ARGUMENTS,
    RESULTS,
    build_contract,
    contract_source_hash,
    decode_event,
    decode_result,
    encode_arguments,
)
from causeway.apps.directory.dcat import (
    CatalogContext,
    CatalogEntry,
    DcatError,
    catalog_graph,
    dataset_graph,
    serialise,
)
from causeway.apps.directory.index import (
    DirectoryEvent,
    DirectoryIndex,
    EventDataError,
    IndexCheckpoint,
    IndexedResource,
    IndexStore,
    PostgresStore,
    SearchPage,
    SearchQuery,
    SearchQueryError,
    SqliteStore,
    TokenOwner,
)
from causeway.apps.directory.rollup import (
    decode_resource_version,
    district_resource_key,
    parse_district_resource_key,
    resource_version_key,
    rollup_arguments,
    rollup_head_key,
    rollup_key,
)
from causeway.apps.directory.service import (
    DirectoryService,
    ServiceConfig,
    dcat_routes,
    load_service_config,
    open_store,
)

__all__ = [
    "CKAN_VERSION",
    "CONTRACT_NAME",
    "CONTRACT_PROJECT",
    "EVENTS",
    "METHOD_ARGUMENTS",
    "RESULTS",
    "CatalogContext",
    "CatalogEntry",
    "ClientSubmitter",
    "DcatError",
    "DirectoryEvent",
    "DirectoryIndex",
    "DirectoryService",
    "EventDataError",
    "IndexCheckpoint",
    "IndexStore",
    "IndexedResource",
    "PostgresStore",
    "SearchPage",
    "SearchQuery",
    "SearchQueryError",
    "ServiceConfig",
    "SqliteStore",
    "SubmittedCall",
    "Submitter",
    "TokenOwner",
    "build_contract",
    "catalog_graph",
    "contract_source_hash",
    "create_ckan_app",
    "dataset_graph",
    "dcat_routes",
    "decode_event",
    "decode_resource_version",
    "decode_result",
    "district_resource_key",
    "encode_arguments",
    "load_service_config",
    "open_store",
    "package_of",
    "parse_district_resource_key",
    "resource_version_key",
    "rollup_arguments",
    "rollup_head_key",
    "rollup_key",
    "serialise",
]

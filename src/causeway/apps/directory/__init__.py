"""The government data directory (docs/directory.md): a directory contract (WebAssembly) that
keeps the catalogue and the sharing workflow on chain, and the directory service that follows its
events into a search index and serves the CKAN-compatible API.

The wire and state formats are defined once in proto/causeway/apps/directory/v1/directory.proto
(``causeway.apps.directory.v1.directory_pb2``)."""

"""The explorer: a web interface to a chain, as static files that run in the reader's browser.

The pages (HTML, plain JavaScript modules and CSS under ``static/``, no build step and nothing
fetched from elsewhere) read the node's HTTP/JSON API (docs/api.md) from the origin that served
them, and check proofs themselves (``static/verify.js``): the node is never trusted for a
"verified". Two ways to serve them, both at ``/explorer/``:

* the node's own HTTP port (``causeway.api.create_http_app`` mounts ``explorer_files_app``);
* ``causeway explorer --node URL`` (``create_explorer_app``): a small server of its own that
  serves the same files and passes ``/v1/*`` reads on to the node, for a node whose HTTP port is
  not to be opened to the readers.
"""

from __future__ import annotations

from causeway.explorer.files import (
    EXPLORER_PATH,
    STATIC_DIRECTORY,
    explorer_files_app,
)
from causeway.explorer.server import (
    PROXIED_PREFIX,
    create_explorer_app,
)

__all__ = [
    "EXPLORER_PATH",
    "PROXIED_PREFIX",
    "STATIC_DIRECTORY",
    "create_explorer_app",
    "explorer_files_app",
]

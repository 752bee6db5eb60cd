"""The explorer's files, as an ASGI app to mount at EXPLORER_PATH."""

from __future__ import annotations

from pathlib import Path

from starlette.staticfiles import StaticFiles

# Where both the node's gateway and `causeway explorer` serve the pages.
EXPLORER_PATH = "/explorer"
STATIC_DIRECTORY = Path(__file__).resolve().parent / "static"


def explorer_files_app() -> StaticFiles:
    """The pages, index.html for the folder itself; files only from STATIC_DIRECTORY (Starlette
    refuses paths that leave it)."""
    return StaticFiles(directory=STATIC_DIRECTORY, html=True)

"""Serving state snapshots to joining nodes over the HTTP gateway (docs/storage.md, "Serving
snapshots").

The node serves the snapshot files in one folder (DATA_DIR/snapshots, where an operator or a
timer puts `causeway node snapshot create --out DATA_DIR/snapshots/HEIGHT.snapshot`):

* ``GET /v1/snapshots``: ``{"snapshots": [{"height", "block_hash", "chunks", "bytes"}]}``, newest
  first;
* ``GET /v1/snapshots/{height}/manifest``: the manifest's canonical bytes;
* ``GET /v1/snapshots/{height}/chunks/{index}``: one chunk's bytes (at most CHUNK_BYTES_MAX).

Nothing here is trusted by the fetching node: it verifies the manifest against its genesis
before it asks for a chunk, and each chunk against the manifest (node.snapshots.fetch_snapshot).
The routes read the files and never the store, so serving costs the node no read transaction.
"""

from __future__ import annotations

import asyncio
import re
import struct
from pathlib import Path
from typing import Any, Final

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from causeway.api.errors import http_status_for_error
from causeway.errors import CausewayError, DecodeError, NotFoundError
from causeway.storage.snapshots import (
    CHUNK_BYTES_MAX,
    MANIFEST_BYTES_MAX,
    SNAPSHOT_MAGIC,
    decode_manifest,
)
from causeway.storage.v1 import snapshot_pb2

SNAPSHOT_FILE_PATTERN: Final = re.compile(r"^([1-9][0-9]{0,19})\.snapshot$")
# Snapshots listed at most (newest first): a folder of many old files costs a bounded answer.
SNAPSHOTS_LISTED_MAX: Final = 16
_FRAME_LENGTH = struct.Struct(">I")
_OCTET_STREAM = "application/octet-stream"


def _error(error: CausewayError) -> JSONResponse:
    return JSONResponse(
        {"reason": type(error).__name__, "message": error.message},
        status_code=http_status_for_error(error),
    )


class SnapshotFiles:
    """The snapshot files of one folder, read on demand (blocking: call from a thread)."""

    def __init__(self, folder: Path) -> None:
        self._folder = Path(folder)

    def heights(self) -> list[int]:
        if not self._folder.is_dir():
            return []
        found = []
        for path in self._folder.iterdir():
            match = SNAPSHOT_FILE_PATTERN.match(path.name)
            if match and path.is_file():
                found.append(int(match.group(1)))
        return sorted(found, reverse=True)[:SNAPSHOTS_LISTED_MAX]

    def _path(self, height: int) -> Path:
        path = self._folder / f"{height}.snapshot"
        if height < 1 or not path.is_file():
            raise NotFoundError(f"no snapshot of height {height} is served here")
        return path

    def manifest_bytes(self, height: int) -> bytes:
        with self._path(height).open("rb") as file:
            if file.read(len(SNAPSHOT_MAGIC)) != SNAPSHOT_MAGIC:
                raise DecodeError(f"the snapshot file of height {height} is not a snapshot")
            return _read_frame(file, MANIFEST_BYTES_MAX)

    def manifest(self, height: int) -> snapshot_pb2.SnapshotManifest:
        return decode_manifest(self.manifest_bytes(height))

    def chunk(self, height: int, index: int) -> bytes:
        path = self._path(height)
        with path.open("rb") as file:
            if file.read(len(SNAPSHOT_MAGIC)) != SNAPSHOT_MAGIC:
                raise DecodeError(f"the snapshot file of height {height} is not a snapshot")
            manifest = decode_manifest(_read_frame(file, MANIFEST_BYTES_MAX))
            if not 0 <= index < len(manifest.chunks):
                raise NotFoundError(
                    f"the snapshot of height {height} has {len(manifest.chunks)} chunks"
                )
            # Frames before it: each chunk's length prefix and its bytes, as the manifest says.
            file.seek(sum(_FRAME_LENGTH.size + chunk.bytes for chunk in manifest.chunks[:index]), 1)
            return _read_frame(file, CHUNK_BYTES_MAX)

    def listing(self) -> dict[str, Any]:
        entries = []
        for height in self.heights():
            try:
                manifest = self.manifest(height)
            except CausewayError:
                continue  # a file being written, or not a snapshot: not offered
            entries.append(
                {
                    "height": str(height),
                    "block_hash": manifest.block_hash.hex(),
                    "chunks": len(manifest.chunks),
                    "bytes": str(sum(chunk.bytes for chunk in manifest.chunks)),
                }
            )
        return {"snapshots": entries}


def _read_frame(file: Any, bytes_max: int) -> bytes:
    head = file.read(_FRAME_LENGTH.size)
    if len(head) != _FRAME_LENGTH.size:
        raise DecodeError("the snapshot file is cut short")
    (length,) = _FRAME_LENGTH.unpack(head)
    if length > bytes_max:
        raise DecodeError(f"a snapshot frame of {length} bytes, above {bytes_max}")
    data: bytes = file.read(length)
    if len(data) != length:
        raise DecodeError("the snapshot file is cut short")
    return data


def add_snapshot_routes(app: FastAPI, folder: Path) -> None:
    """Serves the snapshot files in ``folder`` (module docstring) from ``app``."""
    files = SnapshotFiles(folder)

    @app.get("/v1/snapshots", include_in_schema=False)
    async def list_snapshots() -> Response:
        return JSONResponse(await asyncio.to_thread(files.listing))

    @app.get("/v1/snapshots/{height}/manifest", include_in_schema=False)
    async def get_manifest(height: int) -> Response:
        try:
            data = await asyncio.to_thread(files.manifest_bytes, height)
        except CausewayError as error:
            return _error(error)
        return Response(data, media_type=_OCTET_STREAM)

    @app.get("/v1/snapshots/{height}/chunks/{index}", include_in_schema=False)
    async def get_chunk(height: int, index: int) -> Response:
        try:
            data = await asyncio.to_thread(files.chunk, height, index)
        except CausewayError as error:
            return _error(error)
        return Response(data, media_type=_OCTET_STREAM)

"""The directory contract (``contract/``, AssemblyScript): where its project is, how it is built,
and the encoding of its calls.

The project is laid out as the AssemblyScript templates are (``interface.json``,
``assembly/index.ts``) but keeps no copy of the contract SDK: ``build_contract`` copies the project
and the SDK of ``causeway.toolchains.assemblyscript`` into a build folder keyed by the hash of
every source file and the compiler's version, and builds there once; later calls (another test,
another process) find the module already built.

Every method's arguments, result, state value and event data is a message of
``proto/causeway/apps/directory/v1/directory.proto`` (``directory_pb2``). The interface file
(``causeway.types.interface``) cannot describe nested or repeated messages, so it describes what
it can exactly (a nested message field as ``bytes``, which is the same on the wire) and lists no
returns or event fields where the message has repeated members; a caller sends the message's
bytes as the raw arguments (``METHOD_ARGUMENTS`` names each method's message) and decodes what
comes back with ``RESULTS``. Through the interface file alone, ``init``'s
``administrator_organisations`` and ``request_sharing``'s ``data_items`` take one value (a repeated
string of one element is a single string on the wire); more need the raw message.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from google.protobuf.message import Message

from causeway.apps.directory.v1 import directory_pb2
from causeway.errors import DecodeError, RequestError
from causeway.toolchains import assemblyscript

CONTRACT_PROJECT = Path(__file__).resolve().parent / "contract"
CONTRACT_NAME = "directory"
# Below the toolchains' shared folder (CAUSEWAY_TOOLCHAINS): one folder per source hash.
BUILD_FOLDER_PREFIX = "directory-contract-"
_SDK = Path(assemblyscript.__file__).resolve().parent / "assemblyscript" / "sdk"
_PROJECT_FILES = (assemblyscript.INTERFACE_FILE_NAME, assemblyscript.ENTRY_FILE)

# Each method's arguments message.
METHOD_ARGUMENTS: dict[str, type[Message]] = {
    "init": directory_pb2.DirectoryInitArguments,
    "set_category": directory_pb2.SetCategoryArguments,
    "set_department": directory_pb2.SetDepartmentArguments,
    "register_resource": directory_pb2.RegisterResourceArguments,
    "revise_resource": directory_pb2.ReviseResourceArguments,
    "withdraw_resource": directory_pb2.WithdrawResourceArguments,
    "get_resource": directory_pb2.GetResourceArguments,
    "resource_history": directory_pb2.ResourceHistoryArguments,
    "list_resources": directory_pb2.ListResourcesArguments,
    "request_sharing": directory_pb2.RequestSharingArguments,
    "approve": directory_pb2.AnswerRequestArguments,
    "refuse": directory_pb2.RefuseRequestArguments,
    "escalate": directory_pb2.EscalateRequestArguments,
    "revoke": directory_pb2.RevokeRequestArguments,
    "cancel": directory_pb2.CancelRequestArguments,
    "record_usage": directory_pb2.RecordUsageArguments,
    "get_request": directory_pb2.GetRequestArguments,
    "list_requests": directory_pb2.ListRequestsArguments,
    "list_receipts": directory_pb2.ListReceiptsArguments,
    "set_district": directory_pb2.SetDistrictArguments,
    "get_district": directory_pb2.GetDistrictArguments,
    "rollup_resource": directory_pb2.RollupResourceArguments,
    "get_rollup": directory_pb2.GetRollupArguments,
    "list_rollups": directory_pb2.ListRollupsArguments,
}
# Each method's result message (methods that return nothing are not listed).
RESULTS: dict[str, type[Message]] = {
    "info": directory_pb2.DirectoryInfo,
    "register_resource": directory_pb2.RegisterResourceResult,
    "get_resource": directory_pb2.ResourceVersion,
    "resource_history": directory_pb2.ResourceHistoryResult,
    "list_resources": directory_pb2.ListResourcesResult,
    "request_sharing": directory_pb2.RequestSharingResult,
    "get_request": directory_pb2.SharingRequest,
    "list_requests": directory_pb2.ListRequestsResult,
    "list_receipts": directory_pb2.ListReceiptsResult,
    "get_district": directory_pb2.District,
    "rollup_resource": directory_pb2.RollupResourceResult,
    "get_rollup": directory_pb2.RolledUpResource,
    "list_rollups": directory_pb2.ListRollupsResult,
}
# Each event's data message (the proto file's closing comment).
EVENTS: dict[str, type[Message]] = {
    "category_set": directory_pb2.Category,
    "department_set": directory_pb2.Department,
    "resource_registered": directory_pb2.ResourceVersion,
    "resource_revised": directory_pb2.ResourceVersion,
    "resource_withdrawn": directory_pb2.ResourceVersion,
    "request_created": directory_pb2.SharingRequest,
    "request_approved": directory_pb2.SharingRequest,
    "request_conditionally_approved": directory_pb2.SharingRequest,
    "request_refused": directory_pb2.SharingRequest,
    "request_escalated": directory_pb2.SharingRequest,
    "request_revoked": directory_pb2.SharingRequest,
    "request_cancelled": directory_pb2.SharingRequest,
    "usage_recorded": directory_pb2.UsageReceipt,
    "district_set": directory_pb2.District,
    "resource_rolled_up": directory_pb2.RolledUpResource,
}


def contract_source_hash() -> str:
    """The SHA-256 of the project's sources, the SDK and the compiler's version: what a build
    depends on."""
    digest = hashlib.sha256(f"assemblyscript {assemblyscript.VERSION}\n".encode())
    sources = [CONTRACT_PROJECT / name for name in _PROJECT_FILES]
    sources += sorted(_SDK.glob("*.ts"))
    for path in sources:
        digest.update(path.relative_to(path.parents[1]).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def build_contract(toolchain: assemblyscript.Toolchain | None = None) -> tuple[Path, Path]:
    """The built module and its interface file, ``(directory.wasm, directory.interface.json)``:
    built now with the AssemblyScript toolchain (installed first if it is missing) unless a
    build of the same sources is already there. Safe to call from several processes at once.
    Raises ToolchainError when the compiler is missing or the contract does not compile."""
    root = assemblyscript.toolchains_folder()
    folder = root / f"{BUILD_FOLDER_PREFIX}{contract_source_hash()[:16]}"
    module = folder / assemblyscript.BUILD_FOLDER / f"{CONTRACT_NAME}.wasm"
    interface = folder / assemblyscript.BUILD_FOLDER / f"{CONTRACT_NAME}.interface.json"
    if module.is_file() and interface.is_file():
        return module, interface
    toolchain = toolchain if toolchain is not None else assemblyscript.install()
    root.mkdir(parents=True, exist_ok=True)
    with assemblyscript.exclusive_lock(root / f"{folder.name}.lock"):
        if module.is_file() and interface.is_file():
            return module, interface
        staging = root / f"{folder.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        for name in _PROJECT_FILES:
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(CONTRACT_PROJECT / name, staging / name)
        shutil.copytree(_SDK, staging / assemblyscript.SDK_FOLDER)
        try:
            assemblyscript.build(staging, toolchain)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        # Moved into place whole: a folder that exists holds a finished build.
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
    return module, interface


def encode_arguments(method: str, arguments: Message) -> bytes:
    """The raw arguments of ``method``: ``arguments``, which must be its message, serialised
    deterministically."""
    expected = METHOD_ARGUMENTS.get(method)
    if expected is None:
        raise RequestError(f"the directory contract has no method {method!r} that takes arguments")
    if not isinstance(arguments, expected):
        raise RequestError(
            f"{method} takes {expected.DESCRIPTOR.full_name}, not "
            f"{type(arguments).DESCRIPTOR.full_name}"
        )
    return arguments.SerializeToString(deterministic=True)


def decode_result(method: str, data: bytes) -> Message:
    """The result of ``method`` decoded as its message; DecodeError when the bytes are not one."""
    return _decode(RESULTS, method, data, "result")


def decode_event(name: str, data: bytes) -> Message:
    """An event's data decoded as its message; DecodeError when the bytes are not one."""
    return _decode(EVENTS, name, data, "event")


def _decode(messages: dict[str, type[Message]], name: str, data: bytes, what: str) -> Message:
    message_class = messages.get(name)
    if message_class is None:
        raise RequestError(f"the directory contract has no {what} {name!r} with data")
    message = message_class()
    try:
        message.ParseFromString(data)
    except Exception as error:  # protobuf raises its own DecodeError, not one of ours
        raise DecodeError(f"directory {what} {name}: {error}") from None
    return message

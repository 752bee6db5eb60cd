"""Every public function, class, method and property of the SDK has a docstring with an example.

The convention (the CLI's help texts use it too): after the description, a line ``Example:``, a
blank line, then the snippet indented four spaces more. Plain Python, no ``>>>`` prompts; it may
use the names the description or the class introduces (``client``: a connected Client or, in
the asyncio classes, an AsyncClient, whose snippets ``await`` at top level). For instance::

    def invoke(self, ...) -> SubmitResult:
        \"\"\"Builds, signs and submits a transaction in one step.

        Example:

            result = client.invoke("kv", "put", KvPutArguments(key=b"k", value=b"v"))
        \"\"\"

pdoc renders the snippet as a code block (scripts/reference.py) and ``help()`` shows it as
written. Each snippet must at least parse as Python, so that a stray prompt or a half-edited
snippet is caught here.

What is walked: every name of causeway.sdk's ``__all__`` (``build_transaction`` and ``endorse``
too, which causeway.types defines and the SDK re-exports); the public methods
and properties of the classes among them, including those inherited from other SDK classes (not
``object``'s, ``tuple``'s or ``typing``'s); and the classes their public properties answer
(``client.interchain``, ``client.atomic``, ``client.contracts``, ``client.proposals``), with
theirs in turn. Dunder methods are not walked.
"""

from __future__ import annotations

import ast
import inspect
import pkgutil
import textwrap
from collections.abc import Iterator
from importlib import import_module
from typing import Any

import causeway.sdk

SDK_PREFIX = "causeway.sdk"
EXAMPLE_HEADING = "Example:"
COMPILE_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


def is_sdk_class(value: object) -> bool:
    return inspect.isclass(value) and value.__module__.startswith(SDK_PREFIX)


def sdk_namespace() -> dict[str, Any]:
    """Every name of every SDK module: what a property's string annotation refers to (the
    clients import the lazily loaded helpers' classes only for type checking)."""
    namespace: dict[str, Any] = {}
    for module in pkgutil.walk_packages(causeway.sdk.__path__, prefix=f"{SDK_PREFIX}."):
        namespace.update(vars(import_module(module.name)))
    return namespace


def own_members(cls: type) -> Iterator[tuple[str, Any]]:
    """The public methods and properties of ``cls`` and of its SDK base classes."""
    seen: set[str] = set()
    for base in cls.__mro__:
        if not base.__module__.startswith(SDK_PREFIX):
            continue
        for name, attribute in vars(base).items():
            if name.startswith("_") or name in seen:
                continue
            value = attribute
            if isinstance(attribute, staticmethod | classmethod):
                value = attribute.__func__
            if isinstance(value, property) or inspect.isfunction(value):
                seen.add(name)
                yield name, value


def property_classes(value: property, namespace: dict[str, Any]) -> Iterator[type]:
    """The SDK class a property answers, when it answers one."""
    annotation = inspect.get_annotations(value.fget).get("return") if value.fget else None
    target = namespace.get(annotation) if isinstance(annotation, str) else annotation
    if is_sdk_class(target):
        yield target


def documented_objects() -> dict[str, Any]:
    """Every object the rule covers, by the name a reader would look it up by."""
    namespace = sdk_namespace()
    objects: dict[str, Any] = {}
    classes: list[type] = []
    for name in causeway.sdk.__all__:
        value = getattr(causeway.sdk, name)
        objects[name] = value
        if inspect.isclass(value):
            classes.append(value)
    walked: set[type] = set()
    while classes:
        cls = classes.pop()
        if cls in walked:
            continue
        walked.add(cls)
        objects[cls.__name__] = cls
        for name, value in own_members(cls):
            objects[f"{cls.__name__}.{name}"] = value
            if isinstance(value, property):
                classes.extend(property_classes(value, namespace))
    return objects


def docstring_of(value: Any) -> str | None:
    """The object's own docstring (never one inherited from a base class)."""
    if isinstance(value, property):
        value = value.fget
    return value.__doc__


def example_of(docstring: str) -> str | None:
    """The snippet under the docstring's ``Example:`` line, dedented; None without one."""
    lines = inspect.cleandoc(docstring).splitlines()
    for index, line in enumerate(lines):
        if line.strip() != EXAMPLE_HEADING or index + 2 >= len(lines) or lines[index + 1].strip():
            continue
        indent = len(line) - len(line.lstrip())
        snippet: list[str] = []
        for following in lines[index + 2 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            snippet.append(following)
        code = textwrap.dedent("\n".join(snippet)).strip()
        if code:
            return code
    return None


def problem_of(name: str, value: Any) -> str | None:
    docstring = docstring_of(value)
    if not docstring or not docstring.strip():
        return f"{name}: no docstring"
    example = example_of(docstring)
    if example is None:
        return f"{name}: no '{EXAMPLE_HEADING}' followed by a blank line and an indented snippet"
    if ">>>" in example:
        return f"{name}: the example has >>> prompts; write plain code"
    try:
        compile(example, name, "exec", flags=COMPILE_FLAGS)
    except SyntaxError as error:
        return f"{name}: the example is not Python: {error}"
    return None


def test_the_walk_covers_the_clients_and_their_helpers() -> None:
    names = documented_objects()
    for expected in (
        "Client.invoke",
        "AsyncClient.follow_events",
        "Identity.load",
        "FileCheckpoint.save",
        "MemoryCheckpoint.load",
        "Contracts.deploy",
        "ContractHandle.call",
        "Proposals.vote",
        "AsyncProposals.vote",
        "Interchain.send_transfer",
        "AsyncInterchain.send_transfer",
        "Atomic.begin",
        "AsyncAtomic.begin",
        "verify_block",
    ):
        assert expected in names, expected
    assert not any(name.split(".")[-1].startswith("__") for name in names)


def test_every_public_sdk_object_has_a_docstring_with_an_example() -> None:
    problems = [
        problem
        for name, value in sorted(documented_objects().items())
        if (problem := problem_of(name, value)) is not None
    ]
    assert problems == [], f"{len(problems)} without a proper example:\n" + "\n".join(problems)


def test_the_example_rule_catches_what_it_should() -> None:
    documented = """Does a thing.

    Example:

        client.invoke("kv", "put", arguments)
    """
    assert example_of(documented) == 'client.invoke("kv", "put", arguments)'
    assert example_of("Does a thing.\n\nExample:\nclient.status()") is None
    assert example_of("Does a thing.") is None
    assert problem_of("f", lambda: None) == "f: no docstring"
    with_prompt = "Does a thing.\n\nExample:\n\n    >>> client.status()\n"
    assert "prompts" in (problem_of("f", type("C", (), {"__doc__": with_prompt})) or "")

"""What every native contract shares (execution/contracts/base.py): the tests a cosmic-ray run
over it showed missing (docs/testing.md)."""

from __future__ import annotations

import dataclasses

import pytest

from causeway.execution.contracts import CONTRACTS


def test_contracts_and_their_methods_cannot_be_changed_once_declared() -> None:
    """One registry serves every block: a contract or method changed in place would change how
    later blocks run."""
    kv = CONTRACTS["kv"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        kv.namespace = b"other/"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        kv.methods["get"].read_only = False  # type: ignore[misc]

"""Raft's timeout rules on both sides: the tests a cosmic-ray sample over consensus/raft/engine.py
showed missing (docs/testing.md; the other survivors are listed there)."""

from __future__ import annotations

import pytest

from causeway.consensus.raft import RaftTimeouts
from causeway.errors import ConfigurationError


def test_a_heartbeat_of_1_ms_is_allowed_and_0_refused() -> None:
    assert RaftTimeouts(election_min_ms=10, election_max_ms=20, heartbeat_ms=1).heartbeat_ms == 1
    with pytest.raises(ConfigurationError, match="heartbeat_ms must be positive"):
        RaftTimeouts(election_min_ms=10, election_max_ms=20, heartbeat_ms=0)


@pytest.mark.parametrize("election_max_ms", [99, 100])
def test_the_election_range_must_not_be_empty_nor_reversed(election_max_ms: int) -> None:
    with pytest.raises(ConfigurationError, match="election_max_ms must be above election_min_ms"):
        RaftTimeouts(election_min_ms=100, election_max_ms=election_max_ms, heartbeat_ms=10)
    assert RaftTimeouts(election_min_ms=100, election_max_ms=101, heartbeat_ms=10)

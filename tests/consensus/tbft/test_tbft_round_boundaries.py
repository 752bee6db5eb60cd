"""Two rules of the tbft core on both sides: each step's timeout grows by delta per round, and a
validator of power 0 is refused even beside validators with power. The tests a cosmic-ray sample
over consensus/tbft/core.py showed missing (docs/testing.md; the other survivors are listed
there)."""

from __future__ import annotations

import pytest
from tbft_harness import CHAIN_ID, HmacSigner, HmacVerifier, ToyApplication

from causeway.consensus.tbft import TbftCore, TbftTimeouts
from causeway.errors import ConfigurationError


def test_each_step_timeout_grows_by_delta_per_round() -> None:
    timeouts = TbftTimeouts(propose_ms=100, prevote_ms=200, precommit_ms=300, delta_ms=10)
    for round_number in (0, 1, 3):
        assert timeouts.propose_timeout_ms(round_number) == 100 + 10 * round_number
        assert timeouts.prevote_timeout_ms(round_number) == 200 + 10 * round_number
        assert timeouts.precommit_timeout_ms(round_number) == 300 + 10 * round_number


def test_a_validator_of_power_0_is_refused_beside_others() -> None:
    def core(validators: list[tuple[str, int]]) -> TbftCore:
        return TbftCore(CHAIN_ID, validators, HmacSigner("a"), HmacVerifier(), ToyApplication(), 1)

    assert core([("a", 1), ("b", 1)]).validators == {"a": 1, "b": 1}
    with pytest.raises(ConfigurationError, match="validator 'b' needs a positive voting power"):
        core([("a", 1), ("b", 0)])

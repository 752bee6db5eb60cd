"""Data-driven transcripts of the tbft and raft cores (tbft/testdata, raft/testdata).

Each transcript runs commands against a small network of cores and compares what the cores did
with the output written in the file; ``pytest --rewrite`` regenerates the outputs. See
transcript.py for the commands and transcript_glue.py for what is engine-specific.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from transcript import EngineGlue, Harness, parse, render, run_transcript
from transcript_glue import RaftGlue, TbftGlue

HERE = Path(__file__).parent
GLUES: dict[str, Callable[[], EngineGlue]] = {"tbft": TbftGlue, "raft": RaftGlue}
TRANSCRIPTS = [
    (engine, path)
    for engine in GLUES
    for path in sorted((HERE / engine / "testdata").glob("*.txt"))
]


@pytest.mark.parametrize(
    ("engine", "path"), TRANSCRIPTS, ids=[f"{engine}/{path.stem}" for engine, path in TRANSCRIPTS]
)
def test_transcript(engine: str, path: Path, request: pytest.FixtureRequest) -> None:
    run_transcript(path, GLUES[engine](), bool(request.config.getoption("--rewrite")))


def test_every_engine_has_its_transcripts() -> None:
    for engine in GLUES:
        assert len(list((HERE / engine / "testdata").glob("*.txt"))) >= 4, engine


def test_a_changed_output_fails_and_the_file_format_round_trips(tmp_path: Path) -> None:
    text = "# a comment\nstatus v1\n----\nv1 down committed=0\nin flight 0\n\nheal\n----\nok\n"
    cases = parse(text, tmp_path)
    assert render(cases, [case.expected for case in cases]) == text
    path = tmp_path / "changed.txt"
    path.write_text(text.replace("committed=0", "committed=1"))
    with pytest.raises(AssertionError, match=r"changed\.txt differs"):
        run_transcript(path, TbftGlue(), rewrite=False)
    run_transcript(path, TbftGlue(), rewrite=True)
    assert path.read_text() == text


def test_an_unknown_command_is_refused() -> None:
    with pytest.raises(AssertionError, match="unknown command 'fly'"):
        Harness(RaftGlue()).run("fly a")

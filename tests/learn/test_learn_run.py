"""Every lesson of the learning path run as a learner runs it, and its exercise checked.

One learner's folder for the whole path (the lessons build on each other's network, as the
learner's do): a fresh folder, a devnet on free ports (``--port-base`` added to ``devnet up``;
``CAUSEWAY_NODE`` names its node for the lines and code that take the default one, as a
learner's shell would for a node elsewhere). The English document's steps run, in order; the
Chinese document's are the same steps (test_learn_lessons.py holds them equal). Before a
lesson's steps, ``causeway learn check N`` must fail, naming what is missing; its own last step
runs the same check, which must pass. Each step must exit 0 and show what the lesson says it
shows (SHOWN). ``causeway`` lines run in this process through the Typer app the console script
calls (a new interpreter a line would cost 2-3 s each); other shell lines run in bash, Python
blocks in this interpreter's python, in the folder.

Then, on the same network: the checkers in Chinese, a proof file tampered with or of another
chain refused with the reason, a node that does not answer, the progress listed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from devnet_harness import free_port_base
from lesson_steps import Step, lesson_steps
from typer.testing import CliRunner, Result

from causeway.cli.learn import LESSONS
from causeway.cli.main import app

pytestmark = pytest.mark.e2e

REPOSITORY = Path(__file__).resolve().parents[2]
WORKSPACE = "~/causeway-lessons"
LOOPBACK = "127.0.0.1"
PORTS = 3  # one node: gRPC, HTTP, peers
STEP_TIMEOUT_S = 120
RUNNER = CliRunner()


def _pairs_agree(output: str) -> None:
    """Lesson 2's Python: pairs of lines, each ending in the same hash."""
    lines = [line.split()[-1] for line in output.splitlines() if line.strip()]
    assert len(lines) == 6, output
    for first, second in zip(lines[::2], lines[1::2], strict=True):
        assert first == second, output


# What a step shows when it worked, by the start of its line (the lessons' "what you should
# see"); Python blocks by lesson.
SHOWN: dict[str, str] = {
    "causeway devnet up": "node1",
    "causeway devnet status": "node1",
    "ls devnet/organisations/org1/members/client": "member.json",
    "causeway tx send": "OK",
    "causeway query": "hello, chain",
    "causeway block get": "transactions",
    "causeway state get": "hello, chain",
    "causeway proof verify": "VALID",
    "causeway learn check": "Exercise done.",
}
PYTHON_SHOWN: dict[int, Callable[[str], None]] = {2: _pairs_agree}


class Learner:
    """The learner's folder, shell and network."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port_base = free_port_base(PORTS)
        self.node = f"{LOOPBACK}:{self.port_base}"
        self.environment = {"CAUSEWAY_NODE": self.node, "CAUSEWAY_LANGUAGE": "en"}

    def causeway(self, arguments: list[str]) -> Result:
        with contextlib.chdir(self.folder):
            return RUNNER.invoke(
                app,
                arguments,
                env={
                    **self.environment,
                    "CAUSEWAY_IDENTITY": None,
                    "CAUSEWAY_DEBUG": None,
                    "COLUMNS": "200",
                },
            )

    def run(self, step: Step, lesson_number: int) -> str:
        text = step.text.replace(WORKSPACE, str(self.folder))
        if step.kind == "python":
            completed = subprocess.run(
                [sys.executable, "-"],
                input=text,
                cwd=self.folder,
                env=self._process_environment(),
                capture_output=True,
                text=True,
                timeout=STEP_TIMEOUT_S,
                check=False,
            )
            assert completed.returncode == 0, f"{step.where}: {completed.stderr}"
            PYTHON_SHOWN[lesson_number](completed.stdout)
            return completed.stdout
        if text.startswith("causeway "):
            arguments = shlex.split(text)[1:]
            if arguments[:2] == ["devnet", "up"] and "--port-base" not in arguments:
                arguments += ["--port-base", str(self.port_base)]
            if arguments[0] == "devnet":
                # It starts nodes that outlive it: a child process, as the learner's shell runs
                # it (in this process their Popen objects would be collected while they run).
                completed = self.causeway_process(arguments)
                assert completed.returncode == 0, f"{step.where}: `{text}`: {completed.stderr}"
                output = completed.stdout
            else:
                result = self.causeway(arguments)
                assert result.exit_code == 0, (
                    f"{step.where}: `{text}` exited {result.exit_code}:\n{result.output}"
                )
                output = result.output
        else:
            completed = subprocess.run(
                ["bash", "-c", text],
                cwd=self.folder,
                env=self._process_environment(),
                capture_output=True,
                text=True,
                timeout=STEP_TIMEOUT_S,
                check=False,
            )
            assert completed.returncode == 0, f"{step.where}: `{text}`: {completed.stderr}"
            output = completed.stdout
        for start, shown in SHOWN.items():
            if text.startswith(start):
                assert shown in output, f"{step.where}: `{text}` did not show {shown!r}:\n{output}"
        return output

    def causeway_process(self, arguments: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "causeway.cli", *arguments],
            stdin=subprocess.DEVNULL,
            cwd=self.folder,
            env={**self._process_environment(), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
            check=False,
        )

    def _process_environment(self) -> dict[str, str]:
        inherited = {name: value for name, value in os.environ.items() if name != "CAUSEWAY_DEBUG"}
        return {**inherited, **self.environment}

    def check(self, number: int, *options: str) -> Result:
        return self.causeway(["learn", "check", str(number), *options])


@pytest.fixture(scope="module")
def learner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Learner]:
    """The learner after every lesson, its network still running; stopped at the end."""
    taught = Learner(tmp_path_factory.mktemp("causeway-lessons"))
    try:
        for item in LESSONS:
            document = item.document("en")
            steps = lesson_steps(document, (REPOSITORY / document).read_text(encoding="utf-8"))
            before = taught.check(item.number)
            assert before.exit_code == 1 and "✗" in before.output, before.output
            for step in steps:
                taught.run(step, item.number)
            after = taught.check(item.number)
            assert after.exit_code == 0, after.output
        yield taught
    finally:
        stopped = taught.causeway_process(["devnet", "down", "--dir", "devnet"])
        assert stopped.returncode == 0, stopped.stderr


def test_every_lesson_runs_and_its_check_passes_after_failing_before(learner: Learner) -> None:
    listed = learner.causeway(["learn", "--json"])
    assert listed.exit_code == 0, listed.output
    lessons = json.loads(listed.stdout)["lessons"]
    assert [(item["number"], item["passed"]) for item in lessons] == [
        (item.number, True) for item in LESSONS
    ]
    shown = learner.causeway(["learn"])
    assert f"{len(LESSONS)} of {len(LESSONS)} lessons done" in shown.output


def test_the_checker_answers_in_chinese(learner: Learner) -> None:
    answer = learner.check(1, "--language", "zh")
    assert answer.exit_code == 0, answer.output
    assert "正在运行" in answer.output and "练习完成" in answer.output
    listed = learner.causeway(["learn", "--language", "zh"])
    assert "第一条链和第一笔交易" in listed.output and "已完成" in listed.output


def test_a_proof_file_tampered_with_or_of_another_block_is_refused(learner: Learner) -> None:
    path = learner.folder / "greeting-proof.json"
    original = path.read_text(encoding="utf-8")
    try:
        document = json.loads(original)
        document["value"] = b"hello, world".hex()
        path.write_text(json.dumps(document), encoding="utf-8")
        answer = learner.check(2)
        assert answer.exit_code == 1 and "greeting-proof.json does not hold" in answer.output
        path.unlink()
        answer = learner.check(2)
        assert answer.exit_code == 1 and "No greeting-proof.json yet" in answer.output
    finally:
        path.write_text(original, encoding="utf-8")
    assert learner.check(2).exit_code == 0


def test_a_node_that_does_not_answer_is_named(learner: Learner, tmp_path: Path) -> None:
    """A copy of the learner's folder whose devnet.json points at a port nobody listens on."""
    copy = tmp_path / "copy"
    shutil.copytree(
        learner.folder / "devnet", copy / "devnet", ignore=shutil.ignore_patterns("nodes")
    )
    description = json.loads((copy / "devnet" / "devnet.json").read_text(encoding="utf-8"))
    silent = f"{LOOPBACK}:{free_port_base(1)}"
    for node in description["nodes"]:
        node["grpc_address"] = silent
    (copy / "devnet" / "devnet.json").write_text(json.dumps(description), encoding="utf-8")
    answer = RUNNER.invoke(
        app, ["learn", "check", "1", "--workspace", str(copy), "--language", "en"]
    )
    assert answer.exit_code == 1
    assert f"The node of devnet ({silent}) does not answer" in answer.output
    nothing = RUNNER.invoke(app, ["learn", "check", "1", "--workspace", str(tmp_path)])
    assert nothing.exit_code == 1 and "devnet.json" in nothing.output


def test_a_lesson_that_does_not_exist_is_one_line(learner: Learner) -> None:
    answer = learner.check(len(LESSONS) + 1)
    assert answer.exit_code == 1
    assert f"there is no lesson {len(LESSONS) + 1}" in answer.output

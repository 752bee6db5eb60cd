"""Every lesson of the learning path run as a learner runs it, and its exercise checked.

One learner's folder for the whole path (the lessons build on each other's network, as the
learner's do): a fresh folder, each devnet on free ports (a ``devnet up`` line's documented
``--port-base``, or the default 7050, becomes a free base, and every ``127.0.0.1:PORT`` of that
devnet's ports follows; ``CAUSEWAY_NODE`` names the default network's node for the lines and
code that take the default, as a learner's shell would for a node elsewhere). The English
document's steps run, in order; the Chinese document's are the same steps
(test_learn_lessons.py holds them equal). Before a lesson's steps, ``causeway learn check N``
must fail, naming what is missing; the lesson's own ``causeway learn check N`` step must pass.
Each step must exit 0 and show what the lesson says it shows (SHOWN). ``causeway`` lines run in
this process through the Typer app the console script calls (a new interpreter a line would
cost 2-3 s each), except ``devnet`` lines (they start nodes that outlive them) and lines with
shell syntax (``> file``), which run as the learner's shell runs them, with the environment's
``bin`` first on the PATH (an activated environment); other lines run in bash, Python blocks
in this interpreter's python, in the folder.

Then, on the same network: the checkers in Chinese, a proof file tampered with or of another
chain refused with the reason, a node that does not answer, the progress listed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
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
PORTS_PER_NODE = 3  # gRPC, HTTP, peers
DEFAULT_PORT_BASE = 7050  # node1's gRPC port of a devnet up without --port-base
DEFAULT_HTTP_PORT = 8050  # and its HTTP port (with a --port-base, the one after gRPC's)
VALIDATORS_DEFAULT = 4
MANIFEST_PORTS = 40
SHELL_SYNTAX = frozenset({">", ">>", "|", "||", "&&", ";", "<", "&"})
STEP_TIMEOUT_S = 120
RUNNER = CliRunner()


def _pairs_agree(output: str) -> None:
    """Lesson 2's Python: pairs of lines, each ending in the same hash."""
    lines = [line.split()[-1] for line in output.splitlines() if line.strip()]
    assert len(lines) == 6, output
    for first, second in zip(lines[::2], lines[1::2], strict=True):
        assert first == second, output


# What a step shows when it worked (the lessons' "what you should see"): each entry whose words
# the line holds applies; Python blocks by lesson.
SHOWN: tuple[tuple[str, str], ...] = (
    ("causeway devnet up", "node1"),
    ("causeway devnet status", "node1"),
    ("ls devnet/organisations/org1/members/client", "member.crt"),
    ("ls gov/organisations", "org3"),
    ("causeway tx send", "OK"),
    ("-c kv -m get", "hello, chain"),
    ("-c membership -m get_member", "ROLE_ADMIN"),
    ("-c config -m get --json", "state_history_heights"),
    ("org3/members/client -c config -m get", "5000"),
    ("causeway block get", "transactions"),
    ("causeway state get", "hello, chain"),
    ("causeway proof verify", "VALID"),
    ("causeway proposal show 1", "open"),
    ("causeway proposal execute 1", "executed"),
    ("causeway contract build", "add(amount: uint64) -> (value: uint64)"),
    ("--method add", '"value": 3'),
    ("causeway contract test", "passed"),
    ("causeway contract deploy", "active"),
    ("cat kv-events.json", "height"),
    ("causeway bank issue", "1000"),
    ("causeway transfer send", "acknowledged"),
    ("causeway bank balance org1/client --dir chains --chain chain-b", "transfer/"),
    ("causeway xtx submit pay-and-register.toml --dir chains", "decision"),
    ("|| echo", "exit status 3: aborted"),
    ("causeway bank balance org2/client --dir chains --chain chain-a", "10"),
    ("causeway status", "height"),
    ("/metrics", "causeway_height"),
    ("/readyz", '"status":"ok"'),
    ("--out node1.snapshot", "node1.snapshot"),
    ("causeway node snapshot create --home bft", "snapshot of height"),
    ("causeway devnet start --dir bft", "node4"),
    ("causeway org init org5", "org5-node1"),
    ("causeway org join-request", "nodes.set_endpoint"),
    ("causeway proposal vote 1", "voted yes"),
    ("causeway node join", "Node prepared"),
    ("causeway status --node", "observer"),
    ("causeway node stop", "stopped"),
    ("causeway node backup", "node1-backup"),
    ("causeway directory category set 101", "101"),
    ("causeway directory department set MZ", "MZ"),
    ("causeway directory register", "101-MZ-000001"),
    ("causeway directory revise", "每周更新"),
    ("causeway directory history", "每周更新"),
    ("--contract counter --method get", '"value": 3'),
    ("causeway learn check", "Exercise done."),
    ("causeway devnet stop", "node4 stopped"),
    ("python double_sign.py", "org4/node4 signed two prevotes at height"),
    ("-c evidence -m submit", "evidence.committed validator=org4/node4"),
    ("-c evidence -m list", "org1/client"),
    ("python -m causeway.sim replay", "evidence="),
)


def _proposed_config(output: str) -> None:
    """Lesson 4's Python: the configuration's value, then the one proposed."""
    assert "state proofs kept for 1000 heights" in output and "proposed: 5000" in output, output


def _notes_or_events(output: str) -> None:
    """Lesson 6's Python: the notes committed, then every kv.put event in order."""
    if "committed=" in output:
        assert output.count("committed=True") == 3, output
    else:
        keys = [line.split()[-1] for line in output.splitlines() if line.strip()]
        assert keys == ["greeting", "lesson", "note/0", "note/1", "note/2"], output


def _interface_written(output: str) -> None:
    """Lesson 5's Python: the interface lists the new method."""
    assert "methods: init, increment, get, add" in output, output


def _deployed(output: str) -> None:
    """Lesson 10's Python: the directory contract's record."""
    assert "deployed directory version 1" in output, output


# A lesson's closing steps that undo part of its exercise, and what its checker must then name
# as missing: (lesson, step) -> text.
UNDONE_BY: dict[tuple[int, str], str] = {
    (9, "causeway node stop --home org5-node1"): "org5-node1 does not answer",
    (9, "causeway devnet down --dir bft"): "Lesson 3's chain is not running",
}

PYTHON_SHOWN: dict[int, Callable[[str], None]] = {
    2: _pairs_agree,
    4: _proposed_config,
    5: _interface_written,
    6: _notes_or_events,
    10: _deployed,
}


class Learner:
    """The learner's folder, shell and network."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # A devnet's documented port base -> (the free base it runs on here, its port count).
        self.port_bases: dict[int, tuple[int, int]] = {}

    @property
    def environment(self) -> dict[str, str]:
        environment = {"CAUSEWAY_LANGUAGE": "en"}
        if DEFAULT_PORT_BASE in self.port_bases:
            environment["CAUSEWAY_NODE"] = f"{LOOPBACK}:{self.port_bases[DEFAULT_PORT_BASE][0]}"
        return environment

    def environment_for(self, words: list[str]) -> dict[str, str | None]:
        """A line that names its chain (``--dir``, ``--node``) takes it from there: the
        learner's shell has no CAUSEWAY_NODE, which would win over the devnet's."""
        environment: dict[str, str | None] = {**self.environment}
        if "--dir" in words or "--node" in words:
            environment["CAUSEWAY_NODE"] = None
        return environment

    def concrete(self, text: str) -> str:
        """The documented line or file with the learner's folder and this run's ports."""
        text = text.replace(WORKSPACE, str(self.folder))
        if text.startswith("causeway devnet up"):
            documented = re.search(r"--port-base (\d+)", text)
            base = int(documented.group(1)) if documented else DEFAULT_PORT_BASE
            validators = re.search(r"--validators (\d+)", text)
            nodes = int(validators.group(1)) if validators else VALIDATORS_DEFAULT
            # A manifest's chains, each right after the other, and its relayers' metrics; a
            # devnet's nodes and one more, which joins it (lesson 9's org5-node1 after bft's
            # four), on the ports after theirs.
            count = MANIFEST_PORTS if "--manifest" in text else PORTS_PER_NODE * (nodes + 1)
            fresh = free_port_base(count)
            self.port_bases[base] = (fresh, count)
            if documented:
                text = text.replace(documented.group(0), f"--port-base {fresh}")
            else:
                text += f" --port-base {fresh}"

        def moved(match: re.Match[str]) -> str:
            port = int(match.group(1))
            # The default devnet's node1 answers HTTP on 8050, apart from its gRPC port.
            if port == DEFAULT_HTTP_PORT and DEFAULT_PORT_BASE in self.port_bases:
                return f"{LOOPBACK}:{self.port_bases[DEFAULT_PORT_BASE][0] + 1}"
            for base, (fresh, count) in self.port_bases.items():
                if base <= port < base + count:
                    return f"{LOOPBACK}:{fresh + port - base}"
            return match.group(0)

        return re.sub(rf"{re.escape(LOOPBACK)}:(\d+)", moved, text)

    def causeway(self, arguments: list[str]) -> Result:
        with contextlib.chdir(self.folder):
            return RUNNER.invoke(
                app,
                arguments,
                env={
                    **self.environment_for(arguments),
                    "CAUSEWAY_IDENTITY": None,
                    "CAUSEWAY_DEBUG": None,
                    "COLUMNS": "200",
                },
            )

    def run(self, step: Step, lesson_number: int) -> str:
        if step.kind == "file":
            text = self.concrete(step.text)
            (self.folder / step.file_name).write_text(text, encoding="utf-8")
            return text
        if step.kind == "append":
            text = self.concrete(step.text)
            with (self.folder / step.file_name).open("a", encoding="utf-8") as file:
                file.write("\n" + text)
            return text
        text = self.concrete(step.text)
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
        words = shlex.split(text)
        if words[0] == "causeway" and not SHELL_SYNTAX & set(words):
            arguments = words[1:]
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
                env=self._process_environment(words),
                capture_output=True,
                text=True,
                timeout=STEP_TIMEOUT_S,
                check=False,
            )
            assert completed.returncode == 0, f"{step.where}: `{text}`: {completed.stderr}"
            output = completed.stdout + completed.stderr  # the learner's terminal shows both
            if ">" in words:
                # What it shows went to the file it names.
                output += (self.folder / words[words.index(">") + 1]).read_text(encoding="utf-8")
        for words, shown in SHOWN:
            if words in text:
                assert shown in output, f"{step.where}: `{text}` did not show {shown!r}:\n{output}"
        return output

    def causeway_process(self, arguments: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "causeway.cli", *arguments],
            stdin=subprocess.DEVNULL,
            cwd=self.folder,
            env={**self._process_environment(arguments), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
            check=False,
        )

    def _process_environment(self, words: Sequence[str] = ()) -> dict[str, str]:
        inherited = {name: value for name, value in os.environ.items() if name != "CAUSEWAY_DEBUG"}
        # An activated environment: its python and causeway first on the PATH.
        path = f"{Path(sys.executable).parent}{os.pathsep}{inherited.get('PATH', '')}"
        named = {name: value for name, value in self.environment_for(list(words)).items() if value}
        if "CAUSEWAY_NODE" not in named:
            inherited.pop("CAUSEWAY_NODE", None)
        return {**inherited, **named, "PATH": path}

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
            own_check = f"causeway learn check {item.number}"
            assert any(step.text == own_check for step in steps), f"{document}: no {own_check}"
            for step in steps:
                taught.run(step, item.number)
                named = UNDONE_BY.get((item.number, step.text))
                if named is not None:
                    undone = taught.check(item.number)
                    assert undone.exit_code == 1 and named in undone.output, undone.output
        yield taught
    finally:
        # A node the learner started in the background (lesson 9's org5-node1), if a lesson
        # failed before it stopped it.
        for pid_file in taught.folder.glob("*/node.pid"):
            taught.causeway(["node", "stop", "--home", str(pid_file.parent)])
        for network in ("devnet", "bft", "gov", "chains"):
            if (taught.folder / network).exists():
                stopped = taught.causeway_process(["devnet", "down", "--dir", network])
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


def test_a_checkpoint_that_is_not_the_last_notes_event_is_named(learner: Learner) -> None:
    path = learner.folder / "kv-events.json"
    original = path.read_text(encoding="utf-8")
    try:
        elsewhere = {**json.loads(original), "event_index": 7}
        path.write_text(json.dumps(elsewhere), encoding="utf-8")
        answer = learner.check(6)
        assert answer.exit_code == 1
        assert "which is not the kv.put event of note/2" in answer.output, answer.output
        path.write_text("{", encoding="utf-8")
        answer = learner.check(6)
        assert answer.exit_code == 1 and "kv-events.json is not a checkpoint" in answer.output
    finally:
        path.write_text(original, encoding="utf-8")
    assert learner.check(6).exit_code == 0

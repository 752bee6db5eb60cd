"""`causeway learn`: the learning path's lessons with the learner's progress, and `causeway learn
check N`, lesson N's exercise checked against the learner's own network (docs/learn/)."""

# ruff: noqa: PLC0415 (heavy packages are imported inside commands: the CLI must start fast)

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from causeway.cli.output import console, print_json

WorkspaceOption = Annotated[
    Path,
    typer.Option(
        "--workspace",
        "-w",
        metavar="DIR",
        help="The folder where you run the lessons' commands (its devnet/ is the lessons'"
        " network; your progress is kept in it).",
    ),
]
LanguageOption = Annotated[
    str | None,
    typer.Option(
        "--language",
        metavar="zh|en",
        help="The language to answer in (default: CAUSEWAY_LANGUAGE, else the locale's).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

learn_app = typer.Typer(
    name="learn",
    help="The learning path: lessons in Chinese and English (docs/learn/), each with an exercise"
    " that `causeway learn check N` checks on your own network.\n\nExample:\n\n"
    "    causeway learn\n\n    causeway learn check 1 --language zh",
    invoke_without_command=True,
)


@learn_app.callback()
def lessons(
    context: typer.Context,
    *,
    workspace: WorkspaceOption = Path("."),
    language: LanguageOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the lessons, with the ones whose check passed in this workspace."""
    if context.invoked_subcommand is not None:
        return
    from causeway.cli.learn import LESSONS, language_of, load_progress

    chosen = language_of(os.environ, language)
    progress = load_progress(workspace)
    repository = _repository()
    if json_output:
        print_json(
            {
                "language": chosen,
                "lessons": [
                    {
                        "number": item.number,
                        "title": item.title(chosen),
                        "document": item.document(chosen),
                        "passed": progress.get(item.number, False),
                    }
                    for item in LESSONS
                ],
            }
        )
        return
    for item in LESSONS:
        mark = "✓" if progress.get(item.number) else " "
        console.print(
            f"{mark} {item.number:2d}. {item.title(chosen)}   {repository / item.document(chosen)}",
            markup=False,
            highlight=False,
        )
    passed = sum(1 for item in LESSONS if progress.get(item.number))
    summary = (
        f"已完成 {passed}/{len(LESSONS)} 课；用 causeway learn check N 检查第 N 课的练习。"
        if chosen == "zh"
        else f"{passed} of {len(LESSONS)} lessons done; causeway learn check N checks lesson N's"
        " exercise."
    )
    console.print(summary, markup=False, highlight=False)


@learn_app.command("check")
def check_lesson(
    number: Annotated[int, typer.Argument(metavar="N", help="The lesson's number.")],
    *,
    workspace: WorkspaceOption = Path("."),
    language: LanguageOption = None,
    json_output: JsonOption = False,
) -> None:
    """Check lesson N's exercise against your network: what is done, and what is missing.

    Exits 0 when everything holds, 1 when something is missing (it says what).

    Example:

        causeway learn check 1
    """
    from causeway.cli.learn import Workspace, check, language_of, record_progress

    chosen = language_of(os.environ, language)
    report = check(number, Workspace(workspace))
    record_progress(workspace, number, report.passed)
    if json_output:
        print_json(
            {
                "lesson": number,
                "passed": report.passed,
                "findings": [
                    {"passed": finding.passed, "text": finding.text(chosen)}
                    for finding in report.findings
                ],
            }
        )
    else:
        console.print(f"{number}. {report.lesson.title(chosen)}", markup=False, highlight=False)
        for finding in report.findings:
            mark = "✓" if finding.passed else "✗"
            console.print(f"  {mark} {finding.text(chosen)}", markup=False, highlight=False)
        if report.passed:
            verdict = "练习完成。" if chosen == "zh" else "Exercise done."
        else:
            verdict = (
                "还没完成：按 ✗ 一行去做。" if chosen == "zh" else "Not done yet: see the ✗ line."
            )
        console.print(verdict, markup=False, highlight=False)
    if not report.passed:
        raise typer.Exit(1)


def _repository() -> Path:
    """Where the lessons' documents are: the checkout Causeway runs from (an editable install,
    as `make install` makes), else the documents' paths in the repository as they are."""
    import causeway

    checkout = Path(causeway.__file__).resolve().parents[2]
    return checkout if (checkout / "docs" / "learn").is_dir() else Path()


def register(app: typer.Typer) -> None:
    app.add_typer(learn_app)

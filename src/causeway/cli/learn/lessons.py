"""The learning path's lessons (docs/learn/): their numbers, titles in both languages, the
documents that teach them, and the languages a learner reads them in. Pure: no I/O.

A lesson's text is docs/learn/<language>/<NN>-<slug>.md; ``causeway learn`` lists the lessons
from here and ``causeway learn check N`` runs lesson N's checker (causeway.learn.checks)
against the learner's own network. A test holds the documents' first headings to the titles
here, so that the list and the lessons never disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from causeway.errors import RequestError

LANGUAGES = ("zh", "en")
LANGUAGE_DEFAULT = "en"
LESSONS_FOLDER = "docs/learn"


@dataclass(frozen=True, slots=True)
class Text:
    """One sentence in both languages: what a learner reads is in their language."""

    zh: str
    en: str

    def __call__(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


@dataclass(frozen=True, slots=True)
class Lesson:
    number: int
    slug: str
    title: Text

    def document(self, language: str) -> str:
        """The lesson's document, relative to the repository: docs/learn/en/01-first-chain.md."""
        return f"{LESSONS_FOLDER}/{language}/{self.number:02d}-{self.slug}.md"


LESSONS: tuple[Lesson, ...] = (
    Lesson(1, "first-chain", Text("第一条链和第一笔交易", "A first chain and a transaction")),
    Lesson(
        2,
        "blocks-and-proofs",
        Text("区块、哈希与默克尔证明", "Blocks, hashes and Merkle proofs"),
    ),
    Lesson(
        3,
        "bft-consensus",
        Text("拜占庭容错共识", "Byzantine fault-tolerant consensus"),
    ),
    Lesson(
        4,
        "governance",
        Text("组织、身份与链上治理", "Organisations, identities and governance"),
    ),
    Lesson(
        5,
        "contracts",
        Text("编写、测试和部署合约", "Writing, testing and deploying a contract"),
    ),
    Lesson(6, "sdk-and-events", Text("SDK 与事件流", "The SDK and event streams")),
    Lesson(
        7, "connecting-chains", Text("通过枢纽连接两条链", "Connecting two chains through the hub")
    ),
    Lesson(8, "atomic-transactions", Text("跨链原子交易", "An atomic cross-chain transaction")),
    Lesson(9, "operating-a-node", Text("运维一个节点", "Operating a node")),
    Lesson(10, "data-directory", Text("政务数据目录", "The government data directory")),
)
_BY_NUMBER: Mapping[int, Lesson] = {lesson.number: lesson for lesson in LESSONS}


def lesson(number: int) -> Lesson:
    """Lesson ``number``; a RequestError naming the lessons there are for any other."""
    found = _BY_NUMBER.get(number)
    if found is None:
        raise RequestError(
            f"there is no lesson {number}: the lessons are 1 to {len(LESSONS)}"
            f" (causeway learn lists them)"
        )
    return found


def language_of(environment: Mapping[str, str], chosen: str | None = None) -> str:
    """The learner's language: ``chosen`` (--language) when given, else CAUSEWAY_LANGUAGE, else
    Chinese when the locale (LC_ALL, LC_MESSAGES, LANG) is a Chinese one, else English."""
    if chosen is not None:
        if chosen not in LANGUAGES:
            raise RequestError(f"language {chosen[:20]!r} is not one of {', '.join(LANGUAGES)}")
        return chosen
    configured = environment.get("CAUSEWAY_LANGUAGE", "")
    if configured in LANGUAGES:
        return configured
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = environment.get(name, "")
        if value:
            return "zh" if value.lower().startswith("zh") else LANGUAGE_DEFAULT
    return LANGUAGE_DEFAULT

"""How command lines are read out of Markdown, as the documented-commands test reads them."""

from __future__ import annotations

from markdown_commands import (
    documented_commands,
    fenced_blocks,
    strip_comment,
    untagged_causeway_blocks,
)

MARKDOWN = """# Title

```sh
make demo    # a comment
             # a comment alone on its line

causeway tx send --identity DIR/member \\
    --contract kv --args '{"key": "a # b"}'   # the comment goes
```

```text
causeway init DIR [--orgs N]   # a synopsis keeps everything
```

```python
causeway = 1
```

```
causeway status
```
"""


def test_lines_of_sh_blocks_join_continuations_and_lose_comments() -> None:
    commands = [
        command for command in documented_commands("doc.md", MARKDOWN) if command.tag == "sh"
    ]
    assert [(command.line, command.text) for command in commands] == [
        (4, "make demo"),
        (7, 'causeway tx send --identity DIR/member --contract kv --args \'{"key": "a # b"}\''),
    ]
    assert {command.block_line for command in commands} == {3}
    assert commands[1].where == "doc.md:7"


def test_text_blocks_are_kept_whole_and_other_languages_are_skipped() -> None:
    texts = [command.text for command in documented_commands("doc.md", MARKDOWN)]
    assert "causeway init DIR [--orgs N]   # a synopsis keeps everything" in texts
    assert "causeway = 1" not in texts
    assert "causeway status" not in texts


def test_an_untagged_block_showing_causeway_is_found() -> None:
    (block,) = untagged_causeway_blocks("doc.md", MARKDOWN)
    assert (block.line, block.lines) == (19, ("causeway status",))


def test_fences_close_only_on_a_bare_fence_of_the_same_kind() -> None:
    markdown = "~~~sh\ncauseway a\n```\ncauseway b\n~~~\n"
    (block,) = fenced_blocks("doc.md", markdown)
    assert block.lines == ("causeway a", "```", "causeway b")


def test_a_hash_inside_quotes_or_a_word_is_not_a_comment() -> None:
    assert strip_comment("echo 'a # b' c#d # e") == "echo 'a # b' c#d"
    assert strip_comment('echo "#x"') == 'echo "#x"'
    assert strip_comment("# all comment") == ""

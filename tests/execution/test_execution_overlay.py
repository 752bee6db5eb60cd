from __future__ import annotations

from execution_chain import DictReader
from hypothesis import given, settings
from hypothesis import strategies as st

from causeway.execution.overlay import BlockOverlay, UnwrittenBlocksReader

small_keys = st.builds(bytes, st.lists(st.sampled_from(b"abc"), max_size=3))
values = st.one_of(st.none(), st.binary(max_size=2))


def merged_view(
    base: dict[bytes, bytes], layers: list[dict[bytes, bytes | None]]
) -> dict[bytes, bytes]:
    view = dict(base)
    for layer in layers:
        for key, value in layer.items():
            if value is None:
                view.pop(key, None)
            else:
                view[key] = value
    return view


@settings(max_examples=200, deadline=None)
@given(
    base=st.dictionaries(small_keys, st.binary(max_size=2), max_size=12),
    blocks=st.lists(st.dictionaries(small_keys, values, max_size=6), max_size=3),
    writes=st.dictionaries(small_keys, values, max_size=6),
    prefix=st.builds(bytes, st.lists(st.sampled_from(b"abc"), max_size=2)),
    start_after=small_keys,
    limit=st.integers(min_value=0, max_value=8),
)
def test_range_equals_the_merged_view(
    *,
    base: dict[bytes, bytes],
    blocks: list[dict[bytes, bytes | None]],
    writes: dict[bytes, bytes | None],
    prefix: bytes,
    start_after: bytes,
    limit: int,
) -> None:
    overlay = BlockOverlay(DictReader(base))
    for index, block_writes in enumerate(blocks):
        overlay.apply(block_writes)
        if index == 0:
            # Interleave a range so that the sorted key index is rebuilt between applications.
            overlay.range(b"", b"", 3, {})
    view = merged_view(base, [*blocks, writes])
    expected = sorted(
        (key, value) for key, value in view.items() if key.startswith(prefix) and key > start_after
    )[:limit]
    assert overlay.range(prefix, start_after, limit, writes) == expected
    for key in set(view) | set(base):
        if key not in writes:
            assert overlay.get(key) == merged_view(base, blocks).get(key)


@settings(max_examples=200, deadline=None)
@given(
    base=st.dictionaries(small_keys, st.binary(max_size=2), max_size=12),
    unwritten=st.lists(st.dictionaries(small_keys, values, max_size=6), min_size=1, max_size=3),
    prefix=st.builds(bytes, st.lists(st.sampled_from(b"abc"), max_size=2)),
    start_after=small_keys,
    limit=st.integers(min_value=0, max_value=8),
)
def test_unwritten_blocks_read_as_if_written(
    *,
    base: dict[bytes, bytes],
    unwritten: list[dict[bytes, bytes | None]],
    prefix: bytes,
    start_after: bytes,
    limit: int,
) -> None:
    """The state after blocks committed and not yet written (newest winning, deletions hiding
    the store's values) reads as the store would once they are written, and a block executed
    on it sees the same."""
    reader = UnwrittenBlocksReader(DictReader(base), unwritten)
    view = merged_view(base, unwritten)
    expected = sorted(
        (key, value) for key, value in view.items() if key.startswith(prefix) and key > start_after
    )[:limit]
    assert reader.range(prefix, start_after, limit) == expected
    for key in set(view) | set(base) | {b"never"}:
        assert reader.get(key) == view.get(key)
    on_top = BlockOverlay(reader)
    assert on_top.range(prefix, start_after, limit, {}) == expected

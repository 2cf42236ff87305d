"""The hash-chain rules (CHAIN-1..3) that the register and the ledger rely on."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from registry.services.chain import GENESIS, canonical_json, first_break, link_hash

payloads = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def build(items: list[object]) -> list[tuple[int, str, str, object]]:
    entries, previous = [], GENESIS
    for position, payload in enumerate(items, start=1):
        current = link_hash(previous, payload)
        entries.append((position, previous, current, payload))
        previous = current
    return entries


def test_canonical_json_ignores_key_order_and_keeps_chinese() -> None:
    assert canonical_json({"b": 1, "a": "巴中"}) == canonical_json({"a": "巴中", "b": 1})
    assert canonical_json({"a": "巴中"}) == '{"a":"巴中"}'


@given(st.lists(payloads, min_size=1, max_size=8))
def test_an_untouched_chain_verifies(items: list[object]) -> None:
    assert first_break("t", build(items)) is None


@given(st.lists(payloads, min_size=2, max_size=8), st.data())
def test_changing_any_entry_is_found_at_that_entry(items: list[object],
                                                   data: st.DataObject) -> None:
    entries = build(items)
    victim = data.draw(st.integers(0, len(entries) - 1))
    position, previous, stored, payload = entries[victim]
    entries[victim] = (position, previous, stored, {"tampered": payload})
    found = first_break("t", entries)
    assert found is not None and found.position == position


def test_removing_an_entry_breaks_the_link_after_it() -> None:
    entries = build(["a", "b", "c"])
    del entries[1]
    found = first_break("t", entries)
    assert found is not None and found.position == 3

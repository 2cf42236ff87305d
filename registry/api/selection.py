"""What a query asks for, so read models fetch only that (one statement, no over-fetching).

Works on graphql-core's AST directly: strawberry's `info.selected_fields` converts the whole
subtree (arguments, directives) on every call, which costs more than it saves here.
"""

from __future__ import annotations

from collections.abc import Iterable

from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, SelectionNode

from registry.api.context import Info


def field_names(info: Info, *path: str) -> set[str]:
    """Names of the fields selected under the current field, then under `path` (e.g. "edges",
    "node"), looking through fragments. `@include`/`@skip` are ignored: a field that might be
    skipped is fetched anyway."""
    raw = info._raw_info
    fragments = raw.fragments
    current: list[SelectionNode] = [s for node in raw.field_nodes
                                    for s in _selections(node)]
    for name in path:
        current = [s for node in _fields(current, fragments) if node.name.value == name
                   for s in _selections(node)]
    return {node.name.value for node in _fields(current, fragments)}


def _selections(node: FieldNode) -> Iterable[SelectionNode]:
    return node.selection_set.selections if node.selection_set else ()


def _fields(selections: Iterable[SelectionNode], fragments: dict) -> Iterable[FieldNode]:
    pending = list(selections)
    while pending:
        selection = pending.pop()
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            pending.extend(selection.selection_set.selections)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                pending.extend(fragment.selection_set.selections)

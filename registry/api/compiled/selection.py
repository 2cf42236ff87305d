"""A query's selection set as a plain tree the compiler walks (registry/api/compiled).

Only what the compiler can translate exactly becomes a tree; anything else raises
`NotCompilable` and the request is executed field by field as before (COMPILE-2):
directives (`@include`/`@skip` decide at run time), a response key selected twice (merging),
fragments on another type than the field's own (abstract types).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
)


class NotCompilable(Exception):
    """The query uses something the compiler does not translate; run it field by field."""


@dataclass(frozen=True)
class Selected:
    """One field of a selection: its response key, its definition, its own selections."""

    key: str
    name: str
    node: FieldNode
    definition: GraphQLField | None  # None for __typename
    children: tuple[Selected, ...] = field(default=())

    def child(self, name: str) -> Iterator[Selected]:
        return (c for c in self.children if c.name == name)


def selections(parent: GraphQLObjectType, selection_set: SelectionSetNode | None,
               fragments: dict[str, FragmentDefinitionNode]) -> tuple[Selected, ...]:
    """The fields selected on `parent`, fragments of the same type flattened in order."""
    if selection_set is None:
        return ()
    found: list[Selected] = []
    keys: set[str] = set()
    for node in _flatten(parent, selection_set.selections, fragments):
        key = node.alias.value if node.alias else node.name.value
        if key in keys:
            raise NotCompilable(f"response key {key!r} selected twice")
        keys.add(key)
        name = node.name.value
        if name == "__typename":
            found.append(Selected(key, name, node, None))
            continue
        definition = parent.fields.get(name)
        if definition is None:
            raise NotCompilable(f"no field {parent.name}.{name}")
        inner: GraphQLNamedType = get_named_type(definition.type)
        children = (selections(inner, node.selection_set, fragments)
                    if isinstance(inner, GraphQLObjectType) else ())
        found.append(Selected(key, name, node, definition, children))
    return tuple(found)


def _flatten(parent: GraphQLObjectType, nodes: Iterable[object],
             fragments: dict[str, FragmentDefinitionNode]) -> Iterator[FieldNode]:
    for node in nodes:
        if getattr(node, "directives", None):
            raise NotCompilable("directives decide at run time")
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            _same_type(parent, node.type_condition.name.value if node.type_condition else None)
            yield from _flatten(parent, node.selection_set.selections, fragments)
        elif isinstance(node, FragmentSpreadNode):
            fragment = fragments.get(node.name.value)
            if fragment is None or fragment.directives:
                raise NotCompilable("unknown or directed fragment")
            _same_type(parent, fragment.type_condition.name.value)
            yield from _flatten(parent, fragment.selection_set.selections, fragments)
        else:
            raise NotCompilable(f"unexpected selection {type(node).__name__}")


def _same_type(parent: GraphQLObjectType, condition: str | None) -> None:
    if condition is not None and condition != parent.name:
        raise NotCompilable(f"fragment on {condition} inside {parent.name}")

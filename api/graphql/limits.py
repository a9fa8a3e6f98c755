"""How much one GraphQL operation may ask for: depth, aliases, cost, and subscriptions.

The cost of an operation is an estimate of how many values it makes the server produce,
computed from the query text before anything runs: every field costs 1, and a list field
multiplies what is selected under it by how many items it can return (its ``first`` or
``k`` argument, the page maximum when that comes from a variable, or a typical size for the
lists inside a call). An operation over :data:`MAX_COST` is refused with its cost in the
message.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)

from core.catalog import MAX_PAGE
from core.search import MAX_K

MAX_DEPTH = 10  # the schema has no cycles today; this guards any that come
MAX_ALIASES = 20  # each alias of `calls` can load up to 100 documents
MAX_COST = 50_000
MAX_SUBSCRIPTIONS = 10  # jobProgress streams open at once on one WebSocket

# Paged fields: the argument that bounds them, its default, and its maximum (assumed when
# the argument is a variable: its value is not known when the operation is checked).
PAGED_FIELDS = {"calls": ("first", 20, MAX_PAGE), "search": ("k", 10, MAX_K)}
# Lists without such an argument: a typical call's size (an estimate, not a bound).
LIST_FIELDS = {"utterances": 60, "words": 15, "speakers": 2, "events": 30}


def selection_cost(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str] = frozenset(),
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            below = selection_cost(selection.selection_set, fragments, seen)
            total += 1 + _multiplier(selection) * below
        elif isinstance(selection, InlineFragmentNode):
            total += selection_cost(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is not None and name not in seen:  # cycles: another rule reports them
                total += selection_cost(fragment.selection_set, fragments, seen | {name})
    return total


def _multiplier(field: FieldNode) -> int:
    name = field.name.value
    if name in PAGED_FIELDS:
        argument_name, default, most = PAGED_FIELDS[name]
        for argument in field.arguments or ():
            if argument.name.value == argument_name:
                if isinstance(argument.value, IntValueNode):
                    return max(1, min(int(argument.value.value), most))
                return most
        return default
    return LIST_FIELDS.get(name, 1)


class QueryCostLimit(ValidationRule):
    """Refuses an operation whose estimated cost is over :data:`MAX_COST`."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        fragments = {
            d.name.value: d
            for d in self.context.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        cost = selection_cost(node.selection_set, fragments)
        if cost > MAX_COST:
            self.report_error(
                GraphQLError(
                    f"The operation costs about {cost:,}, over the limit of {MAX_COST:,}.",
                    node,
                    extensions={
                        "code": "query_too_costly",
                        "hint": "Ask for fewer calls per page (`first`), or leave out "
                        "utterances and words when listing.",
                    },
                )
            )

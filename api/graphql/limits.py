"""How much one GraphQL operation may ask for: depth, aliases, cost, and subscriptions.

The cost of an operation is an estimate of how many values it makes the server produce,
computed from the query text before anything runs: every field costs 1, and a list field
multiplies what is selected under it by how many items it can return (its ``first`` or
``k`` argument, the page maximum when that comes from a variable, or a typical size for the
lists inside a call). An operation over :data:`MAX_COST` is refused with its cost in the
message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, TypeVar

from graphql import (
    DocumentNode,
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
from strawberry.extensions import SchemaExtension

from core.calls.catalog import MAX_PAGE
from core.calls.search import MAX_K
from core.errors import RateLimitedError

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_DEPTH = 10  # the schema has no cycles today; this guards any that come
MAX_ALIASES = 20  # each alias of `calls` can load up to 100 documents
MAX_COST = 50_000
MAX_SUBSCRIPTIONS = 10  # subscriptions (jobProgress, liveCall) open at once on one WebSocket
# The operation's size with every fragment spread replaced by the fragment: checked first,
# in time linear in the query text, so that no later rule (depth, cost, graphql-core's own)
# ever walks an exponential expansion (fragments that each spread the previous one twice).
MAX_SELECTIONS = 5_000
MAX_FRAGMENT_SPREADS = 200  # in the text, before expansion
MAX_TOKENS = 10_000  # lexical tokens the parser reads before it gives up

# Paged fields: the argument that bounds them, its default, and its maximum (assumed when
# the argument is a variable: its value is not known when the operation is checked).
PAGED_FIELDS = {
    "calls": ("first", 20, MAX_PAGE),
    "jobs": ("first", 20, MAX_PAGE),
    "search": ("k", 10, MAX_K),
}
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


def expanded_size(document: DocumentNode, limit: int = MAX_SELECTIONS) -> int:
    """How many selections ``document`` holds with its fragments expanded, counted with each
    fragment's size computed once (linear time); counting stops just past ``limit``."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    sizes: dict[str, int] = {}

    def fragment(name: str, open_: frozenset[str]) -> int:
        if name not in sizes:
            definition = fragments.get(name)
            if definition is None or name in open_:  # unknown or a cycle: other rules say so
                return 0
            sizes[name] = selections(definition.selection_set, open_ | {name})
        return sizes[name]

    def selections(selection_set: SelectionSetNode | None, open_: frozenset[str]) -> int:
        total = 0
        for selection in selection_set.selections if selection_set else ():
            total += 1
            if isinstance(selection, FragmentSpreadNode):
                total += fragment(selection.name.value, open_)
            elif isinstance(selection, FieldNode | InlineFragmentNode):
                total += selections(selection.selection_set, open_)
            if total > limit:
                break
        return total

    total = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            total += selections(definition.selection_set, frozenset())
    return total


def count_spreads(document: DocumentNode) -> int:
    count = 0
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        count += isinstance(node, FragmentSpreadNode)
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return count


class OperationSizeLimit(SchemaExtension):
    """Refuses, before any validation rule runs, a document too large once its fragments
    are expanded, or with too many fragment spreads; also caps the parser's tokens."""

    def on_operation(self):  # type: ignore[no-untyped-def]
        self.execution_context.parse_options["max_tokens"] = MAX_TOKENS
        yield

    def on_validate(self):  # type: ignore[no-untyped-def]
        document = self.execution_context.graphql_document
        if document is not None:
            error = _size_error(document)
            if error is not None:
                self.execution_context.pre_execution_errors = [error]
        yield


def _size_error(document: DocumentNode) -> GraphQLError | None:
    spreads = count_spreads(document)
    if spreads > MAX_FRAGMENT_SPREADS:
        message = f"The operation has {spreads:,} fragment spreads, over {MAX_FRAGMENT_SPREADS}."
    elif (size := expanded_size(document)) > MAX_SELECTIONS:
        message = (
            f"The operation selects over {MAX_SELECTIONS:,} fields once its fragments are "
            f"expanded ({size:,} counted before stopping)."
        )
    else:
        return None
    return GraphQLError(
        message,
        extensions={
            "code": "query_too_large",
            "hint": "Select the fields you need directly; spread each fragment once.",
        },
    )


def take_subscription(context: Any) -> None:
    """Count one more subscription on this connection (a GraphQLContext), or refuse it."""
    if context.subscriptions >= MAX_SUBSCRIPTIONS:
        raise RateLimitedError(
            f"This connection already has {MAX_SUBSCRIPTIONS} subscriptions open.",
            "Complete one first, or open another connection.",
        )
    context.subscriptions += 1


async def counted(
    context: Any, events: AsyncGenerator[T, None], name: str
) -> AsyncGenerator[T, None]:
    """``events`` for one subscription (taken with :func:`take_subscription`), closed when
    the subscriber leaves, and the connection's count given back at the end."""
    try:
        async with aclosing(events):
            async for event in events:
                yield event
    except asyncio.CancelledError:
        log.debug("%s: the subscriber left", name)
        raise
    finally:
        context.subscriptions -= 1

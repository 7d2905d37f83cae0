"""Renaming a node: a new id for it and every place that names it, and a list of what changed.

A node is named by its edges, its layout placement and group, and by the expressions that read
its output (`nodes.<id>`). Only real references are rewritten: the strings the engine renders
(fields of kind `template` and `expression`, and the flow's outputs), found with Jinja's own
lexer and confirmed with `opsflow.expr`'s parser, so `nodes.old` in a script, a literal
string, a comment or `nodes.older` stays as written. Flow `vars` are literal values that the
engine never renders, so they are left alone too. A node type that is not installed has no
field kinds: its strings with template syntax are treated as templates.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, get_args, get_origin

from jinja2 import TemplateSyntaxError
from pydantic import BaseModel

from opsflow.catalog.fields import field_kind
from opsflow.catalog.registry import Catalog, default_catalog
from opsflow.errors import OpsflowError
from opsflow.expr import ExpressionError, References, is_template, parse_expression, parse_template
from opsflow.expr.parse import environment
from opsflow.model.flow import NODE_ID_PATTERN, Flow, Node

_NODE_ID = re.compile(NODE_ID_PATTERN)
#: An edge's ends as the file names them.
_END = {"source": "from", "target": "to"}


class RenameError(OpsflowError):
    """A rename that cannot be done, with a sentence saying why and what to do."""


@dataclass(frozen=True)
class Change:
    """One field the rename rewrote.

    `node` is the node holding the field, by its id after the rename (None for flow-level
    places: edges, outputs, layout); `references` counts the `nodes.<id>` references that
    were rewritten in it (0 for ids, edge ends and layout keys).
    """

    node: str | None
    field: str
    before: str
    after: str
    references: int = 0


@dataclass(frozen=True)
class Renamed:
    """The renamed flow and what changed in it."""

    flow: Flow
    old: str
    new: str
    changes: tuple[Change, ...]

    @property
    def references(self) -> int:
        """How many expression references were rewritten, in nodes and flow outputs."""
        return sum(change.references for change in self.changes)

    @property
    def nodes_updated(self) -> tuple[str, ...]:
        """The nodes whose expressions were rewritten, by id (the renamed one included)."""
        return tuple(sorted({c.node for c in self.changes if c.references and c.node}))

    def summary(self) -> str:
        """One sentence for a status bar: "Renamed http to fetch: 4 references in 3 nodes
        updated."."""
        if not self.references:
            return f"Renamed {self.old} to {self.new}; no expression referred to it."
        places = []
        if self.nodes_updated:
            places.append(_count(len(self.nodes_updated), "node"))
        if any(c.references and c.field.startswith("outputs.") for c in self.changes):
            places.append("the flow's outputs")
        return (
            f"Renamed {self.old} to {self.new}: {_count(self.references, 'reference')} "
            f"in {' and '.join(places)} updated."
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def id_problem(node_ids: Collection[str], old: str, new: str) -> str | None:
    """Why node `old` cannot be renamed to `new` among `node_ids`, as a sentence; None when it
    can."""
    if old not in node_ids:
        return f"there is no node '{old}'"
    if new == old:
        return f"the node is already called '{old}'"
    if not _NODE_ID.match(new):
        return (
            f"'{new}' cannot be a node id: use lower-case letters, digits and underscores, "
            "starting with a letter or underscore, at most 64 characters (e.g. fetch_status)"
        )
    if new in node_ids:
        return f"there is already a node '{new}'; choose another id"
    return None


def rename_node(flow: Flow, old: str, new: str, catalog: Catalog | None = None) -> Renamed:
    """`flow` with node `old` called `new` everywhere; raises `RenameError` when it cannot be."""
    problem = id_problem({node.id for node in flow.nodes}, old, new)
    if problem is not None:
        raise RenameError(f"cannot rename node '{old}': {problem}")
    catalog = catalog or default_catalog()
    changes: list[Change] = [Change(new, "id", old, new)]
    nodes: list[Node] = []
    for node in flow.nodes:
        node_id = new if node.id == old else node.id
        params = _rewrite_params(node, node_id, old, new, catalog, changes)
        update: dict[str, Any] = {"id": node_id} if node_id != node.id else {}
        if params is not node.params:
            update["params"] = params
        nodes.append(node.model_copy(update=update) if update else node)
    edges = []
    for edge in flow.edges:
        update = {}
        for end in ("source", "target"):
            if getattr(edge, end) == old:
                update[end] = new
                changes.append(Change(None, f"edges.{edge.id}.{_END[end]}", old, new))
        edges.append(edge.model_copy(update=update) if update else edge)
    outputs = dict(flow.outputs)
    for name, source in flow.outputs.items():
        if is_template(source):
            text, count = _rewrite_or_refuse(source, old, new, False, f"outputs.{name}", None)
            if count:
                outputs[name] = text
                changes.append(Change(None, f"outputs.{name}", source, text, count))
    layout = flow.layout
    if old in layout.nodes:
        placements = {(new if key == old else key): value for key, value in layout.nodes.items()}
        layout = layout.model_copy(update={"nodes": placements})
        changes.append(Change(None, "layout.nodes", old, new))
    groups = []
    for group in layout.groups:
        if old in group.nodes:
            members = [new if member == old else member for member in group.nodes]
            group = group.model_copy(update={"nodes": members})
            changes.append(Change(None, f"layout.groups.{group.id}.nodes", old, new))
        groups.append(group)
    if groups != layout.groups:
        layout = layout.model_copy(update={"groups": groups})
    renamed = flow.model_copy(
        update={"nodes": nodes, "edges": edges, "outputs": outputs, "layout": layout}
    )
    return Renamed(renamed, old, new, tuple(changes))


# -- parameters: which strings are templates and conditions --------------------------------

#: The structure of a parameter's annotation, enough to walk its raw JSON value: a nested
#: parameter model, a list or a mapping of something, or plain data (None).
_Shape = type[BaseModel] | tuple[Literal["list", "dict"], "_Shape"] | None
#: Rewrites one string given its field kind and path: (text, kind, path) -> text.
_Rewrite = Callable[[str, str | None, str], str]


def _rewrite_params(
    node: Node, node_id: str, old: str, new: str, catalog: Catalog, changes: list[Change]
) -> dict[str, Any]:
    """The node's params with references rewritten; the same dict object when none were."""
    if "nodes" not in str(node.params):  # cheap, and most nodes read no other node
        return node.params
    spec = catalog.get(node.type)

    def rewrite(source: str, kind: str | None, path: str) -> str:
        if kind == "expression":
            expression = True
        elif kind == "template" and is_template(source):
            expression = False
        else:
            return source
        text, count = _rewrite_or_refuse(source, old, new, expression, f"params.{path}", node_id)
        if count:
            changes.append(Change(node_id, f"params.{path}", source, text, count))
        return text

    if spec is None:
        kind_of_all: str | None = "template"
        shape: _Shape = None
    else:
        kind_of_all, shape = None, spec.params
    result = _walk(node.params, shape, kind_of_all, "", rewrite)
    return result if isinstance(result, dict) else node.params


def _walk(value: Any, shape: _Shape, kind: str | None, path: str, rewrite: _Rewrite) -> Any:
    """`value` with each string passed through `rewrite(text, kind, path)`; kinds propagate into
    lists and mappings, and nested models declare their own (as `walk_strings` has it)."""
    if isinstance(value, str):
        return rewrite(value, kind, path)
    if isinstance(shape, type) and isinstance(value, dict):
        names = {(info.alias or name): name for name, info in shape.model_fields.items()}
        out = {}
        for key, item in value.items():
            name = names.get(key)
            if name is None:  # not a parameter of the type: never rendered
                out[key] = item
                continue
            sub_kind = field_kind(shape, name)
            sub_shape = _shape_of(shape.model_fields[name].annotation)
            out[key] = _walk(item, sub_shape, sub_kind, _join(path, key), rewrite)
        return _same_or(value, out)
    inner = shape[1] if isinstance(shape, tuple) else None
    if isinstance(value, list):
        items = [_walk(item, inner, kind, f"{path}[{i}]", rewrite) for i, item in enumerate(value)]
        return _same_or(value, items)
    if isinstance(value, dict):
        out = {k: _walk(v, inner, kind, _join(path, k), rewrite) for k, v in value.items()}
        return _same_or(value, out)
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _same_or(before: Any, after: Any) -> Any:
    """Keep the original container when nothing inside it changed (identity marks "unchanged")."""
    if isinstance(before, dict):
        same = all(after[k] is v for k, v in before.items())
    else:
        same = all(a is b for a, b in zip(after, before, strict=True))
    return before if same else after


def _shape_of(annotation: Any) -> _Shape:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is typing.Annotated:
        return _shape_of(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return next((s for s in map(_shape_of, args) if s is not None), None)
    if origin in (list, tuple, set, frozenset) and args:
        return ("list", _shape_of(args[0]))
    if origin is dict and len(args) == 2:
        return ("dict", _shape_of(args[1]))
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


# -- rewriting one template or expression ---------------------------------------------------


def _rewrite_or_refuse(
    source: str, old: str, new: str, expression: bool, field: str, node: str | None
) -> tuple[str, int]:
    try:
        return rewrite_references(source, old, new, expression=expression)
    except ExpressionError as exc:
        place = f"node '{node}', {field}" if node is not None else field
        raise RenameError(f"cannot rename node '{old}': {place} {exc}") from None


class _Token(NamedTuple):
    start: int
    end: int
    kind: str
    text: str


def rewrite_references(
    source: str, old: str, new: str, *, expression: bool = False
) -> tuple[str, int]:
    """`source` with every reference to node `old` (`nodes.old`, `nodes['old']`,
    `nodes["old"]`) made one to `new`, and how many were rewritten.

    Raises `ExpressionError` when the text cannot be read or a reference is written in a way
    this cannot rewrite (such as `nodes['ol' 'd']`).
    """
    if "nodes" not in source:
        return source, 0
    refs = _references(source, expression)
    if refs is None and old not in source:
        return source, 0  # unreadable, but it does not mention the node: not ours to judge
    if refs is not None and old not in refs.nodes:
        return source, 0  # `nodes` is local here, or only `nodes.older` and the like
    edits = list(_reference_spans(_tokens(source, expression), old))
    if not edits:
        if refs is None:
            return source, 0
        raise ExpressionError(_unusual(old))
    parts, position = [], 0
    for start, end, quote in edits:
        parts += [source[position:start], f"{quote}{new}{quote}"]
        position = end
    text = "".join(parts) + source[position:]
    if refs is not None:
        after = _references(text, expression)
        if after is None or after.nodes != (refs.nodes - {old}) | {new}:
            raise ExpressionError(_unusual(old))
    return text, len(edits)


def _unusual(old: str) -> str:
    return (
        f"refers to nodes.{old} in a way that cannot be rewritten automatically; write it as "
        f"nodes.{old}.output…, then rename again"
    )


def _references(source: str, expression: bool) -> References | None:
    """What `source` refers to, or None when it does not parse (edited by hand, half typed)."""
    try:
        return parse_expression(source) if expression else parse_template(source)
    except ExpressionError:
        return None


def _tokens(source: str, expression: bool) -> list[_Token]:
    """Jinja's tokens of `source` with their places in it.

    The lexer reports no columns, normalises line ends and drops whitespace stripped by `{{-`,
    so each token is looked for from where the last one ended (only whitespace is skipped).
    """
    found: list[_Token] = []
    position = 0
    lexer = environment().lexer
    try:
        for _line, kind, text in lexer.tokeniter(
            source, None, state="variable" if expression else None
        ):
            if not text:
                continue
            match = _located(text).search(source, position)
            if match is None:  # cannot happen for a text the lexer read: a bug, not bad input
                raise AssertionError(f"token {text!r} not found in {source!r}")
            found.append(_Token(match.start(), match.end(), kind, match.group()))
            position = match.end()
    except TemplateSyntaxError as exc:
        message = f"has a syntax error ({exc.message}); fix it, then rename again"
        raise ExpressionError(message, exc.lineno) from None
    return found


def _located(text: str) -> re.Pattern[str]:
    return re.compile("(?:\r\n|\r|\n)".join(map(re.escape, text.split("\n"))))


def _reference_spans(tokens: list[_Token], old: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, quote) of each `old` that follows `nodes.` or sits in `nodes[...]`."""
    code = [t for t in tokens if t.kind != "whitespace"]
    for i, token in enumerate(code):
        if token.kind != "name" or token.text != "nodes":
            continue
        if i and code[i - 1].kind == "operator" and code[i - 1].text == ".":
            continue  # `x.nodes`: an attribute called nodes, not the context's nodes
        step = code[i + 1 : i + 4]
        if len(step) >= 2 and step[0].kind == "operator" and step[0].text == ".":
            if step[1].kind == "name" and step[1].text == old:
                yield step[1].start, step[1].end, ""
        elif (
            len(step) == 3
            and step[0].kind == "operator"
            and step[0].text == "["
            and step[1].kind == "string"
            and step[2].kind == "operator"
            and step[2].text == "]"
            and _string_value(step[1].text) == old
        ):
            quote = step[1].text[0]
            yield step[1].start, step[1].end, quote


def _string_value(raw: str) -> str | None:
    try:
        token = next(iter(environment().lexer.wrap([(1, "string", raw)])))
    except TemplateSyntaxError:
        return None
    return token.value if isinstance(token.value, str) else None

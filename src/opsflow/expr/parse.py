"""Parsing templates and expressions, and finding what they refer to.

Parsing never evaluates anything. The validator uses it to report syntax
errors, unknown filters and references to nodes that are not upstream; the
engine compiles the same sources in the same sandboxed environment.

Most templates in real flows are plain paths (`{{ nodes.check.output.status }}`)
and most conditions are one comparison. Those shapes are recognised by a
strict regular grammar (every string it accepts is valid Jinja) without
building a Jinja tree, which is about fifty times faster; everything else
goes through Jinja's parser. A property test keeps both ways in agreement.
"""

from __future__ import annotations

import functools
import json
import re
from typing import NamedTuple

from jinja2 import TemplateSyntaxError, nodes
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

#: The names an expression may read. Credentials are deliberately absent.
CONTEXT_NAMES = frozenset({"trigger", "inputs", "nodes", "vars", "item", "index", "run"})

#: Longest template or expression accepted; longer ones are refused, not parsed.
MAX_SOURCE_CHARS = 64 * 1024

_REFERENCE_ROOTS = ("nodes", "inputs", "vars")


class ExpressionError(ValueError):
    """A template or expression that cannot be used, with a sentence saying why."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


class References(NamedTuple):
    """What a template or expression reads from the run context."""

    names: frozenset[str]
    nodes: frozenset[str]
    inputs: frozenset[str]
    vars: frozenset[str]


@functools.cache
def environment() -> ImmutableSandboxedEnvironment:
    """The one sandboxed environment; `undefined` is strict so typos fail loudly.

    Its class carries the guards of evaluation (refusals, step and size limits), which live
    in `opsflow.expr.sandbox`.
    """
    from opsflow.expr.sandbox import GuardedSandbox  # the sandbox imports this module

    return GuardedSandbox()  # with the `fromjson` filter below


#: Largest text the `fromjson` filter parses.
MAX_FROMJSON_CHARS = 10 * 1024 * 1024


def from_json(text: object) -> object:
    """The `fromjson` filter: parse JSON text (e.g. a script's stdout) into data."""
    if not isinstance(text, str | bytes):
        raise ExpressionError(f"fromjson needs text, got {type(text).__name__}")
    if len(text) > MAX_FROMJSON_CHARS:
        raise ExpressionError(f"fromjson got {len(text)} characters; the limit is 10 MiB")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ExpressionError(f"fromjson could not parse its input as JSON: {exc}") from None


def is_template(source: str) -> bool:
    """Whether a string has any template syntax; plain strings need no parsing."""
    return "{{" in source or "{%" in source or "{#" in source


@functools.lru_cache(maxsize=16384)
def parse_template(source: str) -> References:
    """Parse a template such as `Disk full on {{ trigger.body.host }}`."""
    _check_size(source)
    fast = _fast_template(source)
    if fast is not None:
        return fast
    try:
        tree = environment().parse(source)
    except TemplateSyntaxError as exc:
        raise ExpressionError(_syntax_message(exc), exc.lineno) from None
    return _references(tree)


@functools.lru_cache(maxsize=16384)
def parse_expression(source: str) -> References:
    """Parse an expression such as `nodes.check.output.status != 200`."""
    _check_size(source)
    if not source.strip():
        raise ExpressionError("the expression is empty")
    if is_template(source):
        raise ExpressionError("write the expression without {{ }}, e.g. `nodes.check.output.ok`")
    fast = _fast_expression(source)
    if fast is not None:
        return fast
    env = environment()
    try:
        parser = Parser(env, source, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            token = parser.stream.current
            raise TemplateSyntaxError(
                f"unexpected '{token.value}' after the end of the expression",
                token.lineno,
            )
    except TemplateSyntaxError as exc:
        raise ExpressionError(_syntax_message(exc), exc.lineno) from None
    return _references(nodes.Template([nodes.Output([expr])]))


def _check_size(source: str) -> None:
    if len(source) > MAX_SOURCE_CHARS:
        raise ExpressionError(
            f"is {len(source)} characters long; templates are limited to {MAX_SOURCE_CHARS}"
        )


def _syntax_message(exc: TemplateSyntaxError) -> str:
    message = exc.message or "syntax error"
    return f"syntax error: {message}"


# --- the fast path: a regular subset of Jinja -------------------------------

_RESERVED = r"(?!(?:not|and|or|in|is|if|else|true|false|none|True|False|None)\b)"
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_STEP = rf"(?:\s*\.\s*{_IDENT}|\s*\[\s*(?:\d+|'[^'\\\n{{}}]*'|\"[^\"\\\n{{}}]*\")\s*\])"
_PATH = rf"{_RESERVED}{_IDENT}{_STEP}*"
_FILTERS = rf"(?:\s*\|\s*{_IDENT})*"
_LITERAL = r"(?:-?\d+(?:\.\d+)?|'[^'\\\n{}]*'|\"[^\"\\\n{}]*\"|true|false|none|True|False|None)"
_BLOCK = re.compile(rf"\{{\{{\s*({_PATH})({_FILTERS})\s*\}}\}}")
_FILTER_NAME = re.compile(rf"\|\s*({_IDENT})")
_EXPRESSION = re.compile(
    rf"\s*(?:not\s+)?({_PATH})\s*(?:(?:==|!=|<=|>=|<|>)\s*(?:{_LITERAL}|({_PATH}))\s*)?"
)
_ROOT_STEP = re.compile(rf"^({_IDENT})\s*(?:\.\s*({_IDENT})|\[\s*(?:'([^']*)'|\"([^\"]*)\")\s*\])?")


def _fast_template(source: str) -> References | None:
    """References of a template made only of text and `{{ path | filter }}` blocks."""
    if "{%" in source or "{#" in source:
        return None
    paths: list[str] = []
    position = 0
    for match in _BLOCK.finditer(source):
        if "{{" in source[position : match.start() + 1]:
            return None  # an opening the grammar did not take: let Jinja judge it
        block = match.group(0)
        for name in _FILTER_NAME.findall(
            block[block.index(match.group(1)) + len(match.group(1)) :]
        ):
            if name not in environment().filters:
                return None  # Jinja reports the unknown filter
        paths.append(match.group(1))
        position = match.end()
    if "{{" in source[position:]:
        return None
    return _path_references(paths)


def _fast_expression(source: str) -> References | None:
    match = _EXPRESSION.fullmatch(source)
    if match is None:
        return None
    return _path_references([p for p in match.groups() if p is not None])


_NOTHING: frozenset[str] = frozenset()


def _path_references(paths: list[str]) -> References:
    names: set[str] = set()
    found: dict[str, set[str]] = {}
    for path in paths:
        step = _ROOT_STEP.match(path)
        assert step is not None  # the path grammar starts with an identifier
        root, attribute = step.group(1), step.group(2) or step.group(3) or step.group(4)
        names.add(root)
        if root in _REFERENCE_ROOTS and attribute is not None:
            found.setdefault(root, set()).add(attribute)
    return References(
        frozenset(names),
        frozenset(found["nodes"]) if "nodes" in found else _NOTHING,
        frozenset(found["inputs"]) if "inputs" in found else _NOTHING,
        frozenset(found["vars"]) if "vars" in found else _NOTHING,
    )


# --- the general path: Jinja's tree -----------------------------------------


def _references(tree: nodes.Template) -> References:
    """Context names read, and which nodes/inputs/vars, from a parsed tree.

    Names assigned anywhere in the template (set, for, macro parameters) are
    treated as local everywhere in it: simpler than Jinja's scoping and only
    ever hides a reference, never invents one. Unknown filters and tests are
    errors here, as they would be when the engine compiles the template.
    """
    env = environment()
    loaded: set[str] = set()
    local: set[str] = set()
    for name in tree.find_all(nodes.Name):
        (loaded if name.ctx == "load" else local).add(name.name)
    for filter_node in tree.find_all(nodes.Filter):
        if filter_node.name not in env.filters:
            raise ExpressionError(f"there is no filter named '{filter_node.name}'")
    for test_node in tree.find_all(nodes.Test):
        if test_node.name not in env.tests:
            raise ExpressionError(f"there is no test named '{test_node.name}'")
    names = loaded - local
    found: dict[str, set[str]] = {root: set() for root in _REFERENCE_ROOTS}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node  # type: ignore[attr-defined]
        if not isinstance(target, nodes.Name) or target.name not in names:
            continue
        if target.name not in found:
            continue
        if isinstance(node, nodes.Getattr):
            found[target.name].add(node.attr)
        elif isinstance(node, nodes.Getitem):
            arg = node.arg
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                found[target.name].add(arg.value)
    return References(
        names=frozenset(names),
        nodes=frozenset(found["nodes"]),
        inputs=frozenset(found["inputs"]),
        vars=frozenset(found["vars"]),
    )

"""Parsing templates and expressions, and finding what they refer to.

Parsing never evaluates anything. The validator uses it to report syntax
errors and references to nodes that are not upstream; the engine compiles
the same sources in the same sandboxed environment before it renders them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment

#: The names an expression may read. Credentials are deliberately absent.
CONTEXT_NAMES = frozenset({"trigger", "inputs", "nodes", "vars", "item", "index", "run"})

#: Longest template or expression accepted; longer ones are refused, not parsed.
MAX_SOURCE_CHARS = 64 * 1024


class ExpressionError(ValueError):
    """A template or expression that cannot be used, with a sentence saying why."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


@dataclass(frozen=True)
class References:
    """What a template or expression reads from the run context."""

    names: frozenset[str]
    nodes: frozenset[str]
    inputs: frozenset[str]
    vars: frozenset[str]


@functools.cache
def environment() -> ImmutableSandboxedEnvironment:
    """The one sandboxed environment; `undefined` is strict so typos fail loudly."""
    from jinja2 import StrictUndefined

    return ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)


def is_template(source: str) -> bool:
    """Whether a string has any template syntax; plain strings need no parsing."""
    return "{{" in source or "{%" in source or "{#" in source


@functools.lru_cache(maxsize=4096)
def parse_template(source: str) -> References:
    """Parse a template such as `Disk full on {{ trigger.body.host }}`."""
    _check_size(source)
    try:
        tree = environment().parse(source)
    except TemplateSyntaxError as exc:
        raise ExpressionError(_syntax_message(exc), exc.lineno) from None
    return _references(tree)


@functools.lru_cache(maxsize=4096)
def parse_expression(source: str) -> References:
    """Parse an expression such as `nodes.check.output.status != 200`."""
    _check_size(source)
    if not source.strip():
        raise ExpressionError("the expression is empty")
    if is_template(source):
        raise ExpressionError("write the expression without {{ }}, e.g. `nodes.check.output.ok`")
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
    tree = nodes.Template([nodes.Output([expr])])
    tree.set_environment(env)
    return _references(tree)


def _check_size(source: str) -> None:
    if len(source) > MAX_SOURCE_CHARS:
        raise ExpressionError(
            f"is {len(source)} characters long; templates are limited to {MAX_SOURCE_CHARS}"
        )


def _syntax_message(exc: TemplateSyntaxError) -> str:
    message = exc.message or "syntax error"
    return f"syntax error: {message}"


def _references(tree: nodes.Template) -> References:
    names = frozenset(meta.find_undeclared_variables(tree))
    found: dict[str, set[str]] = {"nodes": set(), "inputs": set(), "vars": set()}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node  # type: ignore[attr-defined]
        if not isinstance(target, nodes.Name) or target.name not in found:
            continue
        if target.name not in names:
            continue  # a local variable that shadows a context name
        if isinstance(node, nodes.Getattr):
            found[target.name].add(node.attr)
        elif isinstance(node, nodes.Getitem):
            arg = node.arg
            if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                found[target.name].add(arg.value)
    return References(
        names=names,
        nodes=frozenset(found["nodes"]),
        inputs=frozenset(found["inputs"]),
        vars=frozenset(found["vars"]),
    )

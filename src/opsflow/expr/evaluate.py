"""Evaluating templates and expressions against a run's context, within limits of work and size.

It compiles and runs them; the guarded sandbox in `opsflow.expr.sandbox` enforces the limits.
Each call to `evaluate_expression` or `render_template`, and each `Rendering` (all of a node's
parameters together), may use:

- at most `MAX_STEPS` (1,000,000) evaluation steps: 1 per lookup, operator, comparison, test,
  loop iteration, output and item passing through a filter, 4 per call or filter, 100 per
  macro call, and 1 per 16 characters of text or data made, copied, compared or measured (the
  weights are in `opsflow.expr.sandbox`). The count is the same on every machine, so the same
  expression is refused everywhere, and no clock is read below 4096 steps;
- results of at most `MAX_OUTPUT_CHARS` (1 MiB; text, or data counted as JSON-like text;
  a `Rendering`'s values together), and so for every string, list or mapping built along
  the way (a filter's output or the items `map` makes, a format field, an operand of `*`,
  `+`, `~`), checked before it is built where it can be; output and captured text together
  at most 4 MiB; nesting at most `MAX_DEPTH` (200) levels; integers at most
  `MAX_INT_DIGITS` (4300) digits; `range()` at most 100,000 items;
- as a last resort, 10 s of wall-clock time counted from the 4096th step, checked every
  4096 steps.

A refusal is an `ExpressionError` whose message is one sentence naming the limit, e.g. "the
expression used more than 1000000 evaluation steps; simplify it or move the work into a
script step".
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, cast

from jinja2 import Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.sandbox import MAX_RANGE
from jinja2.visitor import NodeTransformer

from opsflow.expr.parse import (
    CONTEXT_NAMES,
    ExpressionError,
    environment,
    is_template,
    parse_expression,
    parse_template,
)
from opsflow.expr.sandbox import ACTIVE_BUDGET, Budget, Sizer, describe_size
from opsflow.expr.sandbox import MAX_DEPTH as MAX_DEPTH
from opsflow.expr.sandbox import MAX_INT_BITS as MAX_INT_BITS
from opsflow.expr.sandbox import MAX_INT_DIGITS as MAX_INT_DIGITS
from opsflow.expr.sandbox import MAX_OUTPUT_CHARS as MAX_OUTPUT_CHARS
from opsflow.expr.sandbox import MAX_STEPS as MAX_STEPS
from opsflow.expr.sandbox import PRODUCED_FACTOR as PRODUCED_FACTOR

_OUTSIDE_FOREACH: Any = object()


def build_context(
    *,
    trigger: Any,
    inputs: Mapping[str, Any],
    nodes: Mapping[str, Mapping[str, Any]],
    vars: Mapping[str, Any],
    run: Mapping[str, Any],
    item: Any = _OUTSIDE_FOREACH,
    index: int | None = None,
) -> dict[str, Any]:
    """The names an expression reads, from plain JSON-like data; credentials are never here.

    `nodes` maps each finished node's id to its result, `{"output": ...}`. `item` and
    `index` exist only for the items of a for-each node, so leave them out elsewhere.
    """
    for node_id, result in nodes.items():
        if not isinstance(result, Mapping) or "output" not in result:
            raise ValueError(f"nodes[{node_id!r}] must be a mapping with an 'output' key")
    context = {"trigger": trigger, "inputs": inputs, "nodes": nodes, "vars": vars, "run": run}
    if item is not _OUTSIDE_FOREACH:
        context["item"] = item
    if index is not None:
        context["index"] = index
    return context


def evaluate_expression(
    source: str,
    context: Mapping[str, Any],
    *,
    max_steps: int = MAX_STEPS,
    max_output_chars: int = MAX_OUTPUT_CHARS,
) -> Any:
    """The native value of an expression such as `nodes.check.output.status != 200`."""
    return _run(source, context, True, Budget(max_steps, max_output_chars))


def render_template(
    source: str,
    context: Mapping[str, Any],
    *,
    max_steps: int = MAX_STEPS,
    max_output_chars: int = MAX_OUTPUT_CHARS,
) -> Any:
    """Render a template once: the native value of a lone `{{ expr }}`, text otherwise.

    A string without template syntax comes back as it is, without Jinja.
    """
    if not is_template(source):
        return source
    return _run(source, context, False, Budget(max_steps, max_output_chars))


class Rendering:
    """Several templates and expressions rendered against one context as one evaluation: they
    share one step budget, and their results together are held to the size limit.

    A run renders all of a node's parameters through one.
    """

    def __init__(
        self,
        context: Mapping[str, Any],
        *,
        max_steps: int = MAX_STEPS,
        max_output_chars: int = MAX_OUTPUT_CHARS,
    ) -> None:
        self._context = context
        self._budget = Budget(max_steps, max_output_chars)
        self._rendered = Sizer(max_output_chars, strict=False)

    def render(self, source: str, *, expression: bool) -> Any:
        """The value of an expression, or of a template rendered once (text, or the native
        value of a lone `{{ expr }}`); `ExpressionError` when it fails or breaks a limit."""
        result = _run(source, self._context, expression, self._budget)
        self._rendered.measure(result)
        return result


# --- running one template or expression -------------------------------------


_INCLUDES: tuple[type[nodes.Node], ...] = (
    nodes.Extends,
    nodes.Include,
    nodes.Import,
    nodes.FromImport,
)


class _Compiled(NamedTuple):
    template: Template
    native: bool  # the template assigns its one expression's value to `result`


def _run(source: str, context: Mapping[str, Any], expression: bool, budget: Budget) -> Any:
    unknown = set(context) - CONTEXT_NAMES
    if unknown:
        raise ValueError(f"not run-context names: {sorted(unknown)}; use build_context()")
    template = None
    try:
        # Compiled outside the budget, and once per source: compiling costs no steps, so an
        # evaluation costs the same whether its template was compiled before or not.
        template, native = _compile(source, expression)
    except Exception as exc:
        raise _explain(exc, template) from exc
    budget.context, budget.produced = context, 0  # steps go on counting across one call
    token = ACTIVE_BUDGET.set(budget)
    try:
        run_context = template.new_context(dict(context))
        if native:
            for _ in template.root_render_func(run_context):
                budget.spend()
            result = Sizer(budget.max_chars, strict=True).data(run_context.vars["result"])
        else:
            result = _collect(template.root_render_func(run_context), budget)
        budget.spend(0)  # steps spent inside code that swallowed the refusal still count
        return result
    except Exception as exc:
        raise _explain(exc, template) from exc
    finally:
        ACTIVE_BUDGET.reset(token)


def _collect(chunks: Iterable[str], budget: Budget) -> str:
    parts, total = [], 0
    for chunk in chunks:
        budget.spend_chars(len(chunk))
        total += len(chunk)
        if total > budget.max_chars:
            raise ExpressionError(f"the result is larger than {describe_size(budget.max_chars)}")
        parts.append(chunk)
    return "".join(parts)


@functools.lru_cache(maxsize=4096)
def _compile(source: str, expression: bool) -> _Compiled:
    """Compile once per source: the same node renders the same strings every run."""
    env = environment()
    try:
        if expression:
            parse_expression(source)  # the validator's errors, word for word
            body: nodes.Expr | None = Parser(env, source, state="variable").parse_expression()
        else:
            parse_template(source)
            tree = env.parse(source)
            body = _lone_expression(tree)
        if body is not None:
            tree = nodes.Template([nodes.Assign(nodes.Name("result", "store"), body)])
        if any(True for _ in tree.find_all(_INCLUDES)):
            raise ExpressionError("refused: templates cannot include, import or extend templates")
        tree = _GuardLoopsAndJoins().visit(tree)
        tree.set_environment(env).set_lineno(1)
        return _Compiled(env.from_string(tree), body is not None)
    except TemplateSyntaxError as exc:
        raise ExpressionError(f"syntax error: {exc.message}", exc.lineno) from None
    except RecursionError:
        raise ExpressionError("is nested too deeply to be read") from None


def _lone_expression(tree: nodes.Template) -> nodes.Expr | None:
    """The expression of a template that is one `{{ expr }}` block, give or take whitespace."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    found = [
        node
        for node in tree.body[0].nodes
        if not (isinstance(node, nodes.TemplateData) and not node.data.strip())
    ]
    if len(found) == 1 and not isinstance(found[0], nodes.TemplateData):
        return found[0]
    return None


class _GuardLoopsAndJoins(NodeTransformer):
    """Route each for loop through `guarded_iter`, each `~` through `join_text`, each
    compared value through `compared`, and each list, tuple or mapping built from variables
    through `checked_data`.
    """

    def visit_Compare(self, node: nodes.Compare) -> nodes.Node:
        self.generic_visit(node)
        node.expr = self._compared(node.expr)
        for operand in node.ops:
            operand.expr = self._compared(operand.expr)
        return node

    @staticmethod
    def _compared(expr: nodes.Expr) -> nodes.Expr:
        if isinstance(expr, nodes.Const):
            return expr
        return _call_environment("compared", expr, expr.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _call_environment("guarded_iter", node.iter, node.lineno)
        return node

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        self.generic_visit(node)
        if isinstance(node.arg, nodes.Slice):  # compiled as Python's own slicing, unseen
            return _call_environment("sliced", node, node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _call_environment("join_text", nodes.List(node.nodes), node.lineno)

    def visit_List(self, node: nodes.List | nodes.Tuple | nodes.Dict) -> nodes.Node:
        # Items repeated by reference ([a, a], then [b, b] ...) grow exponentially cheaply,
        # and comparing or printing such a value would never end.
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load" or all(
            isinstance(child, nodes.Const) for child in node.find_all(nodes.Expr)
        ):
            return node
        return _call_environment("checked_data", node, node.lineno)

    visit_Tuple = visit_Dict = visit_List


def _call_environment(method: str, argument: nodes.Node, lineno: int) -> nodes.Call:
    argument = cast(nodes.Expr, argument)
    return nodes.Call(nodes.EnvironmentAttribute(method), [argument], [], None, None, lineno=lineno)


def _explain(exc: Exception, template: Template | None) -> ExpressionError:
    line = None
    if template is not None:
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<template>":
                line = template.get_corresponding_lineno(tb.tb_lineno)
            tb = tb.tb_next
    if isinstance(exc, ExpressionError):
        message = str(exc)
        line = exc.line if exc.line is not None else line
    elif isinstance(exc, SecurityError):
        message = f"refused: {exc}"
    elif isinstance(exc, TemplateError):
        message = exc.message or type(exc).__name__
    elif isinstance(exc, OverflowError) and "MAX_RANGE" in str(exc):
        message = f"refused: range() is limited to {MAX_RANGE} items"
    elif isinstance(exc, OverflowError):
        message = f"a number is too large: {exc}"
    elif isinstance(exc, RecursionError):
        message = "refused: calls nested too deeply (a macro or recursive loop that never ends?)"
    elif isinstance(exc, ZeroDivisionError):
        message = "division by zero"
    else:
        message = f"could not evaluate: {exc}"
    return ExpressionError(message, line)

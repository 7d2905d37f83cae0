"""Expressions and templates: the only place Jinja is used, always sandboxed."""

from opsflow.expr.evaluate import (
    MAX_OUTPUT_CHARS,
    MAX_STEPS,
    Rendering,
    build_context,
    evaluate_expression,
    render_template,
)
from opsflow.expr.parse import (
    CONTEXT_NAMES,
    ExpressionError,
    References,
    is_template,
    parse_expression,
    parse_template,
)

__all__ = [
    "CONTEXT_NAMES",
    "MAX_OUTPUT_CHARS",
    "MAX_STEPS",
    "ExpressionError",
    "References",
    "Rendering",
    "build_context",
    "evaluate_expression",
    "is_template",
    "parse_expression",
    "parse_template",
    "render_template",
]

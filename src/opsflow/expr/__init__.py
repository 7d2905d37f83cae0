"""Expressions and templates: the only place Jinja is used, always sandboxed."""

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
    "ExpressionError",
    "References",
    "is_template",
    "parse_expression",
    "parse_template",
]

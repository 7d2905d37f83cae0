"""Parsing templates and expressions: syntax errors and what they refer to."""

from __future__ import annotations

import pytest

from opsflow.expr import ExpressionError, is_template, parse_expression, parse_template


def test_template_references() -> None:
    refs = parse_template(
        "{{ trigger.body.host }} {{ nodes.check.output.status }} {{ nodes['disk'].output }}"
        "{% for x in vars.items %}{{ x }}{% endfor %}{{ inputs.unit }}"
    )
    assert refs.nodes == {"check", "disk"}
    assert refs.names == {"trigger", "nodes", "vars", "inputs"}
    assert refs.inputs == {"unit"} and refs.vars == {"items"}


def test_local_variables_shadow_context_names() -> None:
    refs = parse_template("{% set nodes = {'a': 1} %}{{ nodes.a }}")
    assert refs.nodes == frozenset()


def test_expression_references() -> None:
    refs = parse_expression("nodes.check.output.status != 200 and inputs.env == 'prod'")
    assert refs.nodes == {"check"} and refs.inputs == {"env"}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("nodes.check.output.status !=", "syntax error"),
        ("a b", "unexpected 'b'"),
        ("{{ x }}", "without {{ }}"),
        ("   ", "empty"),
        ("x" * 70_000, "limited to"),
    ],
)
def test_bad_expressions(source: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        parse_expression(source)


@pytest.mark.parametrize("source", ["{{ x ", "{% if %}", "{{ a | }}", "{% for %}"])
def test_bad_templates(source: str) -> None:
    with pytest.raises(ExpressionError, match="syntax error"):
        parse_template(source)


def test_plain_strings_are_not_templates() -> None:
    assert not is_template("systemctl restart nginx")
    assert is_template("{{ x }}") and is_template("{% if a %}b{% endif %}")

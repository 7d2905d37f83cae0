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


# --- the fast path agrees with Jinja's parser ---------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from opsflow.expr import parse as parse_module  # noqa: E402

identifiers = st.sampled_from(
    [
        "nodes",
        "trigger",
        "inputs",
        "vars",
        "run",
        "check",
        "output",
        "status",
        "not",
        "in",
        "if",
        "true",
        "None",
        "a_1",
        "_x",
        "body",
    ]
)
steps = st.one_of(
    identifiers.map(lambda name: f".{name}"),
    st.integers(0, 9).map(lambda i: f"[{i}]"),
    st.sampled_from(
        ["['web-01']", '["x"]', "[ 'a b' ]", "[x]", ". status", "['it''s']", "['}}']", "['{{']"]
    ),
)
paths = st.tuples(identifiers, st.lists(steps, max_size=4)).map(lambda t: t[0] + "".join(t[1]))
filters = st.lists(st.sampled_from(["tojson", "lower", "nosuchfilter", "length"]), max_size=2).map(
    lambda names: "".join(f" | {n}" for n in names)
)
texts = st.sampled_from(["", "Disk full on ", " and ", "{", "}", "{{", "}}", " {% raw %}", "\n"])
blocks = st.tuples(paths, filters).map(lambda t: "{{ " + t[0] + t[1] + " }}")
templates = st.lists(st.one_of(texts, blocks), max_size=5).map("".join)
operators = st.sampled_from(
    ["", " == 0", " != 'ok'", " >= -1.5", " < nodes.x.y", " == true", " =", " == '}'", "=="]
)
expressions = st.tuples(st.sampled_from(["", "not "]), paths, operators).map("".join)


def _slow(parse: object, source: str) -> object:
    original = (parse_module._fast_template, parse_module._fast_expression)
    parse_module._fast_template = lambda _s: None  # type: ignore[assignment]
    parse_module._fast_expression = lambda _s: None  # type: ignore[assignment]
    try:
        return _outcome(parse, source)
    finally:
        parse_module._fast_template, parse_module._fast_expression = original


def _outcome(parse: object, source: str) -> object:
    try:
        return parse.__wrapped__(source)  # type: ignore[attr-defined]
    except ExpressionError:
        return "error"


@settings(max_examples=1000, deadline=None)
@given(templates)
def test_fast_template_path_agrees_with_jinja(source: str) -> None:
    assert _outcome(parse_template, source) == _slow(parse_template, source)


@settings(max_examples=1000, deadline=None)
@given(expressions)
def test_fast_expression_path_agrees_with_jinja(source: str) -> None:
    assert _outcome(parse_expression, source) == _slow(parse_expression, source)


def test_fromjson_filter_is_known_and_bounded() -> None:
    from opsflow.expr.parse import environment, from_json

    assert parse_template("{{ nodes.s.output.stdout | fromjson }}").nodes == {"s"}
    assert environment().from_string("{{ ('[1, 2]' | fromjson)[1] }}").render() == "2"
    with pytest.raises(ExpressionError, match="could not parse"):
        from_json("{not json")
    with pytest.raises(ExpressionError, match="needs text"):
        from_json(42)


def test_unknown_filters_and_tests_are_syntax_errors() -> None:
    with pytest.raises(ExpressionError, match="no filter named 'shout'"):
        parse_template("{{ trigger.body | shout }}")
    with pytest.raises(ExpressionError, match="no test named 'prime'"):
        parse_expression("inputs.n is prime")

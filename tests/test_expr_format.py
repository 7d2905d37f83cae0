"""Formatting text in expressions: the `format` filter gives what Python's `%` gives, and no
shape of format text gets a wide field past the size limit; `str.format` stays refused."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from opsflow.expr import MAX_OUTPUT_CHARS, ExpressionError, build_context, render_template

CONTEXT = build_context(trigger={"n": 7}, inputs={}, nodes={}, vars={}, run={})


def fmt(text: str, values: Any, limit: int = MAX_OUTPUT_CHARS, *, markup: bool = False) -> str:
    """`text | format(...)`, the values given by position (a tuple) or by name (a dict)."""
    call = "format(**vars.values)" if isinstance(values, dict) else "format(*vars.values)"
    source = f"{{{{ vars.text {'| safe ' if markup else ''}| {call} }}}}"
    context = {**CONTEXT, "vars": {"text": text, "values": values}}
    found = render_template(source, context, max_output_chars=limit)
    assert isinstance(found, str)
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ '%s-%05d %.2f' | format('ab', 7, 1.234) }}", "ab-00007 1.23"),
        ("{{ '%(host)s:%(port)d' | format(host='web-01', port=80) }}", "web-01:80"),
        ("{{ '%(a(b))d' | format(**{'a(b)': 3}) }}", "3"),
        ("{{ '100%%' | format() }}", "100%"),
        ("{{ '%-6s|%6s|' | format('ab', 'cd') }}", "ab    |    cd|"),
        ("{{ '%*d|%-*d|' | format(4, 1, -4, 2) }}", "   1|2   |"),
        ("{{ '%.*f' | format(3, 2.5) }}", "2.500"),
        ("{{ '%x %o %#X %e %c %r' | format(255, 8, 255, 12345.678, 65, 'a') }}",
         "ff 10 0XFF 1.234568e+04 A 'a'"),
        ("{{ '%s' | format(none) }}", "None"),
        ("{{ [1, 2] | format() }}", "[1, 2]"),
        ("{{ '%s' | format(trigger) }}", "{'n': 7}"),
    ],
)  # fmt: skip
def test_formatting_text_still_works(source: str, expected: str) -> None:
    assert render_template(source, CONTEXT) == expected


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("%(a(b))600000000d", {"a(b)": 1}),  # the key's parentheses hid the width
        ("%(a(b)c(d))600000000d", {"a(b)c(d)": 1}),
        ("%((((a))))600000000s", {"(((a)))": "x"}),
        ("%(a)-+ #0600000000d", {"a": 1}),
        ("%600000000d", (1,)),
        ("%-600000000s", ("x",)),
        ("%0600000000x", (1,)),
        ("%.600000000f", (1.5,)),
        ("%.600000000d", (1,)),
        ("%.600000000s", ("x",)),
        ("%h600000000d", (1,)),  # not a spec Python takes: refused or rejected, never run
        ("%l.600000000d", (1,)),
        ("%*d", (600000000, 1)),
        ("%*d", (-600000000, 1)),
        ("%.*f", (600000000, 1.5)),
        ("%99999999999999999999999999d", (1,)),
        ("x" * 100 + "%600000000c", ("a",)),
    ],
)
def test_no_spec_shape_hides_a_wide_field(text: str, values: Any) -> None:
    started = time.monotonic()
    with pytest.raises(ExpressionError, match=r"format field that wide|unsupported format"):
        fmt(text, values)
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("%(a)s" * 3000, {"a": "x" * 300_000}),  # each field fits; together they do not
        ("%s" * 2000, ("x" * 1000,) * 2000),
        ("%(a)500000s%(a)600000s", {"a": "x"}),
        ("%.1000000f%.1000000f", (1.0, 1.0)),
        ("%1000000d" * 2, (1, 1)),
    ],
)
def test_fields_together_stay_within_the_limit(text: str, values: Any) -> None:
    with pytest.raises(ExpressionError, match=r"(formatted text would be|result is) larger than 1"):
        fmt(text, values)


def test_the_limit_is_the_callers() -> None:
    assert fmt("%18s", ("x",), limit=20) == " " * 17 + "x"  # 20 characters, quoted
    with pytest.raises(ExpressionError, match="format field that wide would be larger than 20"):
        fmt("%21s", ("x",), limit=20)
    with pytest.raises(ExpressionError, match="formatted text would be larger than 20 char"):
        fmt("%(a)s%(a)s%(a)s", {"a": "x" * 8}, limit=20)


@pytest.mark.parametrize(
    "source",
    [
        "{{ '{:600000000}'.format(1) }}",
        "{{ '{:{w}}'.format(1, w=600000000) }}",
        "{{ '{0:{1}}'.format(1, 600000000) }}",
        "{{ '{a:600000000}'.format_map({'a': 1}) }}",
        "{{ ('{:600000000}' | safe).format(1) }}",
        "{{ '{:600000000}'['format'](1) }}",
        "{{ '{:600000000}' | attr('for' ~ 'mat') }}",
        "{{ ['{:600000000}'] | map(attribute='format') | first }}",
        "{{ '{:600000000}'.format }}",
    ],
)
def test_str_format_is_refused_however_it_is_reached(source: str) -> None:
    with pytest.raises(ExpressionError, match=r"str\.format(_map)? is not available"):
        render_template(source, CONTEXT)


@pytest.mark.parametrize(
    "source",
    ["{{ '%(a(b))600000000d' % {'a(b)': 1} }}", "{{ '%600000000d' % 1 }}", "{{ '%s' % 'x' }}"],
)
def test_the_percent_operator_on_text_is_refused(source: str) -> None:
    with pytest.raises(ExpressionError, match="'%' formatting of text is not available"):
        render_template(source, CONTEXT)


# --- the same result as Python's `%`, for any format text -------------------

_PIECES = st.sampled_from(
    [
        "%", "%%", "s", "d", "i", "u", "x", "X", "o", "e", "E", "f", "F", "g", "G", "c", "r", "a",
        "(", ")", "(a)", "(a(b))", "(b", "-", "+", " ", "#", "0", "*", ".", ".*", "1", "5", "12",
        "h", "l", "L", "q", "ab", "\n", "é",
    ]
)  # fmt: skip
_VALUES = st.one_of(
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
    st.lists(st.integers(0, 9), max_size=3),
)
_ARGS = st.one_of(
    st.lists(_VALUES, max_size=4).map(tuple),
    st.dictionaries(st.sampled_from(["a", "a(b)", "b", "(b", "x"]), _VALUES, max_size=3),
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_PIECES, max_size=10).map("".join), _ARGS, st.booleans())
def test_the_same_result_as_python(text: str, values: Any, markup: bool) -> None:
    try:  # the filter formats with its values by name if it has any, else by position
        expected: str | None = (Markup(text) if markup else text) % (values or ())
    except (TypeError, ValueError, KeyError, OverflowError):
        expected = None
    try:
        found: str | None = fmt(text, values, markup=markup)
    except ExpressionError:
        found = None
    assert found == expected

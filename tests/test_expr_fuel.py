"""The evaluation budget: a count of steps that is the same on every machine, no clock on the
normal path, a last-resort clock, and memory that grows little beyond the size limit."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from opsflow.catalog.builtin.actions_flow import SetVarsParams
from opsflow.catalog.fields import render_params
from opsflow.expr import (
    MAX_STEPS,
    ExpressionError,
    build_context,
    evaluate_expression,
    render_template,
    sandbox,
)
from tests.flowdocs import ROOT

CONTEXT = build_context(
    trigger={
        "body": {"host": "web-01", "alerts": [{"status": "firing", "n": i} for i in range(50)]}
    },
    inputs={"port": 8080, "service": "nginx"},
    nodes={"check": {"output": {"status": 503, "body": "down", "lines": ["a", "b"] * 50}}},
    vars={"threshold": 90, "names": ["a", "b"]},
    run={"id": "run-0001"},
)

#: Templates and expressions like those in real flows.
TYPICAL = [
    "Disk full on {{ trigger.body.host }}",
    "{{ nodes.check.output.status }}",
    "{{ inputs.service | upper }} on port {{ inputs.port }}",
    "{{ trigger.body.alerts | selectattr('status', 'eq', 'firing') | map(attribute='n') | list }}",
    "{% for line in nodes.check.output.lines %}{{ loop.index }}: {{ line }}\n{% endfor %}",
    "{{ '%s is %d%% full' | format(trigger.body.host, vars.threshold) }}",
    "{{ nodes.check.output | tojson }}",
    "{% if nodes.check.output.status >= 500 %}down{% else %}up{% endif %}",
]
EXPRESSIONS = [
    "nodes.check.output.status != 200",
    "trigger.body.alerts | length > 3 and 'a' in vars.names",
    "nodes.check.output.body == 'down' or vars.threshold < 50",
]


def steps_of(source: str, *, expression: bool = False) -> int:
    """The fewest steps with which `source` evaluates (found by bisection)."""
    evaluate = evaluate_expression if expression else render_template
    low, high = 0, MAX_STEPS
    while low < high:
        middle = (low + high) // 2
        try:
            evaluate(source, CONTEXT, max_steps=middle)
            high = middle
        except ExpressionError:
            low = middle + 1
    return low


@pytest.fixture
def no_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock refuses to be read on this thread (other threads, such as a journal
    writer left by an earlier test, keep theirs)."""
    real, here = time.monotonic, threading.get_ident()

    def refuse() -> float:
        if threading.get_ident() == here:
            raise AssertionError("the clock was read")
        return real()

    monkeypatch.setattr(time, "monotonic", refuse)


@pytest.mark.usefixtures("no_clock")
def test_no_clock_is_read_on_the_normal_path() -> None:
    for source in TYPICAL:
        render_template(source, CONTEXT)
    for source in EXPRESSIONS:
        evaluate_expression(source, CONTEXT)
    params = SetVarsParams(values={"a": TYPICAL[0], "b": [TYPICAL[3]], "c": 1})
    assert render_params(params, CONTEXT)["values"]["a"] == "Disk full on web-01"


def test_typical_templates_use_a_tiny_part_of_the_fuel() -> None:
    used = [steps_of(source) for source in TYPICAL]
    used += [steps_of(source, expression=True) for source in EXPRESSIONS]
    assert max(used) < MAX_STEPS // 100, used


def test_the_step_count_does_not_depend_on_time(monkeypatch: pytest.MonkeyPatch) -> None:
    source = "{% for i in range(50) %}{{ trigger.body.alerts[i].n * 2 }},{% endfor %}"
    needed = steps_of(source)
    assert [steps_of(source) for _ in range(3)] == [needed] * 3
    clock = itertools.count(0, 3600)  # an hour passes at every reading
    monkeypatch.setattr(time, "monotonic", lambda: float(next(clock)))
    assert needed < sandbox.CLOCK_EVERY and steps_of(source) == needed
    render_template(source, CONTEXT, max_steps=needed)
    with pytest.raises(ExpressionError, match=f"used more than {needed - 1} evaluation steps"):
        render_template(source, CONTEXT, max_steps=needed - 1)


def test_a_params_budget_covers_all_its_values() -> None:
    source = "{% for i in range(2000) %}{{ i }}{% endfor %}"
    needed = steps_of(source)
    render_params(SetVarsParams(values={"a": source}), CONTEXT, max_steps=needed)
    with pytest.raises(ExpressionError, match=r"values\.b: the expression used more than"):
        render_params(SetVarsParams(values={"a": source, "b": source}), CONTEXT, max_steps=needed)


def test_the_last_resort_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    readings: list[float] = []

    def slow_clock() -> float:  # each reading finds a second gone by
        readings.append(float(len(readings)))
        return readings[-1]

    monkeypatch.setattr(time, "monotonic", slow_clock)
    source = "{% for a in range(100000) %}{% for b in range(100) %}{% endfor %}{% endfor %}"
    with pytest.raises(
        ExpressionError,
        match=r"^the expression ran for more than 10 s; simplify it or move the work into a "
        r"script step$",
    ):
        render_template(source, CONTEXT)
    # first read at step 4096, then once per 4096 steps until more than 10 s have passed
    assert len(readings) == 12


@pytest.mark.parametrize(
    "source",
    [
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(40) }}",
        "{% for a in range(100000) %}{{ range(100000) | sum }}{% endfor %}",
        "{% for a in range(100000) %}{% set d = dict(a=a) %}{% endfor %}",
        "{% set ns = namespace(s=[]) %}{% for a in range(100000) %}"
        "{% set ns.s = ns.s + [a] %}{% endfor %}",
        "{% for a in range(100000) %}{{ trigger.body | tojson | length }}{% endfor %}",
        "{% for a in range(100000) %}{{ '%s-%05d' | format('x', a) }}{% endfor %}",
    ],
)
def test_the_fuel_runs_out_in_about_a_second(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(ExpressionError, match=f"used more than {MAX_STEPS} evaluation steps"):
        render_template(source, CONTEXT)
    assert time.monotonic() - started < 5  # about 1 s here; loosely, for slower machines


# --- memory -----------------------------------------------------------------

_BIG = "range(3000) | map('string') | map('center', 10**6)"  # 3 GB, were it all made


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


@pytest.mark.usefixtures("traced")
@pytest.mark.parametrize(
    "source",
    [
        f"{{{{ {_BIG} | list | length }}}}",
        f"{{{{ {_BIG} | sort | first | length }}}}",
        f"{{{{ {_BIG} | join | length }}}}",
        f"{{{{ {_BIG} | batch(3) | list | length }}}}",
        f"{{{{ {_BIG} | unique | list | length }}}}",
        f"{{{{ {_BIG} | groupby('0') | length }}}}",
        "{{ '%(a(b))600000000d' | format(**{'a(b)': 1}) }}",
        "{{ ('%(a)s' * 3000) | format(a='x' * 300000) }}",
        "{{ ['%600000000d'] | format(1) }}",
        "{% set ns = namespace(a=range(10000) | list) %}{% for i in range(100) %}"
        "{% set ns.a = [ns.a] %}{% endfor %}{{ ns.a | tojson(indent=32) | length }}",
        "".join(f"{{% set a{i} = 'x' | center(10**6) %}}" for i in range(300)),
        "{% set t = '[' ~ ('[],' * 200000) ~ '[]]' %}{% set a = t | fromjson %}"
        "{% set b = t | fromjson %}{% set c = t | fromjson %}{% set d = t | fromjson %}",
        "{% macro f(n) %}{% set s = 'x' | center(10**6) %}{% if n %}{{ f(n - 1) }}{% endif %}"
        "{% endmacro %}{{ f(150) }}",
    ],
)
def test_memory_stays_near_the_size_limit(source: str) -> None:
    tracemalloc.reset_peak()
    with pytest.raises(ExpressionError) as refused:
        render_template(source, CONTEXT)
    peak = tracemalloc.get_traced_memory()[1]
    assert peak < 40 * 1024 * 1024, f"{peak / 2**20:.0f} MiB: {refused.value}"
    assert re.search("larger than|format field|evaluation steps", str(refused.value))


# --- the sample flows -------------------------------------------------------

_SPY = """
import contextlib, io, json, sys, tempfile
sys.path.insert(0, {root!r})
from opsflow.cli.main import main
from opsflow.expr import evaluate
from tests.test_cli_run import PAYLOADS, SAMPLES, SAMPLE_INPUTS, SAMPLE_PINS

used, run = [], evaluate._run

def spy(source, context, expression, budget):
    before = budget.steps
    try:
        return run(source, context, expression, budget)
    finally:
        used.append(budget.steps - before)

evaluate._run = spy
codes = {{}}
for sample in SAMPLES:
    name = sample.name.removesuffix(".flow.json")
    args = ["run", str(sample), "--dry-run"]
    if (PAYLOADS / f"{{name}}.json").exists():
        args += ["--payload", f"@{{PAYLOADS / f'{{name}}.json'}}"]
    for pair in SAMPLE_INPUTS.get(name, []):
        args += ["--input", pair]
    for pin in SAMPLE_PINS.get(name, []):
        args += ["--pin", pin]
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        codes[name] = main([*args, "--store", folder + "/j.sqlite"])
print(json.dumps({{"codes": codes, "used": used}}))
"""


def test_the_sample_flows_use_a_tiny_part_of_the_fuel() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SPY.format(root=str(ROOT))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    assert set(found["codes"].values()) == {0}, found["codes"]
    assert len(found["used"]) > 20  # the samples do render templates
    assert max(found["used"]) < MAX_STEPS // 1000

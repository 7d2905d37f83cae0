"""The rules for a flow's declarations: names of inputs, vars and credentials, and one edit judged
on its own (what the Studio's Flow tab refuses)."""

from __future__ import annotations

from typing import Any

from opsflow.model.flow import Flow
from opsflow.validate import validate_flow
from opsflow.validate.declarations import added_problems, entry_problems, name_problem


def flow(**header: Any) -> Flow:
    return Flow.model_validate({"id": "f", **header})


def test_names_that_expressions_cannot_read_are_errors() -> None:
    found = {
        (d.code, d.field)
        for d in validate_flow(
            flow(
                inputs={"Service": {}, "ok_1": {}},
                vars={"my-var": 1, "fine": 2},
                credentials={"web ssh": {"kind": "token"}, "web-ssh.v2": {"kind": "token"}},
            )
        )
    }
    assert ("invalid-input", "inputs.Service") in found
    assert ("invalid-var", "vars.my-var") in found
    assert ("invalid-credential", "credentials.web ssh") in found
    fine = {"inputs.ok_1", "vars.fine", "credentials.web-ssh.v2"}
    assert not {field for _, field in found} & fine


def test_a_name_problem_is_a_sentence_with_what_to_do() -> None:
    problem = name_problem("inputs", "2nd")
    assert problem is not None and problem.severity == "error"
    assert problem.message == "input name '2nd' is not an identifier"
    assert "lower-case letters, digits and underscores" in problem.hint
    assert name_problem("outputs", "Bad-Name") is not None
    assert name_problem("credentials", "smtp-relay") is None


def test_entry_problems_are_those_of_one_declaration() -> None:
    broken = flow(
        inputs={
            "count": {"type": "integer", "default": "three"},
            "port": {"type": "integer", "minimum": 1, "default": 0},
        },
        outputs={"status": "{{ nodes.gone.output }}"},
    )
    assert [d.field for d in entry_problems(broken, "inputs.count")] == ["inputs.count"]
    assert "below its minimum 1" in entry_problems(broken, "inputs.port")[0].message
    [output] = entry_problems(broken, "outputs.status")
    assert output.code == "not-upstream"


def test_an_edit_is_judged_by_the_problems_it_brings() -> None:
    before = flow(inputs={"count": {"type": "integer", "default": "three"}})
    retitled = flow(inputs={"count": {"type": "integer", "default": "three", "title": "How many"}})
    assert added_problems(before, retitled, "inputs.count") == []
    worse = flow(inputs={"count": {"type": "integer", "default": "three", "minimum": 5}})
    assert added_problems(before, worse, "inputs.count") == []  # the same sentence as before
    clean = flow(inputs={"count": {"type": "integer", "default": 3}})
    bounded = flow(inputs={"count": {"type": "integer", "default": 3, "minimum": 5}})
    [problem] = added_problems(clean, bounded, "inputs.count")
    assert problem.message == "input 'count' defaults to 3, below its minimum 5"

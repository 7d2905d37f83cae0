"""The flow actions: wait, set variables and run a sub-flow."""

from __future__ import annotations

from typing import Any

import pytest

from opsflow.catalog.builtin import actions_flow
from opsflow.catalog.builtin.actions_flow import SetVarsParams, SubflowParams, WaitParams
from opsflow.catalog.fields import walk_strings
from opsflow.catalog.spec import ACTION_PORTS
from tests.catalog.helpers import rejection

SPECS = {spec.type: spec for spec in actions_flow.SPECS}
DAY = 24 * 3600


def test_specs_are_actions_with_their_flags() -> None:
    assert set(SPECS) == {"action.wait", "action.set_vars", "action.subflow"}
    for spec in SPECS.values():
        assert spec.category == "action" and spec.ports == ACTION_PORTS and spec.version == 1
        assert spec.icon == spec.type.replace(".", "-").replace("_", "-")
        for name, info in spec.params.model_fields.items():
            assert info.description, f"{spec.type}.{name} has no description"
    assert not SPECS["action.wait"].has_side_effects() and SPECS["action.wait"].is_idempotent()
    assert not SPECS["action.set_vars"].has_side_effects()
    assert SPECS["action.set_vars"].is_idempotent()
    assert SPECS["action.subflow"].has_side_effects()
    assert not SPECS["action.subflow"].is_idempotent()
    assert "`vars.<name>`" in SPECS["action.set_vars"].doc


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (WaitParams, {"duration_s": 0}),
        (WaitParams, {"mode": "duration", "duration_s": 30 * DAY}),
        (WaitParams, {"mode": "until", "until": "2025-01-31T22:00:00+01:00"}),
        (WaitParams, {"mode": "until", "until": "2025-01-31T21:00:00Z"}),
        (WaitParams, {"mode": "until", "until": "{{ nodes.plan.output.json.window_start }}"}),
        (SetVarsParams, {"values": {"ticket": "INC1"}}),
        (
            SetVarsParams,
            {"values": {"_hosts": ["{{ item }}"], "limits": {"cpu": 2}, "dry": True, "n": None}},
        ),
        (SubflowParams, {"flow": "open-ticket.flow.json"}),
        (
            SubflowParams,
            {
                "flow": "../shared/steps/open-ticket.flow.json",
                "inputs": {"summary": "Disk full on {{ trigger.body.host }}", "priority": 2},
                "wait": False,
            },
        ),
    ],
)
def test_valid_params(model: type[Any], data: dict[str, Any]) -> None:
    params = model.model_validate(data)
    assert model.model_validate(params.model_dump()) == params


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, "mode 'duration' needs 'duration_s'"),
        ({"mode": "sleep", "duration_s": 1}, "'duration' or 'until'"),
        ({"duration_s": -1}, "greater than or equal to 0"),
        ({"duration_s": 30 * DAY + 1}, "less than or equal to 2592000"),
        ({"mode": "until"}, "mode 'until' needs 'until'"),
        ({"mode": "until", "until": ""}, "at least 1 character"),
        ({"mode": "until", "until": "next friday"}, "'next friday' is not an ISO-8601"),
        ({"mode": "until", "until": "2025-01-31T22:00:00"}, "has no time zone; add one"),
        ({"mode": "until", "until": "2025-01-31"}, "'2025-01-31' has no time zone"),
        (
            {"mode": "until", "until": "2025-01-31T22:00:00Z", "duration_s": 5},
            "'duration_s' is used only with mode 'duration'",
        ),
        ({"duration_s": 5, "until": "2025-01-31T22:00:00Z"}, "'until' is used only with mode"),
    ],
)
def test_bad_wait_is_rejected_with_a_reason(data: dict[str, Any], expected: str) -> None:
    assert expected in rejection(WaitParams, data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, "Field required"),
        ({"values": {}}, "set at least one value"),
        ({"values": {"Ticket": 1}}, "'Ticket' is not a valid variable name"),
        ({"values": {"ticket-id": 1}}, "'ticket-id' is not a valid variable name"),
        ({"values": {"1st": 1}}, "starting with a letter or '_'"),
        ({"values": {"x" * 65: 1}}, "at most 64"),
        ({"values": {f"v{i}": i for i in range(65)}}, "65 values are more than 64"),
        ({"values": ["ticket"]}, "valid dictionary"),
    ],
)
def test_bad_set_vars_is_rejected_with_a_reason(data: dict[str, Any], expected: str) -> None:
    assert expected in rejection(SetVarsParams, data)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, "Field required"),
        ({"flow": ""}, "at least 1 character"),
        ({"flow": "open-ticket.json"}, "is not a flow file; give a path ending in '.flow.json'"),
        ({"flow": "steps/.flow.json"}, "is not a flow file"),
        ({"flow": "/srv/flows/open-ticket.flow.json"}, "is absolute"),
        ({"flow": "D:\\flows\\open-ticket.flow.json"}, "uses '\\' between folders"),
        ({"flow": "x.flow.json", "wait": "later"}, "valid boolean"),
        ({"flow": "x.flow.json", "inputs": "host=web01"}, "valid dictionary"),
    ],
)
def test_bad_subflow_is_rejected_with_a_reason(data: dict[str, Any], expected: str) -> None:
    assert expected in rejection(SubflowParams, data)


def test_walk_strings_reports_template_strings_at_any_depth() -> None:
    params = SetVarsParams.model_validate(
        {
            "values": {
                "ticket": "{{ nodes.open.output.json.id }}",
                "hosts": ["web01", "{{ trigger.body.host }}"],
                "limits": {"cpu": 2, "label": "plain"},
            }
        }
    )
    assert walk_strings(params) == [
        ("values.ticket", "{{ nodes.open.output.json.id }}", "template"),
        ("values.hosts[0]", "web01", "template"),
        ("values.hosts[1]", "{{ trigger.body.host }}", "template"),
        ("values.limits.label", "plain", "template"),
    ]
    wait = WaitParams.model_validate({"mode": "until", "until": "{{ vars.window }}"})
    assert walk_strings(wait) == [("until", "{{ vars.window }}", "template")]
    subflow = SubflowParams.model_validate(
        {"flow": "steps/open.flow.json", "inputs": {"host": "{{ trigger.body.host }}"}}
    )
    assert walk_strings(subflow) == [
        ("flow", "steps/open.flow.json", "path"),
        ("inputs.host", "{{ trigger.body.host }}", "template"),
    ]

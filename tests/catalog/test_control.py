"""The control node types: approvals with their form schema, and for-each."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from opsflow.catalog.builtin import control
from opsflow.catalog.builtin.control import ApprovalParams, ForeachParams, FormSchema
from opsflow.catalog.fields import field_kind, walk_strings
from tests.catalog.helpers import rejection

SPECS = {spec.type: spec for spec in control.SPECS}
DAY = 24 * 3600


def test_specs_have_their_ports_and_flags() -> None:
    approval, foreach = SPECS["control.approval"], SPECS["control.foreach"]
    assert approval.ports == ("approved", "rejected", "timeout")
    assert not approval.has_side_effects() and approval.is_idempotent()
    assert foreach.ports == ("done", "error")
    assert foreach.has_side_effects() and not foreach.is_idempotent()
    assert "`results`" in foreach.doc and "item order" in foreach.doc
    for spec in SPECS.values():
        assert spec.category == "control" and spec.version == 1
        assert spec.icon == spec.type.replace(".", "-")
        for name, info in spec.params.model_fields.items():
            assert info.description, f"{spec.type}.{name} has no description"


FORM = {
    "type": "object",
    "properties": {
        "change_ticket": {
            "type": "string",
            "title": "Change ticket",
            "description": "The CAB ticket approving this change.",
            "minLength": 6,
            "maxLength": 12,
            "pattern": "^CHG[0-9]+$",
            "default": "CHG000",
        },
        "window": {"type": "string", "enum": ["tonight", "weekend"], "default": "tonight"},
        "max_hosts": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
        "ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "notify": {"type": "boolean", "default": True},
    },
    "required": ["change_ticket", "window"],
}
APPROVAL_FULL = {
    "approvers": [" jdoe ", "group:IT Ops"],
    "message": "Restart {{ trigger.body.host }} now?",
    "form": FORM,
    "timeout_s": 4 * 3600,
    "escalate_after_min": 60,
    "escalate_to": ["group:on-call"],
}


def test_approval_minimal_and_full_validate() -> None:
    minimal = ApprovalParams.model_validate({"approvers": ["jdoe"], "message": "OK?"})
    assert minimal.form is None and minimal.timeout_s is None and minimal.escalate_to == []
    full = ApprovalParams.model_validate(APPROVAL_FULL)
    assert full.approvers == ["jdoe", "group:IT Ops"]
    assert full.form is not None and full.form.properties["change_ticket"].min_length == 6
    assert field_kind(ApprovalParams, "form") == "form"


def test_form_schema_is_plain_json_schema() -> None:
    form = FormSchema.model_validate(FORM)
    schema = form.to_json_schema()
    assert schema == FORM
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"change_ticket": "CHG1234", "window": "weekend", "max_hosts": 3})
    assert not validator.is_valid({"change_ticket": "INC1234", "window": "weekend"})
    assert not validator.is_valid({"change_ticket": "CHG1234"})


def test_form_property_accepts_python_names_too() -> None:
    form = FormSchema.model_validate(
        {"properties": {"reason": {"type": "string", "min_length": 3}}}
    )
    assert form.to_json_schema() == {
        "type": "object",
        "properties": {"reason": {"type": "string", "minLength": 3}},
        "required": [],
    }


def form_with(prop: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"properties": {"answer": prop}, **extra}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "array", "properties": {"a": {"type": "string"}}}, "'object'"),
        ({"properties": {}}, "at least 1 item"),
        ({"properties": {"change-ticket": {"type": "string"}}}, "'change-ticket' is not a valid"),
        ({"properties": {"1st": {"type": "string"}}}, "'1st' is not a valid field name"),
        (form_with({"type": "string"}, required=["reason"]), "required field 'reason' is not"),
        (form_with({"type": "string"}, required=["answer", "answer"]), "listed twice"),
        (form_with({"type": "object"}), "'string', 'integer', 'number' or 'boolean'"),
        (form_with({"type": "string", "format": "email"}), "Extra inputs are not permitted"),
        (form_with({"type": "integer", "enum": [1, "2"]}), "enum value '2' is not of type"),
        (form_with({"type": "integer", "enum": [True]}), "enum value True is not of type integer"),
        (form_with({"type": "number", "enum": []}), "at least 1 item"),
        (form_with({"type": "boolean", "default": "yes"}), "default 'yes' is not of type boolean"),
        (form_with({"type": "integer", "default": 1.5}), "default 1.5 is not of type integer"),
        (form_with({"type": "string", "enum": ["a"], "default": "b"}), "not one of the enum"),
        (form_with({"type": "string", "minimum": 1}), "apply to numbers, not to string"),
        (form_with({"type": "boolean", "maximum": 1}), "apply to numbers, not to boolean"),
        (form_with({"type": "integer", "minLength": 1}), "apply to strings, not to integer"),
        (form_with({"type": "number", "pattern": "x"}), "apply to strings, not to number"),
        (form_with({"type": "integer", "minimum": 5, "maximum": 1}), "minimum 5 is above maximum"),
        (form_with({"type": "string", "minLength": 5, "maxLength": 2}), "minLength 5 is above"),
        (form_with({"type": "string", "minLength": -1}), "greater than or equal to 0"),
        (form_with({"type": "string", "pattern": "([a-z"}), "is not a valid regular expression"),
        (form_with({"type": "integer", "minimum": 1, "default": 0}), "below minimum 1"),
        (form_with({"type": "number", "maximum": 1, "default": 2}), "above maximum 1"),
        (form_with({"type": "string", "minLength": 3, "default": "ab"}), "shorter than minLength"),
        (form_with({"type": "string", "maxLength": 1, "default": "ab"}), "longer than maxLength"),
        (form_with({"type": "string", "pattern": "^C", "default": "x"}), "does not match pattern"),
    ],
)
def test_bad_forms_are_rejected_with_a_reason(data: dict[str, Any], expected: str) -> None:
    assert expected in rejection(FormSchema, data)


def approval(**changes: Any) -> dict[str, Any]:
    return {"approvers": ["jdoe"], "message": "OK?", **changes}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"message": "OK?"}, "Field required"),
        (approval(approvers=[]), "at least 1 item"),
        (approval(approvers=["jdoe", "  "]), "approvers has an empty entry"),
        (approval(approvers=["group:"]), "'group:' names no group"),
        (approval(approvers=["role:admins"]), "'role:admins' is neither a user name nor"),
        (approval(approvers=["John Doe"]), "'John Doe' is neither a user name"),
        (approval(approvers=["jdoe", " jdoe"]), "'jdoe' is listed twice in approvers"),
        (approval(message=""), "at least 1 character"),
        (approval(timeout_s=0), "greater than 0"),
        (approval(timeout_s=30 * DAY + 1), "less than or equal to 2592000"),
        (approval(escalate_after_min=0, escalate_to=["boss"]), "greater than 0"),
        (approval(escalate_after_min=30), "needs someone to escalate to; set 'escalate_to'"),
        (approval(escalate_to=["boss"]), "escalate_to takes effect only with escalate_after_min"),
        (approval(escalate_to=["group:"], escalate_after_min=5), "'group:' names no group"),
        (
            approval(timeout_s=3600, escalate_after_min=60, escalate_to=["boss"]),
            "escalate_after_min (60 min) must be less than the timeout (3600 s)",
        ),
        (approval(form={"properties": {"x": {"type": "date"}}}), "form.properties.x.type"),
    ],
)
def test_bad_approvals_are_rejected_with_a_reason(data: dict[str, Any], expected: str) -> None:
    assert expected in rejection(ApprovalParams, data)


def test_escalation_without_timeout_is_fine() -> None:
    params = ApprovalParams.model_validate(approval(escalate_after_min=30, escalate_to=["boss"]))
    assert params.escalate_to == ["boss"]


FOREACH_FULL = {
    "items": "nodes.fetch.output.json.items",
    "flow": "steps/patch-host.flow.json",
    "inputs": {"host": "{{ item.name }}", "slot": "{{ index }}", "tags": ["{{ item.env }}"]},
    "concurrency": 16,
    "fail_fast": True,
    "max_items": 500,
}


def test_foreach_minimal_and_full_validate() -> None:
    minimal = ForeachParams.model_validate({"items": "inputs.hosts", "flow": "body.flow.json"})
    assert minimal.concurrency == 4 and minimal.inputs == {} and minimal.max_items == 10000
    ForeachParams.model_validate(FOREACH_FULL)


def foreach(**changes: Any) -> dict[str, Any]:
    return {"items": "inputs.hosts", "flow": "body.flow.json", **changes}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (foreach(items=""), "at least 1 character"),
        (foreach(flow="body.json"), "'body.json' is not a flow file"),
        (foreach(flow=".flow.json"), "'.flow.json' is not a flow file"),
        (foreach(flow="/srv/flows/body.flow.json"), "is absolute; give the path relative"),
        (foreach(flow="C:/flows/body.flow.json"), "is absolute"),
        (foreach(flow="steps\\body.flow.json"), "uses '\\' between folders"),
        (foreach(concurrency=0), "greater than or equal to 1"),
        (foreach(concurrency=257), "less than or equal to 256"),
        (foreach(max_items=0), "greater than or equal to 1"),
        (foreach(max_items=1_000_001), "less than or equal to 1000000"),
        (foreach(inputs=["host"]), "valid dictionary"),
    ],
)
def test_bad_foreach_is_rejected_with_a_reason(data: dict[str, Any], expected: str) -> None:
    assert expected in rejection(ForeachParams, data)


def test_walk_strings_reports_templates_and_expressions() -> None:
    assert walk_strings(ApprovalParams.model_validate(APPROVAL_FULL)) == [
        ("approvers[0]", "jdoe", "template"),
        ("approvers[1]", "group:IT Ops", "template"),
        ("message", "Restart {{ trigger.body.host }} now?", "template"),
    ]
    assert walk_strings(ForeachParams.model_validate(FOREACH_FULL)) == [
        ("items", "nodes.fetch.output.json.items", "expression"),
        ("flow", "steps/patch-host.flow.json", "path"),
        ("inputs.host", "{{ item.name }}", "template"),
        ("inputs.slot", "{{ index }}", "template"),
        ("inputs.tags[0]", "{{ item.env }}", "template"),
    ]


def test_approvers_may_be_templates() -> None:
    params = ApprovalParams.model_validate(
        {**APPROVAL_FULL, "approvers": ["{{ inputs.manager }}", "group:it-ops"]}
    )
    assert params.approvers[0] == "{{ inputs.manager }}"

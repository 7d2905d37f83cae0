"""Every node type in the catalog is complete: ports, documentation, icon and a parameter form."""

from __future__ import annotations

import pytest

from opsflow.catalog import default_catalog
from opsflow.catalog.spec import ACTION_PORTS, CATEGORIES, TRIGGER_PORTS, NodeSpec

SPECS = list(default_catalog())


def test_the_catalog_has_every_built_in_type() -> None:
    types = {spec.type for spec in SPECS}
    assert {
        "trigger.manual",
        "trigger.schedule",
        "trigger.webhook",
        "trigger.file",
        "trigger.poll",
        "condition.if",
        "condition.switch",
        "action.http",
        "action.shell",
        "action.script",
        "action.ssh",
        "action.email",
        "action.chat",
        "action.ticket",
        "action.file",
        "action.wait",
        "action.set_vars",
        "action.subflow",
        "control.approval",
        "control.foreach",
    } <= types


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.type)
def test_spec_is_complete(spec: NodeSpec) -> None:
    assert spec.category in CATEGORIES
    assert spec.type.startswith(f"{spec.category}.")
    assert spec.version == 1
    assert spec.icon == spec.type.replace(".", "-").replace("_", "-")
    assert len(spec.doc) > 60 and spec.title
    if spec.category == "action":
        assert spec.ports == ACTION_PORTS
    if spec.category == "trigger":
        assert spec.ports == TRIGGER_PORTS
    schema = spec.params.model_json_schema()
    for name, prop in schema.get("properties", {}).items():
        assert prop.get("description"), f"{spec.type}.{name} has no description"

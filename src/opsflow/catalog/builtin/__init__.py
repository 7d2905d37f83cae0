"""The node types that ship with Opsflow."""

from __future__ import annotations

from opsflow.catalog.spec import NodeSpec


def all_specs() -> list[NodeSpec]:
    from opsflow.catalog.builtin import (
        actions_flow,
        actions_local,
        actions_messaging,
        actions_remote,
        conditions,
        control,
        triggers,
    )

    specs: list[NodeSpec] = []
    for module in (
        triggers,
        conditions,
        actions_remote,
        actions_local,
        actions_messaging,
        actions_flow,
        control,
    ):
        specs.extend(module.SPECS)
    return specs

"""Condition nodes: route the run down one port by evaluating an expression."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from opsflow.catalog.fields import Params, expression
from opsflow.catalog.spec import NodeSpec
from opsflow.model.flow import PORT_PATTERN


class IfParams(Params):
    condition: str = expression(
        description="A Jinja expression, e.g. `nodes.check.output.status != 200`. "
        "Truthy takes `true`, falsy takes `false`.",
        min_length=1,
    )


class SwitchCase(Params):
    port: str = Field(pattern=PORT_PATTERN, description="Output port taken for this case.")
    equals: str | int | float | bool | None = Field(
        description="The value of the expression that selects this case."
    )


class SwitchParams(Params):
    value: str = expression(
        description="A Jinja expression whose value picks the case, e.g. `trigger.body.severity`.",
        min_length=1,
    )
    cases: list[SwitchCase] = Field(
        min_length=1, max_length=64, description="Checked in order; the first equal case wins."
    )

    @field_validator("cases")
    @classmethod
    def _ports_unique(cls, cases: list[SwitchCase]) -> list[SwitchCase]:
        seen: set[str] = set()
        for case in cases:
            if case.port == "default":
                raise ValueError("'default' is taken when no case matches; name the case otherwise")
            if case.port in seen:
                raise ValueError(f"port '{case.port}' is used by two cases")
            seen.add(case.port)
        return cases


def _switch_ports(params: Any) -> tuple[str, ...]:
    return (*(case.port for case in params.cases), "default")


SPECS = [
    NodeSpec(
        type="condition.if",
        category="condition",
        title="If",
        doc="Evaluates a condition expression over the run's data and continues down "
        "`true` when it holds and `false` otherwise. Use it to branch on a status code, "
        "a disk usage figure or an alert label.",
        icon="condition-if",
        params=IfParams,
        ports=("true", "false"),
        executor="opsflow.executors.logic:condition_if",
        inline=True,
        side_effects=False,
        idempotent=True,
        routes=True,
    ),
    NodeSpec(
        type="condition.switch",
        category="condition",
        title="Switch",
        doc="Evaluates an expression and continues down the port of the first case whose "
        "value equals it, or down `default` when none does. Use it to route by severity, "
        "environment or ticket category.",
        icon="condition-switch",
        params=SwitchParams,
        ports=("default",),
        executor="opsflow.executors.logic:condition_switch",
        inline=True,
        dynamic_ports=_switch_ports,
        side_effects=False,
        idempotent=True,
        routes=True,
    ),
]

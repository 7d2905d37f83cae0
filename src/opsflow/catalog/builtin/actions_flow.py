"""Actions that steer the run itself: waiting, setting run variables and calling sub-flows.

Also owns the check of a sub-flow file reference, which `control.foreach` shares.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from opsflow.catalog.fields import Params, kind_field, template
from opsflow.catalog.spec import ACTION_PORTS, NodeSpec
from opsflow.expr import is_template

FLOW_SUFFIX = ".flow.json"
MAX_WAIT_S = 30 * 24 * 3600
#: Run variables are read as `vars.<name>`, so names must be identifiers there.
VAR_NAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
MAX_VARS = 64


def flow_file_field(description: str) -> Any:
    """The field naming another flow file, relative to the file of the flow using it."""
    return kind_field("path", description=description, min_length=1, max_length=1000)


def check_flow_file(path: str) -> str:
    """Reject references to flow files that would not resolve the same way on every machine."""
    if not path.endswith(FLOW_SUFFIX) or len(PurePosixPath(path).name) <= len(FLOW_SUFFIX):
        raise ValueError(
            f"'{path}' is not a flow file; give a path ending in '{FLOW_SUFFIX}', "
            "e.g. 'steps/restart-service.flow.json'"
        )
    if "\\" in path:
        raise ValueError(
            f"'{path}' uses '\\' between folders; use '/' so the flow works on every system"
        )
    if PurePosixPath(path).is_absolute() or PureWindowsPath(path).drive:
        raise ValueError(
            f"'{path}' is absolute; give the path relative to this flow's file, "
            "e.g. 'steps/restart-service.flow.json'"
        )
    return path


#: A flow file reference; declare the field with `flow_file_field`.
FlowFile = Annotated[str, AfterValidator(check_flow_file)]


class WaitParams(Params):
    mode: Literal["duration", "until"] = Field(
        "duration",
        description="`duration` waits a number of seconds; `until` waits for a point in time.",
    )
    duration_s: float | None = Field(
        None,
        ge=0,
        le=MAX_WAIT_S,
        description="Seconds to wait (mode `duration`), at most 30 days.",
    )
    until: str | None = template(
        None,
        min_length=1,
        description="When to continue (mode `until`): an ISO-8601 date and time with a "
        "time zone, e.g. `2025-01-31T22:00:00+01:00` or "
        "`{{ nodes.plan.output.json.window_start }}`. A time in the past continues at once.",
    )

    @field_validator("until")
    @classmethod
    def _until_is_aware(cls, value: str | None) -> str | None:
        if value is None or is_template(value):
            return value
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"'{value}' is not an ISO-8601 date and time; write e.g. "
                "'2025-01-31T22:00:00+01:00'"
            ) from None
        if moment.tzinfo is None:
            raise ValueError(
                f"'{value}' has no time zone; add one, e.g. '2025-01-31T22:00:00+01:00' "
                "or '2025-01-31T21:00:00Z'"
            )
        return value

    @model_validator(mode="after")
    def _mode_fields(self) -> Self:
        if self.mode == "duration":
            if self.duration_s is None:
                raise ValueError("mode 'duration' needs 'duration_s'; set the seconds to wait")
            if self.until is not None:
                raise ValueError("'until' is used only with mode 'until'; clear it")
        else:
            if self.until is None:
                raise ValueError("mode 'until' needs 'until'; set the date and time to wait for")
            if self.duration_s is not None:
                raise ValueError("'duration_s' is used only with mode 'duration'; clear it")
        return self


class SetVarsParams(Params):
    values: dict[str, Any] = template(
        description="Run variables to set, by name; each value may be any JSON and its "
        'strings are templates, e.g. `{"ticket": "{{ nodes.open.output.json.id }}"}`. '
        "Names are lower-case identifiers.",
    )

    @field_validator("values")
    @classmethod
    def _names(cls, values: dict[str, Any]) -> dict[str, Any]:
        if not values:
            raise ValueError("set at least one value")
        if len(values) > MAX_VARS:
            raise ValueError(
                f"{len(values)} values are more than {MAX_VARS}; group related values "
                "into one object"
            )
        for name in values:
            if not VAR_NAME_PATTERN.match(name):
                raise ValueError(
                    f"'{name}' is not a valid variable name; use lower-case letters, digits "
                    "and '_', starting with a letter or '_' (at most 64), e.g. 'ticket_id'"
                )
        return values


class SubflowParams(Params):
    flow: FlowFile = flow_file_field(
        "The flow to run, relative to this flow's file, e.g. `steps/restart.flow.json`."
    )
    inputs: dict[str, Any] = template(
        {},
        description="Inputs of the called flow, by name; strings are templates, e.g. "
        '`{"host": "{{ trigger.body.host }}"}`.',
    )
    wait: bool = Field(
        True,
        description="Wait for the sub-flow to finish and return its outputs; when off, "
        "start it and go on at once with its run id as the output (`run_id`). The process "
        "running the flow still sees the sub-flow through: `opsflow run` waits for it before "
        "it exits, `opsflow serve` keeps it running.",
    )


SPECS = [
    NodeSpec(
        type="action.wait",
        category="action",
        title="Wait",
        doc="Pauses this branch for a number of seconds or until a point in time, then "
        "continues down `success`; other branches keep running. Use it to give a restarted "
        "service time to come up, or to hold a change until its maintenance window opens.",
        icon="action-wait",
        params=WaitParams,
        executor="opsflow.executors.logic:wait",
        ports=ACTION_PORTS,
        side_effects=False,
        idempotent=True,
    ),
    NodeSpec(
        type="action.set_vars",
        category="action",
        title="Set variables",
        doc="Renders its values and stores each as a run variable, readable as "
        "`vars.<name>` by the nodes downstream; a name set again is overwritten. Use it to "
        "name a value once (a ticket id, a computed host list) instead of repeating a long "
        "expression in every later node.",
        icon="action-set-vars",
        params=SetVarsParams,
        executor="opsflow.executors.logic:set_vars",
        inline=True,
        ports=ACTION_PORTS,
        side_effects=False,
        idempotent=True,
    ),
    NodeSpec(
        type="action.subflow",
        category="action",
        title="Run sub-flow",
        doc="Runs another flow file with the given inputs. By default it waits for that run "
        "and returns its outputs, taking `error` if it fails; with `wait` off it only starts "
        "the run and returns its run id. Use it to share a common procedure, such as "
        "opening a ticket or draining a node, between several flows.",
        icon="action-subflow",
        params=SubflowParams,
        ports=ACTION_PORTS,
        side_effects=True,
        idempotent=False,
    ),
]

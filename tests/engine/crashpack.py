"""A node pack for the crash tests: nodes that append one line to a ledger file.

`tests/engine/test_crash_resume.py` copies this file into a temporary site
folder as the module `crashtest_pack` (next to a dist-info with an
`opsflow.nodes` entry point), so that `opsflow run` in a subprocess finds it
exactly as it finds an installed pack. Nothing here is imported by pytest.
"""

from __future__ import annotations

import os
import time

from pydantic import Field

from opsflow.catalog.fields import Params, template
from opsflow.catalog.spec import ACTION_PORTS, NodeSpec
from opsflow.nodeapi import NodeCall, NodeOutcome


class AppendParams(Params):
    path: str = template(description="The ledger file to append to.", min_length=1)
    line: str = template(description="The line to append (without its newline).", min_length=1)
    sleep_s: float = Field(0.05, ge=0, le=60, description="Seconds to sleep before appending.")
    hold: str = template(
        "", description="While this file exists, wait (after sleep_s) before appending."
    )


def append(call: NodeCall) -> NodeOutcome:
    """Sleep, wait while the hold file exists, then append the line durably (one write)."""
    params = call.params
    time.sleep(params["sleep_s"])
    hold = params["hold"]
    deadline = time.monotonic() + 60
    while hold and os.path.exists(hold) and time.monotonic() < deadline:
        time.sleep(0.01)
    data = (params["line"] + "\n").encode("utf-8")
    fd = os.open(params["path"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return NodeOutcome({"line": params["line"]})


def _spec(type_id: str, idempotent: bool) -> NodeSpec:
    return NodeSpec(
        type=type_id,
        category="action",
        title=type_id,
        doc="Appends a line to a ledger file (crash tests).",
        icon="action-file",
        params=AppendParams,
        ports=ACTION_PORTS,
        side_effects=True,
        idempotent=idempotent,
        executor="crashtest_pack:append",
    )


def specs() -> list[NodeSpec]:
    return [_spec("crashtest.append", False), _spec("crashtest.append_idem", True)]

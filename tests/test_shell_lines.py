"""Shell lines never run data: a template in a `shell: true` line is refused by validation,
`opsflow serve` and `opsflow run`; the way to hand data to a shell line, `env`, keeps a
hostile webhook payload inert (a canary file it tries to create never appears).

The refusals are checked in-process (the `cli` fixture); the payloads go to a real `serve`.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from opsflow.engine.journal import Journal
from tests.conftest import Cli
from tests.processes import Launch
from tests.test_run_ownership import post, serve_url, wait_for, write

HOSTILE = ["; touch {canary}", "$(touch {canary})", "`touch {canary}`", "a' ; touch {canary} ; '"]


def hook() -> dict[str, object]:
    return {
        "id": "hook",
        "type": "trigger.webhook",
        "params": {"path": "/alert", "auth": "none", "respond_with_run_id": True},
    }


def test_a_template_in_a_shell_line_is_refused_everywhere(cli: Cli, tmp_path: Path) -> None:
    flow = write(
        tmp_path / "f.flow.json",
        "templated-line",
        [
            hook(),
            {
                "id": "say",
                "type": "action.shell",
                "params": {"command": ["echo {{ trigger.body.msg }}"], "shell": True},
            },
        ],
        ["hook", "say"],
    )
    check = cli("validate", flow)
    assert check.returncode == 1
    said = check.stdout + check.stderr
    assert "node 'say' field params" in said and "may not contain templates" in said
    assert "`env`" in said
    for command in (["serve", flow, "--port", "0"], ["run", flow, "--payload", "{}"]):
        refused = cli(*command, "--store", tmp_path / "runs.sqlite")
        assert refused.returncode == 2
        assert "may not contain templates" in refused.stdout + refused.stderr
        assert "Traceback" not in refused.stdout + refused.stderr


@pytest.mark.parametrize("payload", HOSTILE)
def test_data_handed_to_a_shell_line_through_env_stays_data(
    launch: Launch, tmp_path: Path, payload: str
) -> None:
    canary = tmp_path / "CANARY"
    db = tmp_path / "runs.sqlite"
    flow = write(
        tmp_path / "f.flow.json",
        "env-line",
        [
            hook(),
            {
                "id": "say",
                "type": "action.shell",
                "params": {
                    "command": ['printf "%s" "$MSG" | tr a-z A-Z'],
                    "shell": True,
                    "env": {"MSG": "{{ trigger.body.msg }}"},
                },
            },
        ],
        ["hook", "say"],
    )
    server = launch("serve", flow, "--store", db, "--port", "0")
    message = payload.format(canary=canary)
    status, _, body = post(serve_url(server) + "/alert", {"msg": message})
    assert status == 202
    with Journal(db) as journal:
        run = wait_for(
            lambda: (r := journal.get_run(body["run"])) and r.state == "succeeded" and r,
            what="the run",
        )
        output = journal.node_results(run.id)["say"].output
    server.popen.send_signal(signal.SIGTERM)
    assert server.finish() == 0
    assert output["stdout"] == message.upper(), json.dumps(output)
    assert not canary.exists()

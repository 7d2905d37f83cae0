"""The web-outage sample's files on their own: checked, formatted, dry-run, and the rule
that names the host of an alert, plus the Alertmanager example shipped next to them.

The end-to-end behaviour behind a real Alertmanager is in test_sample_outage_alertmanager.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opsflow.engine.local import LocalRunner
from opsflow.engine.run_types import Pin, RunOptions
from opsflow.flowfile import load_flow
from tests.flowdocs import ROOT

SAMPLES = ROOT / "sample_flows"
SAMPLE = SAMPLES / "web-outage-remediation.flow.json"
BODIES = sorted((SAMPLES / "web-outage-remediation").glob("*.flow.json"))
PAYLOAD = SAMPLES / "payloads" / "web-outage-remediation.json"
OPSFLOW = [sys.executable, "-m", "opsflow"]


def opsflow(*args: str | Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*OPSFLOW, *map(str, args)], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result


def test_the_sample_and_its_sub_flows_validate_strictly_and_are_canonical() -> None:
    files = [SAMPLE, *BODIES]
    assert [p.name for p in BODIES] == [
        "check-alert.flow.json",
        "resolve-alert.flow.json",
        "restart-nginx.flow.json",
        "verify-host.flow.json",
    ]
    checked = opsflow("validate", "--strict", *files)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count(", 0 errors, 0 warnings)") == len(files)
    formatted = opsflow("fmt", "--check", *files)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    # Every for-each names a file that exists, relative to the sample.
    for node in load_flow(SAMPLE).nodes:
        if node.type == "control.foreach":
            assert (SAMPLE.parent / node.params["flow"]).is_file(), node.id


def test_a_dry_run_sorts_the_sample_notification(tmp_path: Path) -> None:
    result = opsflow(
        "run", SAMPLE, "--dry-run", "--payload", f"@{PAYLOAD}", "--json",
        "--store", tmp_path / "runs.sqlite",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    sorted_alerts = next(
        e["data"]["output"]
        for e in events
        if e["kind"] == "node_succeeded" and e["node"] == "select_alerts"
    )
    # Two firing WebsiteDown alerts and one resolved one, as Alertmanager groups them.
    assert [a["fingerprint"] for a in sorted_alerts["firing"]] == [
        "c1d2e3f4a5b6c7d8",
        "5e4d3c2b1a098f7e",
    ]
    assert [a["fingerprint"] for a in sorted_alerts["resolved"]] == ["0a1b2c3d4e5f6a7b"]
    assert events[-1]["data"]["outcome"] == "succeeded"


def _check(alert: dict[str, Any], *, open_incident: str | None = None) -> dict[str, Any]:
    """Run check-alert.flow.json for one alert, ServiceNow's search and the probe pinned."""
    path = SAMPLES / "web-outage-remediation" / "check-alert.flow.json"
    found = [{"sys_id": "9d385017c611228701d22104cc95c371", "number": open_incident}]
    pins = {
        "find_open_incident": Pin(
            {"status": 200, "json": {"result": found if open_incident else []}}
        ),
        "check_endpoint": Pin({"error": "connection refused"}, "error"),
    }
    runner = LocalRunner(load_flow(path), flow_path=path, options=RunOptions(pinned=pins))
    result = asyncio.run(runner.run(inputs={"alert": alert}))
    assert result.status == "succeeded", result.error
    return dict(result.outputs)


def _alert(**labels: str) -> dict[str, Any]:
    return {
        "status": "firing",
        "labels": {"alertname": "WebsiteDown", "severity": "critical", **labels},
        "annotations": {"summary": "down"},
        "startsAt": "2026-12-01T02:58:12.000Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "c1d2e3f4a5b6c7d8",
    }


@pytest.mark.parametrize(
    ("labels", "host", "health_url"),
    [
        # The host label wins; a host:port instance then gives https://<host>/healthz.
        (
            {"host": "web-01.example.com", "instance": "10.20.0.11:443"},
            "web-01.example.com",
            "https://web-01.example.com/healthz",
        ),
        # Blackbox relabelling: the instance is the probed URL; that URL is re-checked.
        (
            {"instance": "https://web-02.example.com/healthz"},
            "web-02.example.com",
            "https://web-02.example.com/healthz",
        ),
        (
            {"instance": "http://web-03.example.com:8080/status?full=1"},
            "web-03.example.com",
            "http://web-03.example.com:8080/status?full=1",
        ),
        (
            {"host": "web-04", "instance": "https://www.example.com/healthz"},
            "web-04",
            "https://www.example.com/healthz",
        ),
        (
            {"instance": "web-05.example.com:443"},
            "web-05.example.com",
            "https://web-05.example.com/healthz",
        ),
        (
            {"instance": "web-06.example.com"},
            "web-06.example.com",
            "https://web-06.example.com/healthz",
        ),
    ],
    ids=["label", "blackbox-url", "url-with-port", "label-and-url", "host-port", "bare-host"],
)
def test_the_host_comes_from_the_label_or_else_the_instance(
    labels: dict[str, str], host: str, health_url: str
) -> None:
    outputs = _check(_alert(**labels))
    assert (outputs["host"], outputs["health_url"]) == (host, health_url)
    assert outputs["verdict"] == "down" and outputs["health"] == "connection refused"
    assert outputs["fingerprint"] == "c1d2e3f4a5b6c7d8" and outputs["severity"] == "critical"


def test_an_open_incident_for_the_fingerprint_leaves_the_alert_alone() -> None:
    outputs = _check(_alert(instance="web-01.example.com:443"), open_incident="INC0010041")
    assert outputs["verdict"] == "ticket_open" and outputs["incident"] == "INC0010041"
    assert outputs["health"] is None  # the health endpoint was not even asked


def _amtool() -> str:
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which("amtool", path=search)
    if found is None:
        pytest.fail("amtool is missing: install prometheus-alertmanager (CI does)")
    return found


def test_the_alertmanager_example_is_valid_and_points_at_the_sample() -> None:
    example = SAMPLES / "alertmanager.yml"
    checked = subprocess.run(
        [_amtool(), "check-config", str(example)], capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    text = example.read_text()
    [trigger] = [n for n in load_flow(SAMPLE).nodes if n.type == "trigger.webhook"]
    [url] = re.findall(r"^\s+- url: (\S+)$", text, re.MULTILINE)
    assert url.endswith(trigger.params["path"])
    assert re.search(r"^\s+send_resolved: true$", text, re.MULTILINE)
    assert re.search(r"^\s+max_alerts: [1-9][0-9]*$", text, re.MULTILINE)
    assert re.search(r"^\s+type: Bearer$", text, re.MULTILINE)
    assert re.search(r"^\s+credentials_file: /\S+$", text, re.MULTILINE)
    assert re.search(r'^\s+- alertname = "WebsiteDown"$', text, re.MULTILINE)
    assert load_flow(SAMPLE).vars["alertnames"] == ["WebsiteDown"]


def test_the_incident_carries_the_fingerprint_and_says_whether_the_restart_failed() -> None:
    path = SAMPLES / "web-outage-remediation" / "verify-host.flow.json"
    target = {
        "fingerprint": "c1d2e3f4a5b6c7d8",
        "alert_name": "WebsiteDown",
        "severity": "critical",
        "instance": "10.20.0.11:443",
        "host": "web-01.example.com",
        "health_url": "https://web-01.example.com/healthz",
        "summary": "web-01 does not answer on :443",
        "starts_at": "2026-12-01T02:58:12.000Z",
    }
    fields = []
    for restart_error in ("", "the command on web-01.example.com:22 exited with code 1"):
        events: list[Any] = []
        pins = {"verify_endpoint": Pin({"error": "answered 502 Bad Gateway"}, "error")}
        runner = LocalRunner(
            load_flow(path),
            flow_path=path,
            options=RunOptions(dry_run=True, pinned=pins),
            listeners=[events.append],
        )
        inputs = {"target": target, "restart_error": restart_error}
        result = asyncio.run(runner.run(inputs=inputs))
        assert result.status == "succeeded", result.error
        [opened] = [
            e.data["output"]
            for e in events
            if e.kind == "node_succeeded" and e.node == "open_incident"
        ]
        fields.append(opened["params"]["fields"])
    done, failed = fields
    assert done["short_description"] == (
        "WebsiteDown: web-01.example.com still down after automatic nginx restart"
    )
    assert failed["short_description"] == (
        "WebsiteDown: web-01.example.com down and the automatic nginx restart failed"
    )
    assert "exited with code 1" in failed["description"]
    for sent in (done, failed):
        assert sent["correlation_id"] == "c1d2e3f4a5b6c7d8" and sent["urgency"] == "1"
        assert sent["cmdb_ci"] == "web-01.example.com"
        assert "answered 502 Bad Gateway" in sent["description"]

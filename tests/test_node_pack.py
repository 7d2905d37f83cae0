"""Third-party node packs: installed as a distribution with an `opsflow.nodes` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PACK_MODULE = '''
"""A tiny node pack: restarts a Windows service through a fictional agent."""

from pydantic import Field

from opsflow.catalog.fields import Params, template
from opsflow.catalog.spec import ACTION_PORTS, NodeSpec


class RestartParams(Params):
    service: str = template(description="Service name.", min_length=1)
    grace_s: int = Field(10, ge=0, le=600, description="Seconds to wait.")


def specs():
    return [
        NodeSpec(
            type="acme.restart_service",
            category="action",
            title="Restart Windows service",
            doc="Restarts a Windows service through the ACME agent.",
            icon="action-shell",
            params=RestartParams,
            ports=ACTION_PORTS,
            side_effects=True,
            idempotent=True,
        )
    ]


def broken():
    raise RuntimeError("the ACME licence file is missing")
'''


def install_pack(site: Path, *, with_broken: bool = False) -> None:
    """Lay the pack out exactly as an installer does: module plus dist-info."""
    (site / "acme_opsflow.py").write_text(PACK_MODULE, encoding="utf-8")
    info = site / "acme_opsflow-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-opsflow\nVersion: 1.0\n")
    entries = "[opsflow.nodes]\nacme = acme_opsflow:specs\n"
    if with_broken:
        entries += "acme_broken = acme_opsflow:broken\n"
    (info / "entry_points.txt").write_text(entries)
    (info / "RECORD").write_text("")


def run_opsflow(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-m", "opsflow", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_installed_pack_node_is_listed_and_usable(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_pack(site)
    listed = run_opsflow(site, "nodes")
    assert listed.returncode == 0, listed.stderr
    assert "acme.restart_service" in listed.stdout

    flow = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "pack-demo",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "restart", "type": "acme.restart_service", "params": {"service": "Spooler"}},
        ],
        "edges": [{"id": "e1", "from": "start", "port": "out", "to": "restart"}],
    }
    path = tmp_path / "demo.flow.json"
    path.write_text(json.dumps(flow))
    result = run_opsflow(site, "validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr

    flow["nodes"][1]["params"] = {"service": "Spooler", "grace_s": 9999}
    path.write_text(json.dumps(flow))
    result = run_opsflow(site, "validate", str(path))
    assert result.returncode == 1
    assert "node 'restart' field params.grace_s" in result.stdout


def test_broken_pack_is_reported_not_fatal(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_pack(site, with_broken=True)
    result = run_opsflow(site, "nodes")
    assert result.returncode == 0
    assert "acme.restart_service" in result.stdout
    assert textwrap.dedent("node pack 'acme_broken'") in result.stderr
    assert "the ACME licence file is missing" in result.stderr


def test_without_the_pack_its_flows_are_refused_clearly(tmp_path: Path) -> None:
    flow = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "pack-demo",
        "nodes": [{"id": "restart", "type": "acme.restart_service"}],
        "edges": [],
    }
    path = tmp_path / "demo.flow.json"
    path.write_text(json.dumps(flow))
    result = run_opsflow(tmp_path, "validate", str(path))
    assert result.returncode == 2
    assert "unknown node type 'acme.restart_service'" in result.stderr
    assert "install the node pack" in result.stderr

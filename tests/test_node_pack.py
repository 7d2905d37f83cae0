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
        ),
        NodeSpec(
            type="acme.stop_service",
            category="action",
            title="Stop Windows service",
            doc="Stops a Windows service through the ACME agent.",
            icon="action-shell",
            params=RestartParams,
            ports=ACTION_PORTS,
            side_effects=True,
            idempotent=True,
            executor="acme_opsflow_agent:stop_service",
        ),
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


def run_pack_node(tmp_path: Path, site: Path, node_type: str) -> str:
    """Run a flow of one pack node with a real `opsflow run`; what it printed."""
    flow = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "pack-demo",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "act", "type": node_type, "params": {"service": "Spooler"}},
        ],
        "edges": [{"id": "e1", "from": "start", "port": "out", "to": "act"}],
    }
    path = tmp_path / "demo.flow.json"
    path.write_text(json.dumps(flow))
    result = run_opsflow(site, "run", str(path), "--store", str(tmp_path / "journal.sqlite"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result.stdout + result.stderr


def test_a_pack_node_without_executor_names_the_pack_and_the_fix(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_pack(site)
    said = run_pack_node(tmp_path, site, "acme.restart_service")
    assert "this version of Opsflow" not in said
    assert (
        "acme.restart_service cannot run here: the node pack 'acme' (acme-opsflow 1.0) gives it no "
        "executor; the pack's NodeSpec must name the function that runs it, executor=\"module:"
        'function" (see "Writing a node pack" in the README), or install a version of the pack '
        "that has one"
    ) in said


def test_a_pack_executor_that_cannot_be_imported_names_the_reference(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_pack(site)
    said = run_pack_node(tmp_path, site, "acme.stop_service")
    assert "internal error" not in said
    assert (
        "acme.stop_service cannot run here: its executor 'acme_opsflow_agent:stop_service' "
        "from the node pack 'acme' (acme-opsflow 1.0) could not be imported "
        "(ModuleNotFoundError: No module named 'acme_opsflow_agent'); install the pack into the "
        "environment Opsflow runs in, or correct `executor` in its NodeSpec"
    ) in said


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


def test_a_routing_pack_action_is_not_warned_about_its_error_port() -> None:
    """An unwired `error` port fails the run; it does not end the branch quietly."""
    from opsflow.catalog import Catalog
    from opsflow.catalog.fields import Params
    from opsflow.catalog.registry import builtin_specs
    from opsflow.catalog.spec import NodeSpec
    from opsflow.flowfile import parse_flow
    from opsflow.validate import validate_flow

    class LookupParams(Params):
        name: str = "localhost"

    lookup = NodeSpec(
        type="acme.lookup",
        category="action",
        title="Look up",
        doc="Finds a name.",
        icon="action-http",
        params=LookupParams,
        ports=("found", "missing", "error"),
        routes=True,
        side_effects=False,
        idempotent=True,
        executor="acme_opsflow:lookup",
    )
    catalog = Catalog([*builtin_specs(), lookup])
    flow = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "lookup",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "find", "type": "acme.lookup"},
            {"id": "next", "type": "action.set_vars", "params": {"values": {"a": 1}}},
        ],
        "edges": [
            {"id": "e1", "from": "start", "port": "out", "to": "find"},
            {"id": "e2", "from": "find", "port": "found", "to": "next"},
        ],
    }
    found = validate_flow(parse_flow(json.dumps(flow), catalog=catalog), catalog)
    assert [d.field for d in found if d.code == "port-unconnected"] == ["port:missing"]


def test_a_pack_icon_that_cannot_be_found_is_reported(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_pack(site)
    module = site / "acme_opsflow.py"
    text = module.read_text(encoding="utf-8")
    text = text.replace('icon="action-shell"', 'icon="acme_opsflow:icons/restart.svg"', 1)
    module.write_text(text, encoding="utf-8")
    result = run_opsflow(site, "nodes")
    assert result.returncode == 0, result.stderr
    assert (
        "opsflow: warning: node pack 'acme' (acme-opsflow 1.0): node type 'acme.restart_service' "
        "names icon 'acme_opsflow:icons/restart.svg', which is neither a built-in icon nor an SVG "
        'file in an installed package ("package:path/in/package.svg"); the Studio draws the '
        "generic icon"
    ) in result.stderr
    shown = run_opsflow(site, "nodes", "show", "acme.restart_service")
    assert "icon: acme_opsflow:icons/restart.svg (not found: drawn as generic)" in shown.stdout

"""The `opsflow` command: output, exit codes, no tracebacks.

Run in-process (the `cli` fixture) but for what only separate processes show.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.flowdocs import ROOT, SAMPLES, check_flow, edge, write

OPSFLOW = [sys.executable, "-m", "opsflow"]


def test_validate_samples_is_clean(cli: Cli) -> None:
    result = cli("validate", "--strict", *SAMPLES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": ok (") == len(SAMPLES)
    assert result.stdout.count(", 0 errors, 0 warnings)") == len(SAMPLES)


def test_validate_exit_codes(cli: Cli, tmp_path: Path) -> None:
    good = write(tmp_path / "good.flow.json", check_flow())
    broken = check_flow()
    broken["edges"].append(edge("restart", "success", "check"))
    bad = write(tmp_path / "bad.flow.json", broken)
    unreadable = tmp_path / "cut.flow.json"
    unreadable.write_text('{"format": "opsflow.flow"')

    assert cli("validate", good).returncode == 0
    result = cli("validate", good, bad)
    assert result.returncode == 1
    assert "bad.flow.json: error [cycle]" in result.stdout
    assert "bad.flow.json: FAILED" in result.stdout
    result = cli("validate", good, bad, unreadable)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"{unreadable}:1:")


def test_validate_json_output(cli: Cli, tmp_path: Path) -> None:
    broken = check_flow()
    broken["nodes"][2]["params"]["condition"] = "nodes.check.output.status !="
    path = write(tmp_path / "a.flow.json", broken)
    result = cli("validate", "--json", path)
    assert result.returncode == 1
    [report] = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["diagnostics"][0]["code"] == "expression-syntax"
    assert report["diagnostics"][0]["node"] == "is_down"


def test_strict_turns_warnings_into_failure(cli: Cli, tmp_path: Path) -> None:
    document = check_flow()
    document["edges"].pop()
    path = write(tmp_path / "a.flow.json", document)
    assert cli("validate", path).returncode == 0
    assert cli("validate", "--strict", path).returncode == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["validate"], "the following arguments are required"),
        (["frobnicate"], "'frobnicate' is not a command"),
        (["nodes", "show", "action.htp"], "did you mean action.http"),
        (["validate", "/"], "is a folder"),
        (["describe", "missing.flow.json"], "does not exist"),
    ],
)
def test_usage_errors_are_sentences_with_exit_2(cli: Cli, args: list[str], expected: str) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert expected in result.stderr


def test_bare_opsflow_and_bare_groups_print_their_help_with_exit_0(cli: Cli) -> None:
    bare = cli()
    assert bare.returncode == 0 and bare.stderr == ""
    assert bare.stdout.startswith("usage: opsflow") and "validate" in bare.stdout
    for group, action in (("runs", "resume"), ("credentials", "set")):
        result = cli(group)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"usage: opsflow {group}") and action in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["valdate", "a.flow.json"], "opsflow: 'valdate' is not a command; did you mean validate?"),
        (["rnu"], "opsflow: 'rnu' is not a command; did you mean run or runs?"),
        (["runs", "lsit"], "opsflow runs: 'lsit' is not a command; did you mean list?"),
        (["nodes", "shwo", "x"], "opsflow nodes: 'shwo' is not a command; did you mean show?"),
    ],
)
def test_a_mistyped_command_gets_did_you_mean_in_one_line(
    cli: Cli, args: list[str], expected: str
) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(expected)


def test_schema_is_json_and_validates_samples(cli: Cli, tmp_path: Path) -> None:
    import jsonschema

    result = cli("schema")
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    for sample in SAMPLES:
        errors = list(validator.iter_errors(json.loads(sample.read_text())))
        assert errors == [], f"{sample.name}: {errors[0].message if errors else ''}"
    out = tmp_path / "schema.json"
    assert cli("schema", "-o", out).returncode == 0
    assert json.loads(out.read_text()) == schema


def test_schema_rejects_bad_params_like_the_validator(cli: Cli) -> None:
    import jsonschema

    schema = json.loads(cli("schema").stdout)
    document = check_flow()
    document["nodes"][1]["params"]["method"] = "FETCH"
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(document))
    assert errors, "an independent validator must refuse an unknown HTTP method too"


def test_nodes_lists_every_category_and_shows_one(cli: Cli) -> None:
    result = cli("nodes")
    assert result.returncode == 0
    for heading in ("TRIGGERS", "CONDITIONS", "ACTIONS", "CONTROLS"):
        assert heading in result.stdout
    shown = cli("nodes", "show", "action.http")
    assert shown.returncode == 0
    assert "ports: success, error" in shown.stdout and "url" in shown.stdout
    listed = json.loads(cli("nodes", "--json").stdout)
    assert {"trigger.webhook", "control.approval", "action.ssh"} <= {n["type"] for n in listed}


def test_describe_samples(cli: Cli) -> None:
    result = cli("describe", *SAMPLES)
    assert result.returncode == 0
    assert result.stdout.count("starts by:") >= len(SAMPLES)


def test_fmt_check_and_rewrite(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "a.flow.json", check_flow())
    assert cli("fmt", "--check", path).returncode == 1
    assert cli("fmt", path).returncode == 0
    assert cli("fmt", "--check", path).returncode == 0


def test_export_refuses_secrets_and_names_the_field(cli: Cli, tmp_path: Path) -> None:
    document = check_flow()
    document["nodes"][1]["params"]["headers"] = {"X-Trace": "ghp_" + "a" * 36}
    document["vars"] = {"db_password": "hunter2!"}
    source = write(tmp_path / "a.flow.json", document)
    out = tmp_path / "out.flow.json"
    result = cli("export", source, "-o", out)
    assert result.returncode == 1
    assert "nodes.check.params.headers.X-Trace holds what looks like a GitHub token" in (
        result.stderr
    )
    assert "vars.db_password holds what looks like a literal value" in result.stderr
    assert not out.exists()
    allowed = cli(
        "export",
        source,
        "-o",
        out,
        "--allow-secret",
        "nodes.check.params.headers.X-Trace",
        "--allow-secret",
        "vars.db_password",
    )
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(out.read_text())["vars"]["db_password"] == "hunter2!"


def test_export_writes_canonical_json_and_can_strip_layout(cli: Cli, tmp_path: Path) -> None:
    document = check_flow()
    document["layout"] = {"nodes": {"start": {"x": 0, "y": 0}}}
    source = write(tmp_path / "a.flow.json", document)
    result = cli("export", source, "-o", "-", "--strip-layout")
    assert result.returncode == 0
    assert "layout" not in json.loads(result.stdout)
    assert result.stdout.endswith("}\n")


def test_export_refuses_invalid_flows(cli: Cli, tmp_path: Path) -> None:
    document = check_flow()
    document["edges"].append(edge("restart", "success", "check"))
    result = cli("export", write(tmp_path / "a.flow.json", document), "-o", tmp_path / "o")
    assert result.returncode == 1 and "fix the errors above first" in result.stderr


def test_cycle_message_is_the_same_in_every_process(tmp_path: Path) -> None:
    import os

    document = check_flow()
    document["edges"].append(edge("restart", "success", "check"))
    document["edges"].append(edge("log_ok", "success", "check"))
    path = write(tmp_path / "a.flow.json", document)
    outputs = set()
    for seed in ("1", "2", "3", "4"):
        result = subprocess.run(
            [*OPSFLOW, "validate", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert "check -> is_down -> restart -> check" in outputs.pop()


def test_nodes_explain_shows_settings_ports_and_next_fires(cli: Cli) -> None:
    sample = ROOT / "sample_flows" / "nightly-disk-cleanup.flow.json"
    result = cli("nodes", "explain", sample, "nightly", "--json", "--count", "3")
    assert result.returncode == 0, result.stderr
    explained = json.loads(result.stdout)
    assert explained["ports"] == {"out": ["check_disk"]}
    assert len(explained["next_fires"]) == 3
    assert all(
        t.endswith(("+01:00", "+02:00")) and "T02:30:00" in t for t in explained["next_fires"]
    )
    text = cli("nodes", "explain", sample, "over_threshold")
    assert "true → delete_old_logs" in text.stdout and "false → notify_ok" in text.stdout
    missing = cli("nodes", "explain", sample, "nightl")
    assert missing.returncode == 2 and "did you mean nightly" in missing.stderr

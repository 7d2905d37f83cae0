"""Python scripts in an installed bundle: a frozen Opsflow cannot lend its own `sys.executable`.

In a bundle `sys.executable` is the Opsflow program itself, so `action.script` with
`language: python` looks for a real Python: `OPSFLOW_PYTHON`, else `python3`, `python` or `py`
on PATH. These tests pretend to be frozen in-process (`sys.frozen`); the built bundle itself is
tested by `packaging/test_bundle.py` (run by `make package`).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from opsflow.catalog.builtin.actions_local import ScriptParams
from opsflow.catalog.registry import Catalog, builtin_specs
from opsflow.executors.process import script
from opsflow.flowfile import parse_flow
from opsflow.nodeapi import NodeCall, NodeError

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX launcher scripts")

CATALOG = Catalog(builtin_specs())
#: The Python running these tests (the `frozen` fixture replaces `sys.executable`).
REAL_PYTHON = sys.executable

#: Prints which Python ran it and its arguments.
BODY = "import json, sys\nprint(json.dumps({'python': sys.executable, 'args': sys.argv[1:]}))\n"


def _call(**params: Any) -> NodeCall:
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "t",
        "nodes": [
            {"id": "start", "type": "trigger.manual", "params": {}},
            {"id": "act", "type": "action.script", "params": params},
        ],
        "edges": [{"id": "e0", "from": "start", "port": "out", "to": "act"}],
    }
    flow = parse_flow(json.dumps(document), "test", CATALOG)
    spec = CATALOG.get("action.script")
    assert spec is not None
    return NodeCall(
        run_id="r1",
        flow=flow,
        flow_path=None,
        node=flow.nodes[1],
        spec=spec,
        params=ScriptParams.model_validate(params).model_dump(mode="json"),
        attempt=1,
        timeout_s=30,
    )


def _run(**params: Any) -> dict[str, Any]:
    outcome = script(_call(language="python", body=BODY, **params))
    result: dict[str, Any] = json.loads(outcome.output["stdout"])
    return result


def _launcher(folder: Path, name: str) -> Path:
    """A program `name` in `folder` that runs the tests' Python (a stand-in for python3)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f'#!/bin/sh\nexec "{REAL_PYTHON}" "$@"\n', encoding="utf-8")
    path.chmod(0o755)
    return path


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Pretend to be a bundle whose executable is the Opsflow program; PATH holds no Python."""
    fake_program = tmp_path / "bundle" / "opsflow"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(fake_program))
    monkeypatch.delenv("OPSFLOW_PYTHON", raising=False)
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return empty


def test_not_frozen_scripts_run_with_this_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setenv("OPSFLOW_PYTHON", "/nonexistent/python")
    result = _run(args=["a"])
    assert result["args"] == ["a"]
    assert os.path.realpath(result["python"]) == os.path.realpath(REAL_PYTHON)


@pytest.mark.parametrize("name", ["python3", "python", "py"])
def test_frozen_finds_a_python_on_path(frozen: Path, name: str) -> None:
    _launcher(frozen, name)
    result = _run(args=["two words"])
    assert result["args"] == ["two words"]
    assert os.path.realpath(result["python"]) == os.path.realpath(REAL_PYTHON)


def test_frozen_prefers_python3(frozen: Path, tmp_path: Path) -> None:
    (frozen / "python").write_text("#!/bin/sh\necho wrong python\nexit 3\n", encoding="utf-8")
    (frozen / "python").chmod(0o755)
    _launcher(frozen, "python3")
    assert _run()["args"] == []


def test_frozen_uses_the_path_the_script_gets_from_env(frozen: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-path"
    _launcher(other, "python3")
    assert _run(env={"PATH": str(other)})["args"] == []


def test_frozen_opsflow_python_setting_wins(
    frozen: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (frozen / "python3").write_text("#!/bin/sh\nexit 3\n", encoding="utf-8")
    (frozen / "python3").chmod(0o755)
    chosen = _launcher(tmp_path / "elsewhere", "my-python")
    monkeypatch.setenv("OPSFLOW_PYTHON", str(chosen))
    assert _run(args=["x"])["args"] == ["x"]


def test_frozen_opsflow_python_that_does_not_exist_says_so(
    frozen: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _launcher(frozen, "python3")  # not used: the setting is explicit
    missing = tmp_path / "no-such-python"
    monkeypatch.setenv("OPSFLOW_PYTHON", str(missing))
    with pytest.raises(NodeError) as caught:
        _run()
    message = str(caught.value)
    assert f"OPSFLOW_PYTHON is set to '{missing}'" in message
    assert not caught.value.retryable


def test_frozen_without_any_python_fails_with_one_sentence_saying_what_to_set(
    frozen: Path,
) -> None:
    with pytest.raises(NodeError) as caught:
        _run()
    message = str(caught.value)
    assert message.startswith("node 'act': no Python was found to run the python script; ")
    assert "python3, python or py" in message
    assert "OPSFLOW_PYTHON" in message
    assert message.count(". ") == 0 and not message.endswith(".")
    assert "\n" not in message
    assert not caught.value.retryable


def test_frozen_never_runs_the_bundle_itself(frozen: Path) -> None:
    """The failure above happens before anything starts: not even the Opsflow program."""
    program = Path(sys.executable)
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\necho started the bundle >&2\nexit 9\n", encoding="utf-8")
    program.chmod(0o755)
    with pytest.raises(NodeError, match="no Python was found"):
        _run()

"""The core never imports PySide6; only `opsflow.studio` may."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "opsflow"


def test_no_module_outside_studio_imports_qt() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        if "studio" in path.relative_to(SRC).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path}: {n}" for n in names if n.split(".")[0] in {"PySide6", "shiboken6"}
            ]
    assert offenders == []


def test_importing_the_core_and_cli_loads_no_qt() -> None:
    code = (
        "import sys, opsflow.cli.main, opsflow.flowfile, opsflow.validate, opsflow.schema;"
        "from opsflow.catalog import default_catalog; default_catalog();"
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"

"""The layering rules that run with the tests: the core never imports PySide6 (only
`opsflow.studio` may), and no module uses another module's underscore names.

The import-linter contracts in pyproject.toml (`lint-imports`, run by `make lint`) hold the
rest, following indirect imports too; a test here checks that they cover every package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "opsflow"


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
        # The imports the Qt-free contract lets `opsflow studio` make, before it needs Qt.
        "import opsflow.cli.studio_command;"
        "from opsflow.catalog import default_catalog; default_catalog();"
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'shiboken'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_qt_free_contract_covers_every_package_but_the_studio() -> None:
    """A new top-level module is held to "no Qt, no studio" from its first line."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    qt_free = next(c for c in contracts if "opsflow.studio" in c.get("forbidden_modules", ()))
    top_level = {
        f"opsflow.{path.stem if path.is_file() else path.name}"
        for path in SRC.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    assert sorted(set(qt_free["source_modules"])) == sorted(top_level - {"opsflow.studio"})


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(dotted: str) -> bool:
    path = SRC.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def imported_from(node: ast.ImportFrom, here: str, is_package: bool) -> str:
    """The absolute name of the module a `from ... import` reads from."""
    if not node.level:
        return node.module or ""
    base = here.split(".") if is_package else here.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def dotted(node: ast.expr) -> str | None:
    """`a.b.c` for a chain of names and attributes, None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        owner = dotted(node.value)
        return None if owner is None else f"{owner}.{node.attr}"
    return None


def private_names_used_elsewhere(source: str, here: str, *, is_package: bool) -> list[str]:
    """Each `from X import _name` and `X._name` in the module `here` (whose text is `source`)
    where X is another Opsflow module, as "line: what"."""
    tree = ast.parse(source)
    modules: dict[str, str] = {}  # a local name bound to an Opsflow module -> that module
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            origin = imported_from(node, here, is_package)
            if origin.split(".")[0] != "opsflow":
                continue
            for alias in node.names:
                if is_module(f"{origin}.{alias.name}"):
                    modules[alias.asname or alias.name] = f"{origin}.{alias.name}"
                if is_private(alias.name) and origin != here:
                    found.append(f"{node.lineno}: from {origin} import {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "opsflow":
                    modules[alias.asname or "opsflow"] = alias.name if alias.asname else "opsflow"
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and is_private(node.attr)):
            continue
        owner = dotted(node.value)
        head, _, rest = (owner or "").partition(".")
        if head not in modules:
            continue
        target = modules[head] + (f".{rest}" if rest else "")
        if is_module(target) and target != here:
            found.append(f"{node.lineno}: {target}.{node.attr}")
    return found


def test_no_module_uses_another_modules_underscore_names() -> None:
    """Shared names are public (no underscore); a private name is its own module's business."""
    offenders = [
        f"{path.relative_to(SRC.parent)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        for line in private_names_used_elsewhere(
            path.read_text(encoding="utf-8"), module_name(path), is_package=path.stem == "__init__"
        )
    ]
    assert offenders == []


def test_the_private_name_check_sees_every_form() -> None:
    source = (
        "from opsflow.engine import plan\n"
        "from opsflow.expr.sandbox import _budget\n"
        "from .probe import _its_own\n"
        "import opsflow.engine.journal as journal\n"
        "import opsflow.validate.graph\n"
        "from . import redact\n"
        "x = plan._x, journal._y, redact._z, opsflow.validate.graph._w\n"
        "fine = plan.__name__, plan.Plan._private, journal.Journal, _its_own._q\n"
    )
    found = private_names_used_elsewhere(source, "opsflow.engine.probe", is_package=False)
    assert sorted(found) == [
        "2: from opsflow.expr.sandbox import _budget",
        "7: opsflow.engine.journal._y",
        "7: opsflow.engine.plan._x",
        "7: opsflow.engine.redact._z",
        "7: opsflow.validate.graph._w",
    ]

"""README's "Writing a node pack", followed literally: its files, its commands, what they do.

The guide marks each fenced block with an HTML comment just before it (invisible on GitHub):
`<!-- file: PATH -->` is a file's whole content, `<!-- shell -->` commands to run in order,
`<!-- tree -->` the pack's layout. Every block of the section must carry a marker, so the
guide cannot show code that this test does not use. The test writes the files under
tmp_path, makes a virtualenv there, and runs the commands with bash, that virtualenv first
on PATH, as a user whose Opsflow lives in that virtualenv would (pip only gets the flags that
keep it offline, see `offline`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import sysconfig
import venv
from dataclasses import dataclass
from pathlib import Path

from tests.flowdocs import ROOT

SECTION = "## Writing a node pack"
PACK = "opsflow-pack-example"
PACKAGE = f"{PACK}/src/opsflow_pack_example"
MARKER = re.compile(r"<!-- (?:(?P<kind>shell|tree)|file: (?P<path>\S+)) -->")
FENCE = re.compile(r"^```(?P<language>\w*)\n(?P<text>.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    kind: str  # "file", "shell" or "tree"
    path: str | None
    text: str


def guide_blocks() -> list[Block]:
    """The marked fenced blocks of the README's node-pack section, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(f"\n{SECTION}\n")
    end = readme.find("\n## ", start + 1)
    section = readme[start : end if end != -1 else len(readme)]
    blocks = []
    for fence in FENCE.finditer(section):
        line_before = section[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.fullmatch(line_before)
        assert marker, f"the guide's block {fence.group(0)[:50]!r} has no marker comment"
        kind = marker.group("kind") or "file"
        blocks.append(Block(kind, marker.group("path"), fence.group("text")))
    return blocks


def tree_files(tree: str) -> set[str]:
    """The files a `tree` drawing lists (folders end with '/'; words after a name are a note)."""
    lines = tree.splitlines()
    folders = [lines[0].rstrip("/")]
    files = set()
    for line in lines[1:]:
        drawn = re.match(r"((?:│   |    )*)[├└]── (\S+)", line)
        assert drawn, f"not a tree line: {line!r}"
        depth = len(drawn.group(1)) // 4 + 1
        name = drawn.group(2)
        del folders[depth:]
        if name.endswith("/"):
            folders.append(name.rstrip("/"))
        else:
            files.add("/".join([*folders, name]))
    return files


def make_venv(folder: Path) -> Path:
    """A virtualenv in which Opsflow runs, made offline in well under a second; its bin folder.

    Test-only shortcuts, standing in for `pip install opsflow` into a fresh virtualenv: a .pth
    file adds this test run's site-packages (Opsflow, pip and hatchling) to the virtualenv's
    path, and a small `opsflow` script stands in for the one pip writes. The pack itself is
    installed into the virtualenv by the guide's own pip command.
    """
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(folder)
    bin_folder = folder / "bin"
    python = bin_folder / "python"
    ask = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    inner = Path(subprocess.check_output([python, "-c", ask], text=True).strip())
    outer = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    lines = "".join(f"import site; site.addsitedir({path!r})\n" for path in sorted(outer))
    (inner / "_outer_site_packages_for_this_test.pth").write_text(lines, encoding="utf-8")
    script = bin_folder / "opsflow"
    script.write_text(
        f"#!{python}\nimport sys\nfrom opsflow.cli.main import main\nsys.exit(main())\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    # The guide installs for the bundle with python3.11 (the bundle's Python); any 3.11+ will do.
    if not (bin_folder / "python3.11").exists():
        (bin_folder / "python3.11").symlink_to(python)
    return bin_folder


def offline(commands: str) -> str:
    """The guide's pip commands, made to work without an index (test-only additions).

    `--no-index` keeps pip off the network, `--no-build-isolation` builds with the hatchling
    this test run has instead of downloading one, and `--no-deps` skips looking for Opsflow,
    which the .pth file of `make_venv` provides without pip knowing.
    """
    lines = []
    for line in commands.splitlines():
        if " -m pip install " in line:
            extra = "--no-index --no-build-isolation"
            extra += "" if "--no-deps" in line else " --no-deps"
            line = line.replace(" -m pip install ", f" -m pip install {extra} ", 1)
        lines.append(line)
    return "\n".join(lines) + "\n"


def clean_environment(tmp_path: Path, bin_folder: Path) -> dict[str, str]:
    """No keyring (credentials then come from the environment), a fresh home and journal."""
    keep = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPSFLOW_", "PIP_", "PYTHON", "VIRTUAL_ENV", "XDG_"))
    }
    home = tmp_path / "home"
    home.mkdir()
    return {
        **keep,
        "PATH": f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(bin_folder.parent),
        "HOME": str(home),
        "OPSFLOW_STORE": str(tmp_path / "journal.sqlite"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "QT_QPA_PLATFORM": "offscreen",
    }


def run_shell(commands: str, cwd: Path, env: dict[str, str]) -> str:
    """Run a shell block with bash, stopping at the first failing command; stdout and stderr."""
    result = subprocess.run(
        ["bash", "-c", "set -eux\n" + offline(commands)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    said = result.stdout + result.stderr
    assert result.returncode == 0, said
    assert "Traceback" not in said, said
    assert "opsflow: warning" not in said, said
    return said


def test_the_node_pack_guide_works_as_written(tmp_path: Path) -> None:
    blocks = guide_blocks()
    files = {block.path: block.text for block in blocks if block.kind == "file"}
    shells = [block.text for block in blocks if block.kind == "shell"]
    (tree,) = [block.text for block in blocks if block.kind == "tree"]
    assert tree_files(tree) == {path for path in files if path and path.startswith(f"{PACK}/")}
    assert len(shells) == 4, "each shell block of the guide is checked below"
    for path, text in files.items():
        assert path is not None
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    env = clean_environment(tmp_path, make_venv(tmp_path / "venv"))
    install, bundle, run, migrate = shells

    said = run_shell(install, tmp_path, env)
    listed = re.findall(r"^\s+(example\.\w+)\s", said, re.MULTILINE)
    assert listed == ["example.checksums", "example.wait_for_file"]
    assert "example.checksums (version 2) — Checksum manifest" in said
    assert "from: node pack 'example' (opsflow-pack-example 0.1.0)" in said
    assert "executor: opsflow_pack_example.checksums:write_checksums" in said
    icon = tmp_path / PACKAGE / "icons" / "checksums.svg"
    assert f"icon: opsflow_pack_example:icons/checksums.svg ({icon})" in said

    run_shell(bundle, tmp_path, env)
    packs = tmp_path / "home" / ".local" / "share" / "opsflow" / "packs"
    bundled_icon = packs / "opsflow_pack_example" / "icons" / "checksums.svg"
    assert bundled_icon.read_bytes() == icon.read_bytes()
    # The bundle's start-up hook appends its packs folders to sys.path; PYTHONPATH does that
    # here, for an Opsflow without the pack installed.
    shown = subprocess.run(
        [sys.executable, "-m", "opsflow", "nodes", "show", "example.checksums"],
        env={**env, "PYTHONPATH": str(packs)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert f"icon: opsflow_pack_example:icons/checksums.svg ({bundled_icon})" in shown.stdout

    said = run_shell(run, tmp_path, env)
    assert "backup-checksums.flow.json: ok (4 nodes, 0 errors, 0 warnings)" in said
    backup = tmp_path / "demo-backup"
    dump = (backup / "db.dump").read_bytes()
    assert f"sums: wrote demo-backup/SHA256SUMS: {len(dump)} bytes in 1 file(s)" in said
    assert re.search(r"^OUTPUTS\n  files = 1\n  signed = true$", said, re.MULTILINE), said
    manifest = (backup / "SHA256SUMS").read_bytes()
    assert manifest == f"{hashlib.sha256(dump).hexdigest()}  db.dump\n".encode()
    signature = hmac.new(b"not-a-real-secret", manifest, hashlib.sha256).hexdigest()
    assert (backup / "SHA256SUMS.sig").read_text() == f"{signature}\n"
    assert manifest.decode() in said  # the guide's `cat`
    assert re.search(r"^done\s+succeeded\s+present\s", said, re.MULTILINE), said
    assert re.search(r"^sums\s+succeeded\s+success\s", said, re.MULTILINE), said
    assert re.search(r"^late\s+skipped\s", said, re.MULTILINE), said
    printed = [line for line in said.splitlines() if not line.startswith("+ ")]  # not set -x's
    assert not [line for line in printed if "not-a-real-secret" in line]

    said = run_shell(migrate, tmp_path, env)
    assert "old-checksums.flow.json: rewritten" in said
    upgraded = json.loads((tmp_path / "old-checksums.flow.json").read_text(encoding="utf-8"))
    (sums,) = [node for node in upgraded["nodes"] if node["id"] == "sums"]
    assert sums["type_version"] == 2 and sums["params"] == {"folder": "demo-backup"}


def test_the_studio_draws_a_pack_icon_from_its_package(tmp_path: Path) -> None:
    """`package:path.svg` icons resolve through importlib.resources, for the Studio too."""
    package = tmp_path / "iconpack"
    (package / "icons").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (svg,) = [
        block.text for block in guide_blocks() if block.path == f"{PACKAGE}/icons/checksums.svg"
    ]
    (package / "icons" / "sums.svg").write_text(svg, encoding="utf-8")
    code = (
        "from opsflow.studio.icons import icon_path, tinted_image\n"
        "print(icon_path('iconpack:icons/sums.svg'))\n"
        "print(icon_path('iconpack:icons/missing.svg').name)\n"
        "image = tinted_image('iconpack:icons/sums.svg', '#ff0000', 24)\n"
        "print(sum(image.pixelColor(x, y).alpha() > 0 for x in range(24) for y in range(24)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    found, fallback, painted = result.stdout.split()
    assert found == str(package / "icons" / "sums.svg")
    assert fallback == "node-generic.svg"
    assert int(painted) > 20

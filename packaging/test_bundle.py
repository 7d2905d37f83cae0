"""The built bundle, run as a user runs it: the CLI on every sample, the Studio, packs, the .deb.

Needs the bundle built by `make package` (packaging/dist/opsflow; another folder with
OPSFLOW_BUNDLE=FOLDER), which runs this test after building:

    python -m pytest packaging/test_bundle.py

It lives outside tests/, so `make test` does not collect it (the build takes minutes), and its
`package` marker is registered in packaging/pytest.ini. Every program runs with a fresh home,
config, data and journal, so nothing of the machine's own Opsflow settings is used or changed.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import elfinfo  # noqa: E402

pytestmark = pytest.mark.package

BUNDLE = Path(os.environ.get("OPSFLOW_BUNDLE", HERE / "dist" / "opsflow")).resolve()
EXE = ".exe" if sys.platform == "win32" else ""
CLI = BUNDLE / f"opsflow{EXE}"
STUDIO = BUNDLE / f"opsflow-studio{EXE}"
SAMPLES = ROOT / "sample_flows"
PAYLOADS = SAMPLES / "payloads"
#: The newest glibc the bundle may need; packaging/README.md lists the distributions it runs on
#: from this. A build on a newer system raises it: then update the README (or build older).
DOCUMENTED_GLIBC = (2, 35)
#: The newest libstdc++ symbol version it may need (GCC 12's, as on Ubuntu 22.04).
DOCUMENTED_GLIBCXX = (3, 4, 30)
#: How long the Studio must stay up.
STUDIO_UP_S = 3.0


def _version() -> str:
    text = (ROOT / "src" / "opsflow" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'__version__ = "([^"]+)"', text)
    assert match
    return match[1]


def _samples() -> list[Path]:
    return sorted(SAMPLES.rglob("*.flow.json"))


def _webhook_samples() -> list[Path]:
    found = []
    for path in _samples():
        flow = json.loads(path.read_text(encoding="utf-8"))
        if any(node.get("type") == "trigger.webhook" for node in flow.get("nodes", [])):
            found.append(path)
    return found


@pytest.fixture(scope="session", autouse=True)
def bundle_built() -> None:
    if not CLI.is_file() or not STUDIO.is_file():
        pytest.fail(f"no bundle in {BUNDLE}: build it with `make package`", pytrace=False)


@dataclass
class Home:
    """A fresh user: home, config, data, state and journal in a temporary folder."""

    folder: Path
    env: dict[str, str]

    def run(self, *args: str | Path, **extra: str) -> Result:
        """Run the bundle's `opsflow ARGS` as this user, with `extra` environment variables."""
        completed = subprocess.run(
            [str(CLI), *map(str, args)],
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            cwd=self.folder,
        )
        return Result(completed.returncode, completed.stdout, completed.stderr)

    @property
    def settings_file(self) -> Path:
        return self.folder / "config" / "Opsflow" / "Opsflow Studio.conf"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


@pytest.fixture
def home(tmp_path: Path) -> Home:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPSFLOW_", "QT_", "XDG_", "PYTHON"))
    }
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env |= {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_RUNTIME_DIR": str(runtime),
        "OPSFLOW_STORE": str(tmp_path / "runs.sqlite"),
        "APPDATA": str(tmp_path / "appdata"),
        "LOCALAPPDATA": str(tmp_path / "localappdata"),
    }
    (tmp_path / "home").mkdir()
    return Home(tmp_path, env)


# -- the command line ------------------------------------------------------------------------


def test_version(home: Home) -> None:
    result = home.run("--version")
    assert result.code == 0, result
    assert result.out.strip() == f"opsflow {_version()}"


@pytest.mark.parametrize("sample", _samples(), ids=lambda p: str(p.relative_to(SAMPLES)))
def test_every_sample_validates(home: Home, sample: Path) -> None:
    result = home.run("validate", sample)
    assert result.code == 0, result
    assert ": ok (" in result.out, result


@pytest.mark.parametrize("sample", _webhook_samples(), ids=lambda p: p.name)
def test_webhook_samples_dry_run_with_their_payloads(home: Home, sample: Path) -> None:
    payload = PAYLOADS / sample.name.replace(".flow.json", ".json")
    assert payload.is_file(), f"{sample.name} has a webhook trigger but no {payload}"
    result = home.run("run", "--dry-run", "--payload", f"@{payload}", sample)
    assert result.code == 0, result
    assert re.search(r"^run \S+: succeeded", result.out, re.MULTILINE), result


def test_time_zones_come_from_the_bundle(home: Home, tmp_path: Path) -> None:
    """With no system zone database (PYTHONTZPATH empty, as on Windows) zones still resolve."""
    flow = _flow(
        tmp_path,
        [
            {
                "id": "start",
                "type": "trigger.schedule",
                "params": {"cron": "0 3 * * *", "timezone": "America/New_York"},
            },
            {"id": "note", "type": "action.set_vars", "params": {"values": {"x": "1"}}},
        ],
        [("start", "out", "note")],
    )
    result = home.run("validate", flow, PYTHONTZPATH="")
    assert result.code == 0, result
    flow.write_text(flow.read_text().replace("America/New_York", "Nowhere/Atlantis"))
    result = home.run("validate", flow, PYTHONTZPATH="")
    assert result.code == 1
    assert "'Nowhere/Atlantis' is not a known time zone" in result.out, result


def _flow(
    folder: Path, nodes: list[dict[str, object]], edges: list[tuple[str, str, str]], **extra: object
) -> Path:
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "bundle-test",
        **extra,
        "nodes": nodes,
        "edges": [
            {"id": f"e{i}", "from": source, "port": port, "to": target}
            for i, (source, port, target) in enumerate(edges)
        ],
    }
    path = folder / "bundle-test.flow.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


PYTHON_BODY = "import sys\nprint(sys.argv[1].upper())\n"


def test_executors_run_for_real(home: Home, tmp_path: Path) -> None:
    """Executors are imported from strings: a real run reaches each kind (no dry run)."""
    out = tmp_path / "out"
    out.mkdir()
    flow = _flow(
        tmp_path,
        [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "greet",
                "type": "action.set_vars",
                "params": {"values": {"greeting": "hello {{ inputs.who }}"}},
            },
            {
                "id": "echo",
                "type": "action.shell",
                "params": {"command": ["echo", "{{ vars.greeting }}"]},
            },
            {
                "id": "py",
                "type": "action.script",
                "params": {
                    "language": "python",
                    "body": PYTHON_BODY,
                    "args": ["{{ nodes.echo.output.stdout | trim }}"],
                },
            },
            {"id": "pause", "type": "action.wait", "params": {"duration_s": 0.1}},
            {
                "id": "check",
                "type": "condition.if",
                "params": {"condition": "(nodes.py.output.stdout | trim) == 'HELLO BUNDLE'"},
            },
            {
                "id": "write",
                "type": "action.file",
                "params": {
                    "operation": "write",
                    "path": str(out / "result.txt"),
                    "content": "{{ nodes.py.output.stdout | trim }}",
                },
            },
            {
                "id": "wrong",
                "type": "action.file",
                "params": {"operation": "write", "path": str(out / "wrong.txt"), "content": "x"},
            },
        ],
        [
            ("start", "out", "greet"),
            ("greet", "success", "echo"),
            ("echo", "success", "py"),
            ("py", "success", "pause"),
            ("pause", "success", "check"),
            ("check", "true", "write"),
            ("check", "false", "wrong"),
        ],
        inputs={"who": {"title": "Who", "default": "bundle"}},
        settings={"file_roots": [str(out)]},
    )
    result = home.run("run", flow)
    assert result.code == 0, result
    assert (out / "result.txt").read_text() == "HELLO BUNDLE"
    assert not (out / "wrong.txt").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX launcher script")
def test_python_scripts_need_a_real_python_which_can_be_set(home: Home, tmp_path: Path) -> None:
    """The bundle never runs itself as Python: no Python on PATH is one clear sentence."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    flow = _flow(
        tmp_path,
        [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "py",
                "type": "action.script",
                "params": {"language": "python", "body": PYTHON_BODY, "args": ["it ran"]},
            },
        ],
        [("start", "out", "py")],
    )
    result = home.run("run", "--json", flow, PATH=str(empty))
    assert result.code == 1, result
    assert "no Python was found to run the python script" in result.out, result
    assert "OPSFLOW_PYTHON" in result.out

    launcher = tmp_path / "python-elsewhere"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    launcher.chmod(0o755)
    result = home.run("run", "--json", flow, PATH=str(empty), OPSFLOW_PYTHON=str(launcher))
    assert result.code == 0, result
    assert "IT RAN" in result.out


# -- node packs and keyring backends (entry points found from the bundle) -------------------

PACK_MODULE = """
from opsflow.catalog.fields import Params, template
from opsflow.catalog.spec import ACTION_PORTS, NodeSpec


class RestartParams(Params):
    service: str = template(description="Service name.", min_length=1)


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
"""


def _install(folder: Path, module: str, source: str, group: str, entry: str) -> None:
    """Lay a distribution out as `pip install --target` does: module plus dist-info."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{module}.py").write_text(source, encoding="utf-8")
    info = folder / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")
    (info / "RECORD").write_text("")


@pytest.mark.parametrize("where", ["OPSFLOW_PACKS", "user data folder"])
def test_node_packs_are_found_in_a_packs_folder(home: Home, tmp_path: Path, where: str) -> None:
    if where == "OPSFLOW_PACKS":
        folder = tmp_path / "my-packs"
        extra = {"OPSFLOW_PACKS": str(folder)}
    else:
        if sys.platform != "linux":
            pytest.skip("the user data folder is checked on Linux")
        folder = tmp_path / "data" / "opsflow" / "packs"
        extra = {}
    _install(folder, "acme_opsflow", PACK_MODULE, "opsflow.nodes", "acme = acme_opsflow:specs")
    result = home.run("nodes", **extra)
    assert result.code == 0, result
    assert "acme.restart_service" in result.out, result
    flow = _flow(
        tmp_path,
        [
            {"id": "start", "type": "trigger.manual"},
            {"id": "restart", "type": "acme.restart_service", "params": {"service": "Spooler"}},
        ],
        [("start", "out", "restart")],
    )
    result = home.run("validate", flow, **extra)
    assert result.code == 0, result


TEST_KEYRING = '''
"""A keyring backend kept in a JSON file; notes which keyring backends keyring can find."""
import json
import os
from importlib.metadata import entry_points

from keyring.backend import KeyringBackend

FILE = os.environ["OPSFLOW_TEST_KEYRING"]
with open(FILE + ".seen", "w") as seen:
    json.dump(sorted(ep.name for ep in entry_points(group="keyring.backends")), seen)


class TestKeyring(KeyringBackend):
    priority = 50

    def _load(self):
        try:
            with open(FILE) as file:
                return json.load(file)
        except FileNotFoundError:
            return {}

    def get_password(self, service, username):
        return self._load().get(f"{service}/{username}")

    def set_password(self, service, username, password):
        data = self._load()
        data[f"{service}/{username}"] = password
        with open(FILE, "w") as file:
            json.dump(data, file)

    def delete_password(self, service, username):
        data = self._load()
        data.pop(f"{service}/{username}", None)
        with open(FILE, "w") as file:
            json.dump(data, file)
'''


def test_keyring_backends_are_found_through_entry_points(home: Home, tmp_path: Path) -> None:
    """keyring finds its backends through entry points: the bundle must carry them."""
    packs = tmp_path / "packs"
    _install(packs, "test_keyring", TEST_KEYRING, "keyring.backends", "test = test_keyring")
    store = tmp_path / "keyring.json"
    extra = {"OPSFLOW_PACKS": str(packs), "OPSFLOW_TEST_KEYRING": str(store), "DEMO": "s3cret"}
    result = home.run(
        "credentials",
        "set",
        "demo",
        "--kind",
        "token",
        "--field",
        "token=env:DEMO",
        "--store",
        "keyring",
        **extra,
    )
    assert result.code == 0, result
    assert "s3cret" in store.read_text()
    seen = set(json.loads(Path(f"{store}.seen").read_text()))
    assert {"SecretService", "libsecret", "KWallet", "Windows", "macOS", "chainer"} <= seen
    result = home.run("credentials", "list", "--json", **extra)
    assert result.code == 0, result
    assert {"name": "demo", "kind": "token", "location": "keyring"}.items() <= json.loads(
        result.out
    )[0].items()
    assert home.run("credentials", "test", "demo", **extra).code == 0


# -- the Studio ------------------------------------------------------------------------------

#: Harmless lines the offscreen platform prints for every window.
BENIGN = re.compile(r"This plugin does not support propagateSizeHints\(\)")


@dataclass
class Studio:
    process: subprocess.Popen[bytes]
    stderr: Path

    def lines(self) -> list[str]:
        return self.stderr.read_text(errors="replace").splitlines()

    def problems(self) -> list[str]:
        return [
            line
            for line in self.lines()
            if line.strip() and not line.startswith("qt.core.library:") and not BENIGN.search(line)
        ]

    def loaded(self) -> list[str]:
        return [line for line in self.lines() if line.endswith("loaded library")]


StartStudio = Callable[..., Studio]


@pytest.fixture
def studio(home: Home, tmp_path: Path) -> Iterator[StartStudio]:
    started: list[Studio] = []

    def start(*argv: str | Path, **extra: str) -> Studio:
        err = tmp_path / f"studio-{len(started)}.err"
        env = {**home.env, "QT_LOGGING_RULES": "qt.core.library.debug=true", **extra}
        with err.open("wb") as stderr:
            process = subprocess.Popen(
                [str(a) for a in argv],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                cwd=tmp_path,
                start_new_session=True,
            )
        started.append(Studio(process, err))
        return started[-1]

    yield start
    for item in started:
        if item.process.poll() is None:
            item.process.terminate()
            try:
                item.process.wait(10)
            except subprocess.TimeoutExpired:
                item.process.kill()
                item.process.wait()


def _stays_up(item: Studio, home: Home, sample: Path) -> None:
    deadline = time.monotonic() + STUDIO_UP_S
    while time.monotonic() < deadline:
        assert item.process.poll() is None, (
            f"the Studio exited with {item.process.returncode}:\n" + "\n".join(item.lines())
        )
        time.sleep(0.1)
    # It opened the file: it is the first of the recent files in its settings.
    settings = configparser.ConfigParser(interpolation=None)
    settings.read(home.settings_file)
    assert settings.get("General", "recent_files", fallback="").startswith(str(sample)), (
        f"{home.settings_file}:\n"
        + (home.settings_file.read_text() if home.settings_file.exists() else "(none)")
    )
    assert item.problems() == [], "\n".join(item.lines())
    loaded = "\n".join(item.loaded())
    assert str(BUNDLE) in loaded, "Qt plugins were not loaded from the bundle:\n" + loaded
    assert "iconengines/libqsvgicon" in loaded, "the SVG icon engine was not loaded"


SHOWN_SAMPLE = SAMPLES / "web-outage-remediation.flow.json"


def test_studio_starts_offscreen_with_a_sample(studio: StartStudio, home: Home) -> None:
    item = studio(STUDIO, SHOWN_SAMPLE, QT_QPA_PLATFORM="offscreen")
    _stays_up(item, home, SHOWN_SAMPLE)
    assert "platforms/libqoffscreen" in "\n".join(item.loaded())


def test_opsflow_studio_command_starts_the_studio(studio: StartStudio, home: Home) -> None:
    item = studio(CLI, "studio", SHOWN_SAMPLE, QT_QPA_PLATFORM="offscreen")
    _stays_up(item, home, SHOWN_SAMPLE)


@pytest.fixture
def x_display(tmp_path: Path) -> Iterator[str]:
    """A virtual X display (Xvfb), or a skip where there is none."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt install xvfb)")
    for number in range(90, 120):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            break
    display = f":{number}"
    server = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1440x900x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            assert server.poll() is None, "Xvfb did not start"
            assert time.monotonic() < deadline, "Xvfb did not start within 10 s"
            time.sleep(0.1)
        yield display
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)


@pytest.mark.skipif(sys.platform != "linux", reason="X11")
def test_studio_starts_on_x11(studio: StartStudio, home: Home, x_display: str) -> None:
    """The xcb platform with the system's X libraries (the .deb's Depends): a real window."""
    missing = _unresolved_libraries(BUNDLE / "_internal/PySide6/Qt/plugins/platforms/libqxcb.so")
    if missing:
        pytest.skip(f"this machine lacks {', '.join(missing)} (the .deb depends on them)")
    sample = SAMPLES / "patch-window.flow.json"
    item = studio(STUDIO, sample, QT_QPA_PLATFORM="xcb", DISPLAY=x_display)
    _stays_up(item, home, sample)
    assert "platforms/libqxcb" in "\n".join(item.loaded())
    if shutil.which("xwininfo"):
        tree = subprocess.run(
            ["xwininfo", "-root", "-tree"],
            env={**os.environ, "DISPLAY": x_display},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f'"{sample.name} — ' in tree and "Opsflow Studio" in tree, tree


def _unresolved_libraries(path: Path) -> list[str]:
    env = {**os.environ, "LD_LIBRARY_PATH": f"{BUNDLE / '_internal'}"}
    listing = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env).stdout
    return re.findall(r"^\s*(\S+) => not found", listing, re.MULTILINE)


# -- what the bundle needs from the system ---------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="ELF")
def test_glibc_needed_is_the_documented_one() -> None:
    infos = [elfinfo.read(path) for path in elfinfo.elf_files(BUNDLE)]
    needed = elfinfo.glibc_needed(infos)
    print(f"the bundle needs glibc >= {needed[0]}.{needed[1]}")
    assert needed <= DOCUMENTED_GLIBC, (
        f"the bundle now needs glibc {needed[0]}.{needed[1]}: build on an older system, or "
        "update the distribution list in packaging/README.md and DOCUMENTED_GLIBC"
    )
    cxx = elfinfo.newest_version(infos, "GLIBCXX_")
    print(f"the bundle needs libstdc++ with GLIBCXX_{'.'.join(map(str, cxx))}")
    assert cxx <= DOCUMENTED_GLIBCXX, (
        f"the bundle now needs GLIBCXX_{'.'.join(map(str, cxx))}: update packaging/README.md"
    )


# -- the .deb --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not available")
    found = sorted((HERE / "dist").glob(f"opsflow_{_version()}_*.deb"))
    if not found:
        pytest.fail("no .deb in packaging/dist: build it with `make package`", pytrace=False)
    folder = tmp_path_factory.mktemp("deb")
    subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(folder)], check=True)
    text = subprocess.run(
        ["dpkg-deb", "-f", str(found[-1])], check=True, capture_output=True, text=True
    ).stdout
    fields = dict(re.findall(r"^(\S+): (.*)$", text, re.MULTILINE))
    return folder, fields


def test_deb_layout(deb: tuple[Path, dict[str, str]]) -> None:
    root, fields = deb
    assert fields["Package"] == "opsflow" and fields["Version"] == _version()
    for program in ("opsflow", "opsflow-studio"):
        link = root / "usr" / "bin" / program
        assert link.is_symlink() and os.readlink(link) == f"/opt/opsflow/{program}"
        assert (root / "opt" / "opsflow" / program).stat().st_mode & 0o111
    share = root / "usr" / "share"
    assert (share / "icons/hicolor/scalable/apps/opsflow.svg").is_file()
    assert (share / "icons/hicolor/scalable/mimetypes/application-x-opsflow-flow.svg").is_file()
    mime = ET.parse(share / "mime" / "packages" / "opsflow.xml").getroot()
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    kind = mime.find("m:mime-type", ns)
    assert kind is not None and kind.get("type") == "application/x-opsflow-flow"
    assert [g.get("pattern") for g in kind.findall("m:glob", ns)] == ["*.flow.json"]
    desktop = configparser.ConfigParser(interpolation=None)
    desktop.optionxform = str  # type: ignore[assignment,method-assign]
    desktop.read(share / "applications" / "opsflow-studio.desktop")
    entry = desktop["Desktop Entry"]
    assert entry["Exec"] == "opsflow-studio %F" and entry["Icon"] == "opsflow"
    assert "application/x-opsflow-flow;" in entry["MimeType"]
    if shutil.which("desktop-file-validate"):
        subprocess.run(
            ["desktop-file-validate", str(share / "applications" / "opsflow-studio.desktop")],
            check=True,
        )


def test_deb_program_runs_from_opt(deb: tuple[Path, dict[str, str]], home: Home) -> None:
    root, _ = deb
    result = subprocess.run(
        [str(root / "opt" / "opsflow" / "opsflow"), "validate", str(SHOWN_SAMPLE)],
        env=home.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_deb_packs_folder_next_to_the_programs_through_a_link(
    deb: tuple[Path, dict[str, str]], home: Home, tmp_path: Path
) -> None:
    """As installed: /usr/bin/opsflow is a link; packs in /opt/opsflow/packs are found."""
    root, _ = deb
    packs = root / "opt" / "opsflow" / "packs"
    _install(packs, "acme_opsflow", PACK_MODULE, "opsflow.nodes", "acme = acme_opsflow:specs")
    link = tmp_path / "bin" / "opsflow"
    link.parent.mkdir()
    link.symlink_to(root / "opt" / "opsflow" / "opsflow")
    try:
        result = subprocess.run(
            [str(link), "nodes"], env=home.env, capture_output=True, text=True, timeout=60
        )
    finally:
        shutil.rmtree(packs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "acme.restart_service" in result.stdout


def test_deb_depends_on_qt_x11_libraries_and_the_glibc_used(
    deb: tuple[Path, dict[str, str]],
) -> None:
    _, fields = deb
    depends = [item.strip() for item in fields["Depends"].split(",")]
    names = {item.split()[0] for item in depends}
    for package in (
        "libxcb1",
        "libxcb-cursor0",
        "libxcb-icccm4",
        "libxcb-keysyms1",
        "libxkbcommon-x11-0",
        "libx11-xcb1",
        "libgl1",
        "libegl1",
        "libfontconfig1",
    ):
        assert package in names, f"Depends lacks {package}: {fields['Depends']}"
    infos = [elfinfo.read(path) for path in elfinfo.elf_files(BUNDLE)]
    major, minor = elfinfo.glibc_needed(infos)
    assert f"libc6 (>= {major}.{minor})" in depends
    if shutil.which("apt-cache"):
        # Every package named exists on this distribution.
        shown = subprocess.run(
            ["apt-cache", "show", "--no-all-versions", *sorted(names)],
            capture_output=True,
            text=True,
        )
        assert shown.returncode == 0, shown.stderr

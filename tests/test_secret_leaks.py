"""No secret escapes: random secrets planted through every credential source (environment,
keyring, credentials file) are echoed by the steps of a flow in every encoding a program or
a server may use, and then searched for, in every encoding, everywhere output goes: the
stdout and stderr of `opsflow run` and `opsflow serve`, the journal's database, log and
shared-memory files (raw bytes), `runs show --json`, `runs list --json` and the export.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from opsflow.engine.journal import Journal
from tests.test_run_ownership import post, wait_for, write

OPSFLOW = [sys.executable, "-m", "opsflow"]


def random_secret(label: str, *, text: bool = False) -> str:
    """A secret with characters encodings treat differently: / + " (and, for secrets that
    never travel in an HTTP header, a space, é and an emoji)."""
    tail = " é\U0001f511" if text else ""
    return f'{label}/{secrets.token_hex(6)}+x"{secrets.token_urlsafe(6)}{tail}'


def forms(secret: str) -> dict[str, str]:
    """Every form of the secret the test searches for."""
    data = secret.encode("utf-8")
    units = secret.encode("utf-16-be")
    every_u = "".join(
        f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}" for i in range(0, len(units), 2)
    )
    found = {
        "plain": secret,
        "url": urllib.parse.quote(secret, safe=""),
        "url plus": urllib.parse.quote_plus(secret),
        "json": json.dumps(secret)[1:-1],
        "json ascii": json.dumps(secret, ensure_ascii=True)[1:-1],
        "php json": json.dumps(secret).replace("/", "\\/")[1:-1],
        "all \\u": every_u,
        "hex": data.hex(),
    }
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode().rstrip("=")
        found[f"base64+{offset}"] = encoded[(offset * 4 + 2) // 3 : ((offset + len(data)) * 4) // 3]
    return found


class Echo(BaseHTTPRequestHandler):
    """A server that echoes what it was sent, in PHP's JSON style, base64 and hex."""

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        seen = {"authorization": auth, "query": self.path}
        text = json.dumps(seen).replace("/", "\\/")
        body = json.dumps(
            {
                "php": text,
                "b64": base64.b64encode(auth.encode()).decode(),
                "hex": auth.encode().hex(),
            }
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# A step that found the keyring's and the file's secrets somewhere (a config file it reads)
# and prints them in every way programs do.
LEAKY_SCRIPT = """
import base64, json, sys, urllib.parse
for line in open(sys.argv[1], encoding="utf-8"):
    s = line.rstrip("\\n")
    print("plain", s)
    print("url", urllib.parse.quote(s, safe=""), urllib.parse.quote_plus(s))
    print("json", json.dumps(s), json.dumps(s, ensure_ascii=False))
    print("php", json.dumps(s).replace("/", "\\\\/"))
    print("b64", base64.b64encode(s.encode()).decode())
    print("b64 inside", base64.b64encode(b"{" + s.encode() + b"}").decode())
    print("hex", s.encode().hex())
    print("pair", base64.b64encode(("deploy:" + s).encode()).decode())
print("failing with", open(sys.argv[1], encoding="utf-8").readline().strip(), file=sys.stderr)
"""


@pytest.mark.slow
def test_planted_secrets_never_reach_any_output(
    tmp_path: Path, echo_server: str, site: Path
) -> None:
    token, password, key = random_secret("env"), random_secret("kr"), random_secret("file")
    # Declared by the flow, used by no node: masked from the run's start all the same.
    unused = random_secret("unused", text=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OPSFLOW_CRED") and k != "OPSFLOW_DEBUG"
    }
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
        OPSFLOW_CRED_API_TOKEN=token,
        PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
    )
    for name, kind, field, store, value in (
        ("login", "basic", "password", "keyring", password),
        ("vault", "api-key", "key", "file", key),
        ("spare", "token", "token", "keyring", unused),
    ):
        extra = ["--field", "username=deploy"] if kind == "basic" else []
        source = tmp_path / f"{name}.secret"
        source.write_text(value, encoding="utf-8")
        subprocess.run(
            [*OPSFLOW, "credentials", "set", name, "--kind", kind, *extra,
             "--field", f"{field}=@{source}", "--store", store],
            env=env, check=True, capture_output=True, text=True,
        )  # fmt: skip
    config = tmp_path / "app.conf"  # where the leaky step finds them
    config.write_text(f"{password}\n{key}\n{token}\n{unused}\n", encoding="utf-8")
    db = tmp_path / "runs.sqlite"
    nodes = [
        {"id": "start", "type": "trigger.manual"},
        {
            "id": "hook",
            "type": "trigger.webhook",
            "params": {"path": "/go", "auth": "none", "respond_with_run_id": True},
        },
        {
            "id": "call",
            "type": "action.http",
            "params": {"url": echo_server + "/echo", "auth": "bearer", "credential": "api"},
        },
        {
            "id": "basic",
            "type": "action.http",
            "params": {"url": echo_server + "/basic", "auth": "basic", "credential": "login"},
        },
        {
            "id": "keyed",
            "type": "action.http",
            "params": {"url": echo_server + "/keyed", "auth": "api-key", "credential": "vault"},
        },
        {"id": "env", "type": "action.shell", "params": {"command": ["env"]}},
        {
            "id": "leak",
            "type": "action.script",
            "params": {
                "language": "python",
                "body": LEAKY_SCRIPT,
                "args": [str(config)],
                "success_exit_codes": [0],
            },
        },
    ]
    flow = write(
        tmp_path / "leaky.flow.json",
        "leaky",
        nodes,
        ["start|hook", "call", "basic", "keyed", "env", "leak"],
        credentials={
            "api": {"kind": "token"},
            "login": {"kind": "basic"},
            "vault": {"kind": "api-key"},
            "spare": {"kind": "token"},
        },
    )
    outputs: dict[str, str] = {}

    def opsflow(*args: str | Path, name: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*OPSFLOW, *map(str, args)], env=env, capture_output=True, text=True, timeout=120
        )
        outputs[f"{name} stdout"], outputs[f"{name} stderr"] = done.stdout, done.stderr
        return done

    ran = opsflow("run", flow, "--trigger", "start", "--store", db, name="run")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    opsflow("run", flow, "--trigger", "start", "--store", db, "--json", name="run --json")
    server = subprocess.Popen(
        [*OPSFLOW, "serve", str(flow), "--store", str(db), "--port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    first = ""
    while "webhooks on" not in first:
        first += server.stdout.readline()

    url = re.search(r"webhooks on (http://\S+?);", first)
    assert url is not None, first
    status, _, body = post(url.group(1) + "/go")
    assert status == 202
    with Journal(db) as journal:
        wait_for(lambda: journal.get_run(body["run"]).state == "succeeded", what="the served run")  # type: ignore[union-attr]
    server.send_signal(signal.SIGTERM)
    served_out, served_err = server.communicate(timeout=60)
    outputs["serve stdout"], outputs["serve stderr"] = first + served_out, served_err
    with Journal(db) as journal:
        runs = journal.list_runs()
    assert len(runs) == 3
    for record in runs:
        opsflow("runs", "show", record.id, "--json", "--store", db, name=f"show {record.id}")
        opsflow("runs", "show", record.id, "--store", db, name=f"show text {record.id}")
    opsflow("runs", "list", "--json", "--store", db, name="list")
    opsflow("export", flow, "-o", "-", name="export")
    files = {p.name: p.read_bytes() for p in tmp_path.glob("runs.sqlite*")}
    assert "runs.sqlite" in files

    # The steps really did see and echo the secrets (so masking, not luck, kept them out).
    with Journal(db) as journal:
        results = journal.node_results(runs[0].id)
    assert "«redacted»" in json.dumps(results["call"].output, ensure_ascii=False)
    assert "«redacted»" in json.dumps(results["leak"].output, ensure_ascii=False)

    leaks = []
    planted = {
        "env token": token,
        "keyring password": password,
        "file key": key,
        "declared, unused": unused,
    }
    for label, secret in planted.items():
        for how, form in forms(secret).items():
            for where, text in outputs.items():
                if form in text:
                    leaks.append(f"{label} ({how}) in {where}")
            for name, data in files.items():
                if form.encode("utf-8") in data:
                    leaks.append(f"{label} ({how}) in {name}")
    assert not leaks, "\n".join(leaks)

"""Named credentials: keyring, environment and 0600-file storage, and the CLI around them.

The keyring is real: keyrings.alt's PlaintextKeyring with its file in tmp_path
(in process via keyring.set_keyring, in subprocesses via PYTHON_KEYRING_BACKEND).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import pty
import select
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from keyring.backends import fail
from keyrings.alt.file import PlaintextKeyring

from opsflow.credentials import (
    Credential,
    CredentialError,
    CredentialNotFoundError,
    credentials_file,
    delete,
    index_path,
    list_entries,
    list_names,
    resolve,
    save,
)

SECRET = "s3cr3t-Value-0f-Test!"
#: A real (throwaway) private key: `credentials test` parses keys when paramiko is there.
KEY = (
    Ed25519PrivateKey.generate()
    .private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    .decode()
)

OPSFLOW = [sys.executable, "-m", "opsflow"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Config in tmp_path, no OPSFLOW_CRED_* variables, a PlaintextKeyring in tmp_path."""
    for key in list(os.environ):
        if key.startswith("OPSFLOW_CRED") or key == "PYTHON_KEYRING_BACKEND":
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "keyring.cfg")
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    try:
        yield tmp_path
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_keyring(home: Path) -> Path:
    keyring.set_keyring(fail.Keyring())
    return home


def cli(
    home: Path, *args: str, backend: str = "keyrings.alt.file.PlaintextKeyring", **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_CRED")}
    environ.update(
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "data"),
        PYTHON_KEYRING_BACKEND=backend,
        **env,
    )
    result = subprocess.run(
        [*OPSFLOW, "credentials", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in result.stdout + result.stderr
    return result


# -- the API -------------------------------------------------------------------------


def test_save_resolve_list_delete_through_the_keyring(home: Path) -> None:
    save(Credential("web-login", "basic", {"username": "ops", "password": SECRET}))
    got = resolve("web-login")
    assert got == Credential("web-login", "basic", {"username": "ops", "password": SECRET})
    assert got.source == "keyring"
    assert json.loads(keyring.get_password("opsflow", "web-login") or "") == {
        "kind": "basic",
        "fields": {"username": "ops", "password": SECRET},
    }
    assert list_names() == [("web-login", "basic")]
    assert SECRET.encode() not in index_path().read_bytes()
    assert delete("web-login") == ["keyring"]
    assert list_names() == []
    with pytest.raises(CredentialNotFoundError):
        resolve("web-login")


def test_secret_values_include_the_basic_auth_header_value(home: Path) -> None:
    credential = Credential("mail", "smtp", {"username": "bot", "password": SECRET})
    encoded = base64.b64encode(f"bot:{SECRET}".encode()).decode()
    assert set(credential.secret_values()) == {SECRET, encoded}
    ssh = Credential("web-ssh", "ssh-key", {"username": "root", "private_key": KEY})
    assert KEY in ssh.secret_values()
    assert "root" not in ssh.secret_values()
    body = [line for line in KEY.splitlines() if not line.startswith("-----")]
    assert body and all(line in ssh.secret_values() for line in body if len(line) >= 16)


def test_environment_comes_first(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save(Credential("gh.api", "token", {"token": "from-keyring"}))
    monkeypatch.setenv("OPSFLOW_CRED_GH_API_KIND", "token")
    monkeypatch.setenv("OPSFLOW_CRED_GH_API_TOKEN", "from-env")
    got = resolve("gh.api")
    assert (got.fields, got.source) == ({"token": "from-env"}, "environment")
    assert ("gh.api", "token") in list_names()


def test_environment_needs_no_kind_when_the_flow_declares_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSFLOW_CRED_WEB_SSH_USERNAME", "deploy")
    with pytest.raises(CredentialError, match="OPSFLOW_CRED_WEB_SSH_KIND"):
        resolve("web-ssh")
    with pytest.raises(CredentialError) as info:
        resolve("web-ssh", kind="ssh-key")
    assert str(info.value).endswith("set OPSFLOW_CRED_WEB_SSH_PRIVATE_KEY")
    monkeypatch.setenv("OPSFLOW_CRED_WEB_SSH_PRIVATE_KEY", KEY)
    assert resolve("web-ssh", kind="ssh-key").fields == {"username": "deploy", "private_key": KEY}
    monkeypatch.setenv("OPSFLOW_CRED_WEB_SSH_KIND", "ssh-key")
    with pytest.raises(CredentialError, match="a basic credential is needed"):
        resolve("web-ssh", kind="basic")


def test_not_found_says_exactly_what_to_set(home: Path) -> None:
    with pytest.raises(CredentialNotFoundError) as info:
        resolve("web-ssh", kind="ssh-key")
    assert str(info.value) == (
        "credential 'web-ssh' (ssh-key) was not found in the keyring, the environment or "
        f"{credentials_file()}; set it with `opsflow credentials set web-ssh --kind ssh-key`, "
        "or set OPSFLOW_CRED_WEB_SSH_USERNAME and OPSFLOW_CRED_WEB_SSH_PRIVATE_KEY"
    )
    assert "\n" not in str(info.value)


def test_without_a_keyring_the_file_is_used_with_mode_0600(no_keyring: Path) -> None:
    where = save(Credential("db", "basic", {"username": "u", "password": SECRET}))
    path = credentials_file()
    assert where == str(path) and path.parent == no_keyring / "config" / "opsflow"
    assert path.stat().st_mode & 0o777 == 0o600
    got = resolve("db")
    assert got.fields["password"] == SECRET and got.source.startswith("file ")
    assert [(e.name, e.location) for e in list_entries()] == [("db", "file")]
    assert not index_path().exists()
    with pytest.raises(CredentialNotFoundError) as info:
        resolve("other", kind="token")
    assert "the keyring" not in str(info.value)


def test_a_file_others_can_read_is_refused(
    no_keyring: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = no_keyring / "creds.json"
    monkeypatch.setenv("OPSFLOW_CREDENTIALS_FILE", str(path))
    save(Credential("db", "api-key", {"key": SECRET}))
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    with pytest.raises(CredentialError, match=f"run `chmod 600 {path}`"):
        resolve("db")


def test_bad_input_is_refused_with_sentences(home: Path) -> None:
    with pytest.raises(CredentialError, match="unknown credential kind 'password'"):
        save(Credential("x", "password", {}))
    with pytest.raises(CredentialError, match="has no password"):
        save(Credential("x", "basic", {"username": "u"}))
    with pytest.raises(CredentialError, match="has no field 'pin'"):
        save(Credential("x", "token", {"token": "t", "pin": "1"}))
    with pytest.raises(CredentialError, match="not a usable credential name"):
        resolve("../etc")
    keyring.set_password("opsflow", "broken", "{not json")
    with pytest.raises(CredentialError, match="damaged"):
        resolve("broken")
    with pytest.raises(CredentialNotFoundError):
        delete("nothing")


# -- the CLI -------------------------------------------------------------------------


def test_cli_set_list_test_delete(home: Path) -> None:
    secret_file = home / "pw.txt"
    secret_file.write_text(SECRET + "\n")
    result = cli(
        home, "set", "web", "--kind", "basic", "--field", "username=ops",
        "--field", f"password=@{secret_file}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    # keyrings.alt's PlaintextKeyring is a keyring backend, but a plain file: the user is told.
    keyring_file = home / "data" / "python_keyring" / "keyring_pass.cfg"
    assert result.stdout.strip() == (
        f"web: saved in the keyring (file PlaintextKeyring, which keeps it in the file "
        f"{keyring_file})"
    )
    result = cli(home, "set", "api", "--kind", "token", "--field", "token=env:TOK", TOK=SECRET)
    assert result.returncode == 0, result.stderr
    stored = PlaintextKeyring()
    stored.file_path = str(home / "data" / "python_keyring" / "keyring_pass.cfg")
    assert json.loads(stored.get_password("opsflow", "api") or "")["fields"] == {"token": SECRET}
    assert SECRET.encode() not in index_path().read_bytes()
    listed = cli(home, "list", "--json")
    assert json.loads(listed.stdout) == [
        {"name": "api", "kind": "token", "location": "keyring"},
        {"name": "web", "kind": "basic", "location": "keyring"},
    ]
    assert SECRET not in cli(home, "list").stdout
    tested = cli(home, "test", "web")
    assert (tested.returncode, tested.stdout.strip()) == (0, "web: ok (basic, from keyring)")
    assert cli(home, "delete", "web").returncode == 0
    gone = cli(home, "test", "web")
    assert gone.returncode == 2 and gone.stderr.startswith("opsflow: credential 'web' was not")
    assert len(gone.stderr.strip().splitlines()) == 1


def test_cli_refuses_a_literal_secret(home: Path) -> None:
    result = cli(home, "set", "web", "--kind", "basic", "--field", "username=u",
                 "--field", f"password={SECRET}")  # fmt: skip
    assert result.returncode == 2
    assert "shell history" in result.stderr and "password=@FILE" in result.stderr
    assert "password=env:VAR" in result.stderr
    assert cli(home, "list").stdout.strip() == "no credentials"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["set", "x", "--kind", "nope"], "unknown credential kind 'nope'"),
        (["set", "x", "--kind", "basic", "--field", "username=u"], "needs password"),
        (["set", "x", "--kind", "token", "--field", "pin=1"], "has no field 'pin'"),
        (["set", "x", "--kind", "token", "--field", "token=env:UNSET_VAR_X"], "is not set"),
        (["delete", "x"], "there is no stored credential 'x'"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(home: Path, args: list[str], message: str) -> None:
    result = cli(home, *args)
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_without_a_keyring_uses_the_file_and_says_so(home: Path) -> None:
    key_file = home / "id"
    key_file.write_text(KEY)
    result = cli(
        home, "set", "web-ssh", "--kind", "ssh-key", "--field", "username=deploy",
        "--field", f"private_key=@{key_file}", backend="keyring.backends.fail.Keyring",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "no keyring is available here" in result.stdout
    path = home / "config" / "opsflow" / "credentials.json"
    assert path.stat().st_mode & 0o777 == 0o600
    listed = cli(home, "list", backend="keyring.backends.fail.Keyring")
    assert listed.stdout.split() == ["web-ssh", "ssh-key", "file"]
    tested = cli(home, "test", "web-ssh", backend="keyring.backends.fail.Keyring")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_cli_test_reports_a_bad_key_with_exit_1(home: Path) -> None:
    result = cli(
        home, "test", "web-ssh",
        OPSFLOW_CRED_WEB_SSH_KIND="ssh-key", OPSFLOW_CRED_WEB_SSH_USERNAME="u",
        OPSFLOW_CRED_WEB_SSH_PRIVATE_KEY="not a key",
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout.startswith("web-ssh: failed: private_key")
    listed = cli(home, "list", "--json", OPSFLOW_CRED_WEB_SSH_KIND="ssh-key")
    assert json.loads(listed.stdout) == [
        {"name": "WEB_SSH", "kind": "ssh-key", "location": "environment"}
    ]


def _controlling_terminal() -> None:
    """Make the child's stdin its controlling terminal, so getpass reads /dev/tty with no echo."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_cli_set_prompts_on_a_terminal_without_echoing_the_secret(home: Path) -> None:
    master, slave = pty.openpty()
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_CRED")},
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
        "TERM": "dumb",
    }
    process = subprocess.Popen(
        [*OPSFLOW, "credentials", "set", "mail", "--kind", "smtp"],
        stdin=slave, stdout=slave, stderr=slave, env=environ, preexec_fn=_controlling_terminal,
    )  # fmt: skip
    os.close(slave)
    screen = ""

    def expect(text: str) -> None:
        nonlocal screen
        deadline = time.monotonic() + 30
        while text not in screen and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                try:
                    screen += os.read(master, 4096).decode("utf-8", "replace")
                except OSError:
                    break
        assert text in screen, screen

    expect("mail username: ")
    os.write(master, b"bot\n")
    expect("mail password: ")
    os.write(master, SECRET.encode() + b"\n")
    expect("mail: saved in the keyring (file PlaintextKeyring")
    assert process.wait(30) == 0, screen
    os.close(master)
    assert SECRET not in screen
    assert cli(home, "test", "mail").stdout.strip() == "mail: ok (smtp, from keyring)"

"""The SSH executor against a real OpenSSH sshd on a loopback port with throwaway keys."""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsflow.catalog.builtin.actions_remote import SshParams
from opsflow.catalog.registry import Catalog, builtin_specs
from opsflow.engine.local import LocalRunner
from opsflow.executors.ssh import ssh_command
from opsflow.flowfile import parse_flow
from opsflow.model.flow import Flow
from opsflow.nodeapi import STOP_GRACE_S, NodeCall, NodeError, NodeOutcome, NodeStopped

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="OpenSSH sshd on POSIX")

SSHD = "/usr/sbin/sshd"
USER = getpass.getuser()


def _catalog() -> Catalog:
    specs = []
    for spec in builtin_specs():
        if spec.type == "action.ssh":
            spec = dataclasses.replace(spec, executor="opsflow.executors.ssh:ssh_command")
        specs.append(spec)
    return Catalog(specs)


CATALOG = _catalog()


@dataclasses.dataclass
class Server:
    port: int
    folder: Path
    user_key: str
    host_line: str  # "[127.0.0.1]:port ssh-ed25519 AAAA..." for a known_hosts file
    rsa_line: str = ""  # the same for the server's second host key, an RSA one

    def known_hosts(self, name: str = "known_hosts") -> Path:
        path = self.folder / name
        path.write_text(self.host_line + "\n")
        return path


def _keygen(path: Path, kind: str = "ed25519") -> None:
    size = ["-b", "2048"] if kind == "rsa" else []
    subprocess.run(
        ["ssh-keygen", "-q", "-N", "", "-t", kind, *size, "-f", str(path)],
        check=True,
        capture_output=True,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not os.path.exists(SSHD):
        pytest.fail(f"{SSHD} is missing: install openssh-server (CI does) to run the SSH tests")
    folder = tmp_path_factory.mktemp("sshd")
    _keygen(folder / "host_key")
    _keygen(folder / "rsa_host_key", "rsa")
    _keygen(folder / "user_key")
    (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())
    port = _free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"HostKey {folder / 'rsa_host_key'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile {folder / 'sshd.pid'}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nPubkeyAuthentication yes\n"
        f"PermitRootLogin prohibit-password\nAllowUsers {USER}\n"
    )
    if not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    with open(folder / "sshd.log", "wb") as log_file:
        proc = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=log_file
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (folder / "sshd.log").read_text(errors="replace")
                    pytest.fail(f"sshd did not start on port {port}: {log}")
                time.sleep(0.05)
        host_key = (folder / "host_key.pub").read_text().split()
        rsa_key = (folder / "rsa_host_key.pub").read_text().split()
        yield Server(
            port=port,
            folder=folder,
            user_key=(folder / "user_key").read_text(),
            host_line=f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}",
            rsa_line=f"[127.0.0.1]:{port} {rsa_key[0]} {rsa_key[1]}",
        )
    finally:
        proc.kill()
        proc.wait()


def _flow(params: dict[str, Any], timeout_s: float | None = None) -> Flow:
    node: dict[str, Any] = {"id": "act", "type": "action.ssh", "params": params}
    if timeout_s is not None:
        node["timeout_s"] = timeout_s
    document = {
        "format": "opsflow.flow",
        "version": 1,
        "id": "t",
        "credentials": {"lab-ssh": {"kind": "ssh-key"}},
        "nodes": [{"id": "start", "type": "trigger.manual", "params": {}}, node],
        "edges": [{"id": "e0", "from": "start", "port": "out", "to": "act"}],
    }
    return parse_flow(json.dumps(document), "test", CATALOG)


def _params(server: Server, command: list[str], **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "user": USER,
        "credential": "lab-ssh",
        "command": command,
        "connect_timeout_s": 10,
    }
    if "known_hosts" not in extra:
        params["known_hosts"] = str(server.known_hosts())
    # None leaves a parameter out (`user=None`: a node without a user)
    return {name: value for name, value in (params | extra).items() if value is not None}


def run(
    server: Server,
    command: list[str],
    *,
    timeout_s: float | None = None,
    key: str | None = None,
    logs: list[tuple[str, str]] | None = None,
    username: str = USER,
    **extra: Any,
) -> NodeOutcome:
    call = _call(
        server, command, timeout_s=timeout_s, key=key, logs=logs, username=username, **extra
    )
    return ssh_command(call)


def _call(
    server: Server,
    command: list[str],
    *,
    timeout_s: float | None = None,
    key: str | None = None,
    logs: list[tuple[str, str]] | None = None,
    username: str = USER,
    **extra: Any,
) -> NodeCall:
    params = _params(server, command, **extra)
    flow = _flow(params)
    spec = CATALOG.get("action.ssh")
    assert spec is not None

    def credential(name: str) -> dict[str, str]:
        assert name == "lab-ssh"
        return {"username": username, "private_key": key or server.user_key}

    return NodeCall(
        run_id="r1",
        flow=flow,
        flow_path=None,
        node=flow.nodes[1],
        spec=spec,
        params=SshParams.model_validate(params).model_dump(mode="json"),
        attempt=1,
        timeout_s=timeout_s,
        log=lambda level, message: (logs if logs is not None else []).append((level, message)),
        credential=credential,
    )


def test_runs_a_command_and_returns_its_output(server: Server) -> None:
    outcome = run(
        server,
        ["sh", "-c", "echo out; echo err >&2; echo $GREETING"],
        env={"GREETING": "hello 'world' $HOME"},
    )
    output = outcome.output
    assert output["exit_code"] == 0
    assert output["stdout"] == "out\nhello 'world' $HOME\n"
    assert output["stderr"] == "err\n"
    assert output["host"] == "127.0.0.1"
    assert output["stdout_truncated"] is output["stderr_truncated"] is False
    assert output["duration_s"] >= 0


def test_each_argument_stays_one_argument(server: Server, tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    hostile = f"; touch {canary}; echo $(touch {canary}) `touch {canary}` \"'"
    outcome = run(server, ["printf", "[%s]\\n", hostile, "two words", ""])
    assert outcome.output["stdout"] == f"[{hostile}]\n[two words]\n[]\n"
    assert not canary.exists()


def test_a_failing_command_raises_with_its_output(server: Server) -> None:
    with pytest.raises(NodeError) as info:
        run(server, ["sh", "-c", "echo partial; echo 'disk full' >&2; exit 3"])
    assert "exited with code 3: disk full" in str(info.value)
    assert info.value.output["exit_code"] == 3
    assert info.value.output["stdout"] == "partial\n"
    assert info.value.retryable


def test_custom_success_exit_codes(server: Server) -> None:
    outcome = run(server, ["sh", "-c", "exit 3"], success_exit_codes=[0, 3])
    assert outcome.output["exit_code"] == 3
    with pytest.raises(NodeError, match="code 0"):
        run(server, ["true"], success_exit_codes=[3])


def test_an_unknown_host_key_is_refused_with_its_fingerprint(server: Server) -> None:
    fingerprint = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(server.folder / "host_key.pub")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]
    empty = server.folder / "empty_known_hosts"
    with pytest.raises(NodeError) as info:
        run(server, ["true"], known_hosts=str(empty))
    message = str(info.value)
    assert f"host key of 127.0.0.1:{server.port} is not known ({fingerprint})" in message
    assert "trust_on_first_use" in message and str(empty) in message
    assert not info.value.retryable
    assert not empty.exists()


def test_trust_on_first_use_records_the_key_then_accepts_it(server: Server) -> None:
    path = server.folder / "tofu" / "known_hosts"
    path.parent.mkdir()
    path.write_text("other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n")
    logs: list[tuple[str, str]] = []
    run(server, ["true"], known_hosts=str(path), trust_on_first_use=True, logs=logs)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("other.example")
    assert lines[1] == server.host_line
    assert any("trusted the new host key" in message for _, message in logs)
    assert sorted(p.name for p in path.parent.iterdir()) == ["known_hosts"]  # no temp left
    assert run(server, ["echo", "again"], known_hosts=str(path)).output["stdout"] == "again\n"


def test_a_changed_host_key_is_refused_even_with_trust_on_first_use(server: Server) -> None:
    _keygen(server.folder / "impostor")
    impostor = (server.folder / "impostor.pub").read_text().split()
    path = server.folder / "changed_known_hosts"
    path.write_text(f"[127.0.0.1]:{server.port} {impostor[0]} {impostor[1]}\n")
    before = path.read_text()
    with pytest.raises(NodeError, match="possible man-in-the-middle") as info:
        run(server, ["true"], known_hosts=str(path), trust_on_first_use=True)
    assert not info.value.retryable
    assert path.read_text() == before


def test_a_wrong_key_fails_to_log_in_without_retry(server: Server) -> None:
    _keygen(server.folder / "stranger")
    stranger = (server.folder / "stranger").read_text()
    with pytest.raises(NodeError) as info:
        run(server, ["true"], key=stranger)
    message = str(info.value)
    assert f"login as '{USER}' on 127.0.0.1:{server.port} failed" in message
    assert not info.value.retryable
    assert "PRIVATE KEY" not in message and stranger.splitlines()[1] not in message


def test_a_refused_connection_is_retryable(server: Server) -> None:
    with pytest.raises(NodeError, match="cannot connect") as info:
        run(server, ["true"], port=_free_port())
    assert info.value.retryable


def test_a_timeout_returns_quickly_with_an_error(server: Server) -> None:
    # The remote `sleep` may outlive the connection here: OpenSSH ignores the SIGHUP
    # request for root logins (no privilege separation), and the tests run as root.
    started = time.monotonic()
    with pytest.raises(NodeError, match="timed out after 1 s") as info:
        run(server, ["sh", "-c", "echo begun; sleep 30"], timeout_s=1)
    assert time.monotonic() - started < 5
    assert info.value.retryable
    assert info.value.output["stdout"] == "begun\n"
    assert info.value.output["exit_code"] is None


def _in_worker(call: NodeCall) -> tuple[threading.Thread, list[NodeOutcome | BaseException]]:
    """Run the SSH executor in a thread, as the runner does; its result lands in the list."""
    result: list[NodeOutcome | BaseException] = []

    def work() -> None:
        try:
            result.append(ssh_command(call))
        except BaseException as exc:  # handed to the test to inspect
            result.append(exc)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    return worker, result


def _wait_gone(pid: int, within_s: float = 3.0) -> bool:
    """True once `pid` has ended (a zombie waiting to be reaped counts as ended)."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def test_stop_hangs_up_the_remote_command(server: Server, tmp_path: Path) -> None:
    # The command keeps writing, so it dies of SIGPIPE once its session is closed even
    # where sshd refuses the SIGHUP request (root logins, as in CI).
    pid_file = tmp_path / "remote.pid"
    line = f"echo $$ > {pid_file}; while :; do echo tick; sleep 0.1; done"
    call = _call(server, ["sh", "-c", line])
    worker, result = _in_worker(call)
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text().strip()):
        assert time.monotonic() < deadline, "the remote command never started"
        time.sleep(0.02)
    time.sleep(0.5)
    call.stop.set()
    worker.join(STOP_GRACE_S)
    assert not worker.is_alive(), "the executor ignored call.stop"
    stopped = result[0]
    assert isinstance(stopped, NodeStopped), stopped
    message = str(stopped)
    assert message.startswith("node 'act': the command on 127.0.0.1:")
    assert "was hung up because the run was stopped" in message
    assert not stopped.retryable
    assert stopped.output["stdout"].startswith("tick\n")
    assert stopped.output["exit_code"] is None
    assert _wait_gone(int(pid_file.read_text()))


def test_stop_while_the_server_is_silent_ends_the_login(tmp_path: Path) -> None:
    # A server that accepts the connection but never sends its banner: the handshake
    # would wait out the whole connect timeout.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        fake = Server(port=port, folder=tmp_path, user_key="", host_line="")
        call = _call(fake, ["true"], known_hosts=str(tmp_path / "known_hosts"))
        worker, result = _in_worker(call)
        time.sleep(0.5)
        call.stop.set()
        worker.join(STOP_GRACE_S)
        assert not worker.is_alive(), "the executor ignored call.stop"
    stopped = result[0]
    assert isinstance(stopped, NodeStopped), stopped
    assert f"node 'act': the run was stopped while connecting to 127.0.0.1:{port}" in str(stopped)


def test_stop_set_before_the_start_connects_to_nothing(server: Server) -> None:
    call = _call(server, ["true"])
    call.stop.set()
    with pytest.raises(NodeStopped, match=r"before connecting to 127\.0\.0\.1"):
        ssh_command(call)


def test_output_is_capped(server: Server) -> None:
    outcome = run(
        server, ["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x"], max_output_bytes=1024
    )
    assert outcome.output["stdout"] == "x" * 1024
    assert outcome.output["stdout_truncated"] is True
    assert outcome.output["stderr_truncated"] is False


def test_through_the_engine_with_an_environment_credential(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSFLOW_CRED_LAB_SSH_USERNAME", USER)
    monkeypatch.setenv("OPSFLOW_CRED_LAB_SSH_PRIVATE_KEY", server.user_key)
    flow = _flow(_params(server, ["echo", "from the engine"]))
    events: list[Any] = []
    runner = LocalRunner(flow, catalog=CATALOG, listeners=[events.append])
    result = asyncio.run(runner.run())
    assert result.status == "succeeded", result.error
    done = [e for e in events if e.kind == "node_succeeded" and e.node == "act"]
    assert done[0].data["output"]["stdout"] == "from the engine\n"
    body = server.user_key.splitlines()[1]
    assert body not in repr(events)
    assert body not in json.dumps([dataclasses.asdict(e) for e in events], default=str)


# --- known_hosts as OpenSSH reads it --------------------------------------------------------


def _public(path: Path) -> str:
    """`TYPE BASE64` of a public key file."""
    return " ".join((path.with_suffix(".pub")).read_text().split()[:2])


def _key(server: Server, name: str, kind: str = "ed25519") -> str:
    """`TYPE BASE64` of a throwaway key made once per server."""
    path = server.folder / f"{name}_{kind}"
    if not path.exists():
        _keygen(path, kind)
    return _public(path)


def _openssh_accepts(server: Server, path: Path) -> bool | None:
    """Whether OpenSSH's own client logs in with this known_hosts file (None: no client)."""
    client = shutil.which("ssh")
    if client is None:
        return None
    done = subprocess.run(
        [
            client,
            "-F",
            os.devnull,
            "-i",
            str(server.folder / "user_key"),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            f"UserKnownHostsFile={path}",
            "-o",
            f"GlobalKnownHostsFile={os.devnull}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "UpdateHostKeys=no",
            "-o",
            "BatchMode=yes",
            "-p",
            str(server.port),
            f"{USER}@127.0.0.1",
            "true",
        ],
        capture_output=True,
        timeout=30,
    )
    return done.returncode == 0


def _agrees_with_openssh(server: Server, path: Path, accepted: bool) -> None:
    openssh = _openssh_accepts(server, path)
    assert openssh is None or openssh == accepted, f"OpenSSH disagrees on {path.read_text()}"


def test_cert_authority_revoked_comments_and_junk_do_not_break_the_file(server: Server) -> None:
    name = f"[127.0.0.1]:{server.port}"
    path = server.folder / "busy_known_hosts"
    path.write_text(
        "# written by hand\n"
        "\n"
        f"   @cert-authority *.example.com,{name} {_key(server, 'ca')}\n"
        f"@revoked * {_key(server, 'old')} retired in 2023\n"
        f"@revoked\t* {_key(server, 'older', 'rsa')}\n"
        "@no-such-marker * ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n"
        "a line that is not an entry\n"
        f"{name} ssh-ed25519 not+base64!\n"
        f"{name} ssh-ed25519\n"
        "|1|broken|hash ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n"
        f"other.example {_key(server, 'other')}\r\n"
        f"{server.host_line} root@server\n"
    )
    assert run(server, ["echo", "fine"], known_hosts=str(path)).output["stdout"] == "fine\n"
    _agrees_with_openssh(server, path, accepted=True)


def test_malformed_entries_are_skipped_so_the_host_is_unknown(server: Server) -> None:
    name = f"[127.0.0.1]:{server.port}"
    ed25519 = _public(server.folder / "host_key").split()[1]
    path = server.folder / "malformed_known_hosts"
    path.write_text(
        f"{name} ssh-ed25519 AAAA-broken\n"
        f"{name} ssh-rsa {ed25519}\n"  # the blob says ed25519: OpenSSH rejects the line
        f"{name} ssh-ed25519 {ed25519[:-8]}\n"  # cut short
        f"{name}\n"
        "@cert-authority\n"
        f"@revoked {name}\n"
    )
    with pytest.raises(NodeError, match=r"host key of 127\.0\.0\.1:\d+ is not known") as info:
        run(server, ["true"], known_hosts=str(path))
    assert not info.value.retryable
    _agrees_with_openssh(server, path, accepted=False)


def test_a_revoked_host_key_is_refused(server: Server) -> None:
    path = server.folder / "revoked_known_hosts"
    revoked = f"@revoked * {_public(server.folder / 'host_key')}\n"
    path.write_text(revoked + server.host_line + "\n")
    with pytest.raises(NodeError) as info:
        run(server, ["true"], known_hosts=str(path))
    message = str(info.value)
    assert message.startswith("node 'act': ")
    assert f"host key of 127.0.0.1:{server.port}" in message
    assert f"is revoked in {path}" in message
    assert not info.value.retryable
    _agrees_with_openssh(server, path, accepted=False)


def test_a_revoked_host_key_is_not_trusted_on_first_use(server: Server) -> None:
    path = server.folder / "revoked_tofu_known_hosts"
    path.write_text(f"@revoked other.example {_public(server.folder / 'host_key')}\n")
    before = path.read_text()
    with pytest.raises(NodeError, match="is revoked in"):
        run(server, ["true"], known_hosts=str(path), trust_on_first_use=True)
    assert path.read_text() == before


def _scanned(server: Server) -> dict[str, str]:
    """The server's keys as `ssh-keyscan -H` writes them (hashed names), by key type."""
    done = subprocess.run(
        ["ssh-keyscan", "-H", "-p", str(server.port), "-t", "rsa,ed25519", "127.0.0.1"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("|1|")]
    return {line.split()[1]: line for line in lines}


@pytest.mark.parametrize("order", ["rsa first", "ed25519 first"])
def test_a_changed_key_is_refused_whatever_the_entry_order(server: Server, order: str) -> None:
    scanned = _scanned(server)
    assert set(scanned) == {"ssh-rsa", "ssh-ed25519"}
    good = _public(server.folder / "host_key").split()[1]
    changed = scanned["ssh-ed25519"].replace(good, _key(server, "impostor").split()[1])
    lines = [scanned["ssh-rsa"], changed]
    if order == "ed25519 first":
        lines.reverse()
    path = server.folder / f"changed_{order.replace(' ', '_')}_known_hosts"
    path.write_text("\n".join(lines) + "\n")
    before = path.read_text()
    with pytest.raises(NodeError) as info:
        run(server, ["true"], known_hosts=str(path), trust_on_first_use=True)
    message = str(info.value)
    assert message.startswith("node 'act': the host key of 127.0.0.1:")
    assert "changed" in message and "possible man-in-the-middle" in message
    assert f"ssh-keygen -R '[127.0.0.1]:{server.port}' -f {path}" in message
    assert not info.value.retryable
    assert path.read_text() == before
    _agrees_with_openssh(server, path, accepted=False)


def test_the_keyscan_file_unchanged_is_accepted_in_either_order(server: Server) -> None:
    scanned = _scanned(server)
    for lines in ([scanned["ssh-rsa"], scanned["ssh-ed25519"]], [scanned["ssh-ed25519"]]):
        path = server.folder / "scanned_known_hosts"
        path.write_text("\n".join(lines) + "\n")
        assert run(server, ["true"], known_hosts=str(path)).output["exit_code"] == 0
    only_rsa = server.folder / "rsa_known_hosts"
    only_rsa.write_text(server.rsa_line + "\n")
    assert run(server, ["true"], known_hosts=str(only_rsa)).output["exit_code"] == 0
    _agrees_with_openssh(server, only_rsa, accepted=True)


@pytest.mark.parametrize(
    ("patterns", "known"),
    [
        ("*", True),
        ("[127.0.0.?]:{port}", True),
        ("[127.0.0.*]:{port}", True),
        ("[127.*]:*", True),
        ("other.example,[127.0.0.1]:{port}", True),
        ("[127.0.0.1]:{port},!other.example", True),
        ("!{name},!127.0.0.1,*", False),
        ("*,!{name},!127.0.0.1", False),
        ("*,![127.0.0.*]:*,!127.0.0.?", False),
        ("*,!127.0.0.1", True),  # the negation is for port 22 only
        ("!{name},*", True),  # `*` still matches the bare host, which OpenSSH tries too
        ("!other.example", False),
        ("127.0.0.1", True),  # no entry with the port: OpenSSH tries the bare host
        ("127.0.0.1:{port}", False),
        ("LOCALHOST,127.0.0.1", True),
        ("[127.0.0.1]:{port}0", False),
        ("[127.0.0.1]:1{port}", False),
        ("[127.0.0.1]:?", False),
        ("[127.0.0.1]", False),
        ("hashed:{name}", True),
        ("hashed:127.0.0.1", True),
        ("hashed:127.0.0.2", False),
        ("hashed:[127.0.0.2]:{port}", False),
    ],
)
def test_host_patterns_match_as_in_openssh(server: Server, patterns: str, known: bool) -> None:
    name = f"[127.0.0.1]:{server.port}"
    patterns = patterns.replace("{port}", str(server.port)).replace("{name}", name)
    key = _public(server.folder / "host_key")
    path = server.folder / "pattern_known_hosts"
    if patterns.startswith("hashed:"):
        path.write_text(f"{patterns.removeprefix('hashed:')} {key}\n")
        subprocess.run(["ssh-keygen", "-H", "-f", str(path)], check=True, capture_output=True)
        Path(f"{path}.old").unlink()
        assert path.read_text().startswith("|1|")
    else:
        path.write_text(f"{patterns} {key}\n")
    if known:
        assert run(server, ["true"], known_hosts=str(path)).output["exit_code"] == 0
    else:
        with pytest.raises(NodeError, match="is not known"):
            run(server, ["true"], known_hosts=str(path))
    _agrees_with_openssh(server, path, accepted=known)


# --- the login user -----------------------------------------------------------------------


def test_the_node_user_wins_over_the_credential_username(server: Server) -> None:
    outcome = run(server, ["id", "-un"], username="not-this-one")
    assert outcome.output["stdout"] == f"{USER}\n"


def test_without_a_node_user_the_credential_username_logs_in(server: Server) -> None:
    assert SshParams.model_validate(_params(server, ["true"], user=None)).user is None
    outcome = run(server, ["id", "-un"], user=None)
    assert outcome.output["stdout"] == f"{USER}\n"


def test_without_a_node_user_the_credential_username_is_the_one_tried(server: Server) -> None:
    with pytest.raises(NodeError) as info:
        run(server, ["true"], user=None, username="nobody-here")
    assert f"login as 'nobody-here' on 127.0.0.1:{server.port} failed" in str(info.value)


@pytest.mark.parametrize("username", ["", "  "])
def test_no_user_anywhere_is_a_clear_error(server: Server, username: str) -> None:
    with pytest.raises(NodeError) as info:
        run(server, ["true"], user=None, username=username)
    message = str(info.value)
    assert message.startswith(f"node 'act': no user to log in to 127.0.0.1:{server.port} as")
    assert "`user`" in message and "credential 'lab-ssh'" in message and "username" in message
    assert not info.value.retryable


def test_the_user_rule_is_documented() -> None:
    spec = CATALOG.get("action.ssh")
    assert spec is not None
    description = SshParams.model_fields["user"].description or ""
    for text in (description, spec.doc):
        assert "credential's `username`" in text, text


def test_through_the_engine_without_a_node_user(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPSFLOW_CRED_LAB_SSH_USERNAME", USER)
    monkeypatch.setenv("OPSFLOW_CRED_LAB_SSH_PRIVATE_KEY", server.user_key)
    flow = _flow(_params(server, ["id", "-un"], user=None))
    events: list[Any] = []
    runner = LocalRunner(flow, catalog=CATALOG, listeners=[events.append])
    result = asyncio.run(runner.run())
    assert result.status == "succeeded", result.error
    done = [e for e in events if e.kind == "node_succeeded" and e.node == "act"]
    assert done[0].data["output"]["stdout"] == f"{USER}\n"


def test_a_user_rendered_empty_is_an_error_not_a_fallback(server: Server) -> None:
    call = _call(server, ["true"], user="{{ inputs.user }}")
    call.params = call.params | {"user": ""}
    with pytest.raises(NodeError, match=r"node 'act': its `user` is empty once rendered"):
        ssh_command(call)


def test_a_host_vouched_for_only_by_a_ca_is_unknown_and_says_why(server: Server) -> None:
    path = server.folder / "ca_known_hosts"
    path.write_text(f"@cert-authority [127.0.0.1]:* {_key(server, 'ca')}\n")
    with pytest.raises(NodeError, match="host certificates are not supported"):
        run(server, ["true"], known_hosts=str(path))


def test_an_unreadable_known_hosts_file_is_a_clear_error(server: Server) -> None:
    path = server.folder / "a_folder"
    path.mkdir(exist_ok=True)
    with pytest.raises(NodeError) as info:
        run(server, ["true"], known_hosts=str(path))
    message = str(info.value)
    assert message.startswith(f"node 'act': cannot read the known_hosts file {path}")
    assert "point `known_hosts` at another file" in message
    assert not info.value.retryable

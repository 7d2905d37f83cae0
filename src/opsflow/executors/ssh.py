"""Executor of `action.ssh`: log in to a server with paramiko and run one command.

The command is an argument list; each item is quoted with `shlex.quote`, so the remote (POSIX)
shell sees exactly those arguments and nothing in them is parsed. `env` is sent as an
`export NAME='value';` prefix in the same command line rather than as SSH "env" requests,
because sshd drops those unless its AcceptEnv allows the name (off by default).

The server's key must be in the known_hosts file (`known_hosts`, else ~/.ssh/known_hosts). An
unknown key is refused with its SHA256 fingerprint, unless `trust_on_first_use` is set: then
it is added to that file (rewritten atomically) and logged. A key that differs from the one on
record, or of a type not on record, is always refused.

The login user is the node's `user`; the credential supplies the private key (ssh-key: its
`username` field is not used to log in) or the password (basic). `connect_timeout_s` bounds
connecting and logging in, the node's timeout bounds the whole attempt. On timeout the session
is asked to send SIGHUP to the command (an RFC 4254 "signal" request) and the connection is
closed. Known gap: OpenSSH honours that request only for non-root logins (it needs privilege
separation); without a pty nothing else signals the command, so elsewhere it runs on until it
writes to its closed output or ends.

`NodeCall.stop` is watched throughout. Set while connecting, logging in or starting the
command, it shuts the connection down at once (paramiko's waits notice within 0.1 s); set
while the command runs, the command is hung up as on a timeout. Either way `NodeStopped` is
raised. A command that had already ended by itself keeps its real result. Resolving the host
name is not interruptible.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import os
import select
import shlex
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import paramiko  # type: ignore[import-untyped]

from opsflow.engine.execute import NodeCall, NodeError, NodeOutcome, NodeStopped

#: How long output may keep coming after the exit status arrived (leftovers holding it open).
LEFTOVER_GRACE_S = 2.0
#: How often waits look at the node timeout and `NodeCall.stop`.
_POLL_S = 0.05
#: What a non-blocking connect answers while it is still in progress.
_IN_PROGRESS = {errno.EINPROGRESS, errno.EWOULDBLOCK, getattr(errno, "WSAEWOULDBLOCK", -1)}
_KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
#: A known_hosts key type and the host key algorithms that prove it.
_ALGORITHMS = {"ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]}


def ssh_command(call: NodeCall) -> NodeOutcome:
    params = call.params
    host, port, user = str(params["host"]), int(params["port"]), str(params["user"])
    where = f"{host}:{port}"
    line = _command_line(params["command"], params.get("env") or {})
    connect_timeout = float(params["connect_timeout_s"])
    started = time.monotonic()
    deadline = None if call.timeout_s is None else started + call.timeout_s
    if deadline is not None:
        connect_timeout = min(connect_timeout, max(call.timeout_s or 0.0, 0.001))
    node = f"node '{call.node.id}'"
    if call.stop.is_set():
        raise NodeStopped(f"{node}: the run was stopped before connecting to {where}")
    secret = call.credential(str(params["credential"]))
    sock = _open_socket(call, host, port, connect_timeout)
    transport: Any = None
    try:
        with _shut_down_on_stop(call, sock, where):
            transport = _connect(call, sock, host, port, connect_timeout)
            _authenticate(transport, user, where, secret, connect_timeout)
            try:
                channel = transport.open_session(timeout=connect_timeout)
                channel.exec_command(line)
            except (paramiko.SSHException, OSError, EOFError) as exc:
                raise NodeError(f"SSH to {where}: could not start the command: {exc}") from None
        limit = int(params["max_output_bytes"])
        output, ended_by = _collect(channel, limit, deadline, call.stop)
    finally:
        if transport is not None:
            transport.close()
        sock.close()
    output["duration_s"] = round(time.monotonic() - started, 3)
    output["host"] = host
    if ended_by == "stopped":
        raise NodeStopped(
            f"{node}: the command on {where} was hung up because the run was stopped (SIGHUP "
            "was requested for it and the connection closed)",
            output=output,
        )
    if ended_by == "timed out":
        raise NodeError(
            f"the command on {where} timed out after {call.timeout_s or 0:g} s; SIGHUP "
            "was requested for it and the connection closed",
            output=output,
            retryable=True,
        )
    code = output["exit_code"]
    if code not in {int(c) for c in params["success_exit_codes"]}:
        message = f"the command on {where} exited with code {code}"
        if code is None:
            message = f"the command on {where} ended without an exit code (killed by a signal?)"
        last = _last_line(output["stderr"])
        raise NodeError(f"{message}: {last}" if last else message, output=output, retryable=True)
    return NodeOutcome(output=output)


def _command_line(command: list[Any], env: dict[str, Any]) -> str:
    exports = "".join(f"export {name}={shlex.quote(str(value))}; " for name, value in env.items())
    return exports + " ".join(shlex.quote(str(item)) for item in command)


def _open_socket(call: NodeCall, host: str, port: int, timeout: float) -> socket.socket:
    """Like `socket.create_connection`, but it gives up as soon as `call.stop` is set."""
    where = f"{host}:{port}"
    deadline = time.monotonic() + timeout
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise NodeError(f"SSH to {where}: cannot connect: {exc.strerror or exc}") from None
    error: OSError = OSError(f"{host} has no address")
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            code = sock.connect_ex(address)
            while code in _IN_PROGRESS:
                if call.stop.is_set():
                    raise NodeStopped(
                        f"node '{call.node.id}': the run was stopped while connecting to "
                        f"{where}; the connection attempt was abandoned"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise NodeError(f"SSH to {where}: no connection within {timeout:g} s")
                if select.select([], [sock], [], min(_POLL_S, left))[1]:
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, os.strerror(code))
            sock.setblocking(True)
            return sock
        except OSError as exc:  # try the host's next address, as create_connection does
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
    raise NodeError(f"SSH to {where}: cannot connect: {error.strerror or error}")


@contextmanager
def _shut_down_on_stop(call: NodeCall, sock: socket.socket, where: str) -> Iterator[None]:
    """Shut the connection down if `call.stop` is set while the body blocks in paramiko.

    The handshake, the login and opening the session each wait up to the connect timeout;
    a dead socket ends those waits at once, and the error it causes becomes NodeStopped.
    """
    done = threading.Event()

    def watch() -> None:
        while not done.wait(_POLL_S):
            if call.stop.is_set():
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    except Exception:
        if not call.stop.is_set():
            raise
        raise NodeStopped(
            f"node '{call.node.id}': the run was stopped while connecting to {where}, logging "
            "in or starting the command; the connection was closed"
        ) from None
    finally:
        done.set()
        watcher.join()


def _connect(call: NodeCall, sock: socket.socket, host: str, port: int, timeout: float) -> Any:
    """Exchange keys over `sock` and check the server's key; returns the paramiko Transport."""
    where = f"{host}:{port}"
    path = _known_hosts_path(call.params.get("known_hosts"))
    name = host if port == 22 else f"[{host}]:{port}"
    known = paramiko.HostKeys()
    try:
        known.load(str(path))
    except FileNotFoundError:
        pass
    except (OSError, paramiko.SSHException) as exc:
        raise NodeError(
            f"cannot read the known_hosts file {path}: {exc}", retryable=False
        ) from None
    on_record = known.lookup(name)
    transport = paramiko.Transport(sock)
    transport.banner_timeout = transport.auth_timeout = timeout
    try:
        if on_record:
            options = transport.get_security_options()
            first = [a for t in on_record for a in _ALGORITHMS.get(t, [t])]
            first = [a for a in first if a in options.key_types]
            options.key_types = first + [a for a in options.key_types if a not in first]
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise NodeError(f"SSH to {where}: the SSH handshake failed: {exc}") from None
        key = transport.get_remote_server_key()
        fingerprint = _fingerprint(key)
        if on_record is None:
            if not call.params.get("trust_on_first_use"):
                raise NodeError(
                    f"the host key of {where} is not known ({fingerprint}); add it to "
                    f"{path} or set trust_on_first_use",
                    retryable=False,
                )
            _remember(path, name, key)
            call.log("warning", f"trusted the new host key of {where} ({fingerprint}) in {path}")
        elif on_record.get(key.get_name()) != key:
            raise NodeError(
                f"the host key of {where} has CHANGED ({fingerprint} is not the key recorded "
                f"in {path}): possible man-in-the-middle; refusing to connect",
                retryable=False,
            )
    except BaseException:
        transport.close()
        raise
    return transport


def _authenticate(
    transport: Any, user: str, where: str, secret: dict[str, str], timeout: float
) -> None:
    failed = f"SSH login as '{user}' on {where} failed"
    try:
        if secret.get("private_key"):
            key = _private_key(secret["private_key"], secret.get("passphrase") or None, failed)
            transport.auth_publickey(user, key)
        elif "password" in secret:
            transport.auth_password(user, secret["password"])
        else:
            raise NodeError(
                f"{failed}: the credential has neither a private_key nor a password",
                retryable=False,
            )
    except paramiko.AuthenticationException:
        raise NodeError(
            f"{failed}: the server did not accept the credential's key or password",
            retryable=False,
        ) from None
    except (paramiko.SSHException, OSError, EOFError) as exc:
        if not transport.is_active():
            raise NodeError(f"{failed}: the connection was lost ({exc})") from None
        raise NodeError(f"{failed} within {timeout:g} s: {exc}") from None


def _private_key(text: str, passphrase: str | None, failed: str) -> Any:
    """The key object for PEM/OpenSSH `text`; errors never quote the key."""
    for cls in _KEY_CLASSES:
        try:
            return cls.from_private_key(io.StringIO(text), password=passphrase)
        except paramiko.PasswordRequiredException:
            raise NodeError(
                f"{failed}: the private key is encrypted and the credential has no passphrase",
                retryable=False,
            ) from None
        except (paramiko.SSHException, ValueError):
            continue
    raise NodeError(
        f"{failed}: the credential's private_key is not a readable ed25519, ECDSA or RSA key "
        "(or its passphrase is wrong)",
        retryable=False,
    )


def _collect(
    channel: Any, limit: int, deadline: float | None, stop: threading.Event
) -> tuple[dict[str, Any], str | None]:
    """Read stdout/stderr (first `limit` bytes each) until the command ends, the deadline or
    `stop`; says which of the last two hung it up ("timed out", "stopped"), None for an end."""
    out, err = bytearray(), bytearray()
    truncated = {"stdout": False, "stderr": False}

    def keep(buffer: bytearray, chunk: bytes, which: str) -> None:
        room = limit - len(buffer)
        if len(chunk) > room:
            truncated[which] = True
        buffer += chunk[: max(room, 0)]

    ended_by: str | None = None
    exited_at: float | None = None
    while True:
        # Both streams are read before the checks below, so endless output cannot starve them.
        busy = channel.recv_ready() or channel.recv_stderr_ready()
        if channel.recv_ready():
            keep(out, channel.recv(65536), "stdout")
        if channel.recv_stderr_ready():
            keep(err, channel.recv_stderr(65536), "stderr")
        if not busy and (channel.closed or (channel.eof_received and channel.exit_status_ready())):
            if channel.closed and stop.is_set() and not channel.exit_status_ready():
                ended_by = "stopped"  # shut down on stop just as the command started
            break
        now = time.monotonic()
        if channel.exit_status_ready():
            exited_at = exited_at or now
            # It ended by itself, so its result stands; leftovers are not waited for on stop.
            if now - exited_at > LEFTOVER_GRACE_S or stop.is_set():
                break
        if stop.is_set() or (deadline is not None and now >= deadline):
            ended_by = "stopped" if stop.is_set() else "timed out"
            _hang_up(channel)
            break
        if not busy:
            wait = _POLL_S if deadline is None else min(_POLL_S, max(deadline - now, 0.0))
            select.select([channel], [], [], wait)
    code = channel.exit_status if channel.exit_status_ready() else None
    output = {
        "exit_code": None if code == -1 else code,
        "stdout": bytes(out).decode("utf-8", errors="replace"),
        "stderr": bytes(err).decode("utf-8", errors="replace"),
        "stdout_truncated": truncated["stdout"],
        "stderr_truncated": truncated["stderr"],
    }
    return output, ended_by


def _hang_up(channel: Any) -> None:
    """Send SIGHUP to the remote command (RFC 4254 "signal" request), then close the channel."""
    try:
        message = paramiko.Message()
        message.add_byte(bytes([98]))  # SSH_MSG_CHANNEL_REQUEST
        message.add_int(channel.remote_chanid)
        message.add_string("signal")
        message.add_boolean(False)
        message.add_string("HUP")
        channel.transport._send_user_message(message)
        time.sleep(0.1)
    except Exception:  # best effort: the connection is closed next anyway
        pass
    channel.close()


def _known_hosts_path(param: Any) -> Path:
    if param:
        return Path(str(param))
    return Path.home() / ".ssh" / "known_hosts"


def _remember(path: Path, name: str, key: Any) -> None:
    """Append `name key` to the known_hosts file, replacing the file atomically."""
    try:
        current, mode = path.read_bytes(), path.stat().st_mode & 0o777
    except FileNotFoundError:
        current, mode = b"", 0o600
    if current and not current.endswith(b"\n"):
        current += b"\n"
    entry = paramiko.hostkeys.HostKeyEntry([name], key).to_line()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".known_hosts-", dir=path.parent)
        try:
            os.chmod(temporary, mode)
            with os.fdopen(fd, "wb") as file:
                file.write(current + entry.encode("ascii"))
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise NodeError(
            f"cannot record the host key in the known_hosts file {path}: {exc}", retryable=False
        ) from None


def _fingerprint(key: Any) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""

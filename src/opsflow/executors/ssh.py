"""Executor of `action.ssh`: log in to a server with paramiko and run one command.

The command is an argument list; each item is quoted with `shlex.quote`, so the remote (POSIX)
shell sees exactly those arguments and nothing in them is parsed. `env` is sent as an
`export NAME='value';` prefix in the same command line rather than as SSH "env" requests,
because sshd drops those unless its AcceptEnv allows the name (off by default).

The server's key must be in the known_hosts file (`known_hosts`, else ~/.ssh/known_hosts),
which is read the way OpenSSH reads it (see `read_known_hosts`): plain and hashed host names,
`[host]:port`, comma-separated patterns with `*`, `?` and `!`, comments; lines it cannot parse
are skipped, as OpenSSH skips them. The host's entries are those for `[host]:port` (the bare
host on port 22); when there is none, an entry for the bare host that holds the very key the
server offers is accepted too, as OpenSSH does. Then:

- a key listed on an `@revoked` line is refused, whatever host that line names;
- a host with entries is accepted only with one of those keys: when none of them equals the
  key the server offered, it is refused as a changed key, whatever the order or key types of
  the entries. The server is asked for the key types on record first, in the usual order of
  preference (ed25519, ECDSA, RSA), so a stale RSA entry cannot vouch for a host whose
  ed25519 key changed;
- a host without entries is unknown: refused with the key's SHA256 fingerprint, unless
  `trust_on_first_use` is set; then the key is added to that file (rewritten atomically) and
  logged.

Host certificates are not supported (paramiko cannot verify them): `@cert-authority` lines
are understood and skipped, so a host vouched for only by a CA is unknown. Only the host name
is looked up, never its IP address (OpenSSH's CheckHostIP, off by default).

The login user is the node's `user` when it is given (it is written in the flow, where
reviewers see it), else the credential's `username`; with neither, the node fails before
connecting. The credential supplies the private key (ssh-key) or the password (basic).

`connect_timeout_s` bounds connecting and logging in, the node's timeout bounds the whole
attempt. On timeout the session is asked to send SIGHUP to the command (an RFC 4254 "signal"
request) and the connection is closed. Known gap: OpenSSH honours that request only for
non-root logins (it needs privilege separation); without a pty nothing else signals the
command, so elsewhere it runs on until it writes to its closed output or ends.

`NodeCall.stop` is watched throughout. Set while connecting, logging in or starting the
command, it shuts the connection down at once (paramiko's waits notice within 0.1 s); set
while the command runs, the command is hung up as on a timeout. Either way `NodeStopped` is
raised. A command that had already ended by itself keeps its real result. Resolving the host
name is not interruptible.
"""

from __future__ import annotations

import base64
import binascii
import errno
import hashlib
import hmac
import io
import os
import select
import shlex
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko  # type: ignore[import-untyped]

from opsflow.atomicfile import write_atomic
from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome, NodeStopped
from opsflow.oscompat.private_file import PRIVATE_MODE

#: How long output may keep coming after the exit status arrived (leftovers holding it open).
LEFTOVER_GRACE_S = 2.0
#: How often waits look at the node timeout and `NodeCall.stop`.
_POLL_S = 0.05
#: What a non-blocking connect answers while it is still in progress.
_IN_PROGRESS = {errno.EINPROGRESS, errno.EWOULDBLOCK, getattr(errno, "WSAEWOULDBLOCK", -1)}
_KEY_CLASSES = (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey)
#: Host key algorithms whose key type (in known_hosts) is not the algorithm's own name.
_ALGORITHM_KEY_TYPE = {"rsa-sha2-512": "ssh-rsa", "rsa-sha2-256": "ssh-rsa"}


def ssh_command(call: NodeCall) -> NodeOutcome:
    params = call.params
    host, port = str(params["host"]), int(params["port"])
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
    user = _login_user(call, secret, where)
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


def _login_user(call: NodeCall, secret: dict[str, str], where: str) -> str:
    """The node's `user` when it is given, else the credential's `username`."""
    node, credential = f"node '{call.node.id}'", f"credential '{call.params['credential']}'"
    user = call.params.get("user")
    if user is not None:
        if not str(user).strip():
            raise NodeError(
                f"{node}: its `user` is empty once rendered, so there is no user to log in to "
                f"{where} as; fix the template, or leave `user` out to log in as the "
                f"`username` of {credential}",
                retryable=False,
            )
        return str(user)
    username = secret.get("username") or ""
    if not username.strip():
        raise NodeError(
            f"{node}: no user to log in to {where} as, since the node has no `user` and "
            f"{credential} has no `username`; set either of them",
            retryable=False,
        )
    return username


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
    where, node = f"{host}:{port}", f"node '{call.node.id}'"
    path = _known_hosts_path(call.params.get("known_hosts"))
    name = host if port == 22 else f"[{host}]:{port}"
    try:
        entries = read_known_hosts(path)
    except FileNotFoundError:
        entries = []
    except OSError as exc:
        raise NodeError(
            f"{node}: cannot read the known_hosts file {path} to check the host key of "
            f"{where} ({exc.strerror or exc}); make it readable or point `known_hosts` at "
            "another file",
            retryable=False,
        ) from None
    on_record = [e for e in entries if e.marker == "" and e.matches(name)]
    # Without an entry for the port, OpenSSH also accepts the bare host's entry for this key.
    fallback = [] if on_record or port == 22 else [e for e in entries if e.marker == ""]
    fallback = [e for e in fallback if e.matches(host)]
    revoked = {e.blob for e in entries if e.marker == "@revoked"}
    transport = paramiko.Transport(sock)
    transport.banner_timeout = transport.auth_timeout = timeout
    try:
        _prefer_key_types(transport, {e.key_type for e in on_record or fallback})
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise NodeError(f"SSH to {where}: the SSH handshake failed: {exc}") from None
        key = transport.get_remote_server_key()
        blob, fingerprint = key.asbytes(), _fingerprint(key)
        if blob in revoked:
            raise NodeError(
                f"{node}: the host key of {where} ({fingerprint}) is revoked in {path}, so the "
                "connection was refused; give the server a new host key and record that one",
                retryable=False,
            )
        if on_record:
            if not any(e.blob == blob for e in on_record):
                types = ", ".join(sorted({e.key_type for e in on_record}))
                raise NodeError(
                    f"{node}: the host key of {where} has changed (it offered {key.get_name()} "
                    f"{fingerprint}, which is not among its {types} keys in {path}): possible "
                    "man-in-the-middle, so the connection was refused; if the change is "
                    "expected, remove the old entries with `ssh-keygen -R "
                    f"{shlex.quote(name)} -f {shlex.quote(str(path))}` and record the new key",
                    retryable=False,
                )
        elif not any(e.blob == blob for e in fallback):
            if not call.params.get("trust_on_first_use"):
                vouched = any(e.marker == "@cert-authority" and e.matches(name) for e in entries)
                note = (
                    " (an @cert-authority line vouches for it there, but host certificates "
                    "are not supported)"
                    if vouched
                    else ""
                )
                raise NodeError(
                    f"{node}: the host key of {where} is not known ({fingerprint}){note}; add "
                    f"it to {path} or set trust_on_first_use",
                    retryable=False,
                )
            _remember(path, name, key)
            call.log("warning", f"trusted the new host key of {where} ({fingerprint}) in {path}")
    except BaseException:
        transport.close()
        raise
    return transport


def _prefer_key_types(transport: Any, key_types: set[str]) -> None:
    """Ask the server first for the key types on record, keeping paramiko's order among them.

    That order (ed25519, ECDSA, RSA), not the file's, decides which key the server shows, as
    in OpenSSH: the strongest key on record is the one checked.
    """
    if not key_types:
        return
    options = transport.get_security_options()
    algorithms = list(options.key_types)
    first = [a for a in algorithms if _ALGORITHM_KEY_TYPE.get(a, a) in key_types]
    options.key_types = first + [a for a in algorithms if a not in first]


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


#: The key types OpenSSH reads in known_hosts, with the wire fields of their public key blob
#: after the type name (None: a certificate, checked no further).
_KEY_FIELDS: dict[str, int | None] = {
    "ssh-ed25519": 1,
    "ssh-rsa": 2,
    "ssh-dss": 4,
    "ecdsa-sha2-nistp256": 2,
    "ecdsa-sha2-nistp384": 2,
    "ecdsa-sha2-nistp521": 2,
    "sk-ssh-ed25519@openssh.com": 2,
    "sk-ecdsa-sha2-nistp256@openssh.com": 3,
}
_KEY_FIELDS |= {f"{t.removesuffix('@openssh.com')}-cert-v01@openssh.com": None for t in _KEY_FIELDS}
_MARKERS = ("@cert-authority", "@revoked")


@dataclass(frozen=True)
class KnownHost:
    """One usable known_hosts line: its marker ("" for none), host patterns and key."""

    marker: str
    hosts: str
    key_type: str
    blob: bytes

    def matches(self, name: str) -> bool:
        """Whether the line is for `name` (`host`, or `[host]:port` off port 22)."""
        return host_matches(self.hosts, name)


def read_known_hosts(path: Path) -> list[KnownHost]:
    """The usable lines of a known_hosts file; raises OSError when it cannot be read."""
    return parse_known_hosts(path.read_bytes().decode("utf-8", errors="replace"))


def parse_known_hosts(text: str) -> list[KnownHost]:
    """The usable lines of known_hosts `text`, as OpenSSH reads them.

    A line is `[@marker] patterns keytype base64 [comment]`. The marker is `@revoked` (the
    key is refused) or `@cert-authority` (a CA for host certificates, which this reader
    returns but the SSH step does not support). Blank lines, comments and lines OpenSSH would
    reject (an unknown marker, no key, bad base64, a key blob of another type or cut short)
    are skipped, never an error.
    """
    entries = []
    for line in text.splitlines():
        entry = _parse_line(line)
        if entry is not None:
            entries.append(entry)
    return entries


def _parse_line(line: str) -> KnownHost | None:
    fields = line.split()
    if not fields or fields[0].startswith("#"):
        return None
    marker = ""
    if fields[0].startswith("@"):
        if fields[0] not in _MARKERS:
            return None
        marker = fields.pop(0)
    if len(fields) < 3 or fields[1].startswith("#"):
        return None
    hosts, key_type, encoded = fields[:3]
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    if key_type not in _KEY_FIELDS or not _blob_is(blob, key_type):
        return None
    return KnownHost(marker, hosts, key_type, blob)


def _blob_is(blob: bytes, key_type: str) -> bool:
    """Whether `blob` is a whole public key of `key_type` (SSH wire format)."""
    fields: list[bytes] = []
    at = 0
    while at < len(blob):
        if at + 4 > len(blob):
            return False
        size = int.from_bytes(blob[at : at + 4], "big")
        at += 4
        if at + size > len(blob):
            if fields:  # a certificate's later fields are not all strings
                break
            return False
        fields.append(blob[at : at + size])
        at += size
    if not fields or fields[0] != key_type.encode("ascii"):
        return False
    count = _KEY_FIELDS[key_type]
    if count is None:
        return True
    if len(fields) != 1 + count:
        return False
    if key_type.startswith("ecdsa-"):
        return fields[1] == key_type.rsplit("-", 1)[1].encode("ascii")
    if key_type == "ssh-ed25519":
        return len(fields[1]) == 32
    return True


def host_matches(hosts: str, name: str) -> bool:
    """Whether a known_hosts host field is for `name`, by OpenSSH's rules.

    A field starting with `|1|` is one hashed name: base64 salt and HMAC-SHA1 of the name.
    Otherwise it is comma-separated patterns where `*` matches any run of characters and `?`
    one, case-insensitively; it matches when a pattern does and no `!`-negated one does.
    """
    name = name.lower()
    if hosts.startswith("|1|"):
        parts = hosts.split("|")
        if len(parts) != 4:
            return False
        try:
            salt = base64.b64decode(parts[2], validate=True)
        except (binascii.Error, ValueError):
            return False
        if len(salt) != hashlib.sha1().digest_size:
            return False
        digest = hmac.new(salt, name.encode("utf-8"), hashlib.sha1).digest()
        expected = f"|1|{parts[2]}|{base64.b64encode(digest).decode('ascii')}"
        return hmac.compare_digest(expected.encode("ascii"), hosts.encode("utf-8"))
    matched = False
    for pattern in hosts.split(","):
        negated = pattern.startswith("!")
        if _glob(pattern.removeprefix("!").lower(), name):
            if negated:
                return False
            matched = True
    return matched


def _glob(pattern: str, text: str) -> bool:
    """OpenSSH's match_pattern: `*` and `?` are wildcards, every other character is literal.

    Greedy with one saved `*` to retry from, so time stays linear in the two lengths times
    the number of stars, whatever the pattern.
    """
    p = t = 0
    star, resume = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] in ("?", text[t]):
            p, t = p + 1, t + 1
        elif p < len(pattern) and pattern[p] == "*":
            star, resume = p, t
            p += 1
        elif star >= 0:
            resume += 1
            p, t = star + 1, resume
        else:
            return False
    return all(char == "*" for char in pattern[p:])


def _known_hosts_path(param: Any) -> Path:
    if param:
        return Path(str(param))
    return Path.home() / ".ssh" / "known_hosts"


def _remember(path: Path, name: str, key: Any) -> None:
    """Append `name key` to the known_hosts file, replacing the file atomically."""
    try:
        current = path.read_bytes()
    except FileNotFoundError:
        current = b""
    if current and not current.endswith(b"\n"):
        current += b"\n"
    entry = paramiko.hostkeys.HostKeyEntry([name], key).to_line()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(path, current + entry.encode("ascii"), new_mode=PRIVATE_MODE)
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

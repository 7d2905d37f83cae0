"""Webhook triggers over a small, strict HTTP/1.1 server on asyncio.

One request per connection (`Connection: close`), headers up to 64 KiB, bodies
only with Content-Length (no chunked encoding). Runs start on the same event
loop as the server, through the engine and its journal, whose writes happen on
the journal's writer thread, never on this loop; the client gets 202 once the run
is in the journal (through `opsflow.serve.host.Runs`, shared with the other
triggers), or 503 with Retry-After when the journal stays locked by another process
for `ACCEPT_WAIT_S` (the run is then not started). Errors are answered as JSON
{"error": sentence}, never with a traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema

from opsflow.catalog.builtin.triggers import WebhookParams
from opsflow.credentials import resolve
from opsflow.engine.journal import Journal, JournalError
from opsflow.engine.local import LocalRunner
from opsflow.engine.run_types import RunOptions
from opsflow.errors import OpsflowError
from opsflow.model.flow import Flow

if TYPE_CHECKING:
    from opsflow.serve.host import Runs

HEADER_LIMIT = 64 * 1024
READ_TIMEOUT_S = 10.0
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
REASONS = {
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
#: How long a webhook waits for the journal to take its run before answering 503.
ACCEPT_WAIT_S = 5.0
#: What a 503 tells the client to wait before retrying (Alertmanager retries 5xx).
RETRY_AFTER_S = 5
logger = logging.getLogger(__name__)


class HttpError(Exception):
    """A request answered with an error status and a one-sentence reason."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Route:
    """One webhook trigger: where it listens and the runner it starts."""

    flow: str
    trigger: str
    params: WebhookParams
    runner: LocalRunner
    secret: bytes | None
    validator: Any = None

    @property
    def label(self) -> str:
        return f"{self.flow}/{self.trigger}"


def build_routes(
    flows: Sequence[tuple[Flow, Path | None]], journal: Journal | None
) -> dict[tuple[str, str], Route]:
    """(method, path) -> Route for every webhook trigger; credentials are resolved here."""
    routes: dict[tuple[str, str], Route] = {}
    for flow, path in flows:
        found: list[tuple[str, WebhookParams, bytes | None]] = []
        for node in flow.nodes:
            if node.type != "trigger.webhook":
                continue
            params = WebhookParams.model_validate(node.params)
            found.append((node.id, params, _secret(flow, node.id, params)))
        if not found:
            continue
        secrets = [s.decode() for _, _, s in found if s is not None]
        runner = LocalRunner(
            flow, flow_path=path, journal=journal, options=RunOptions(secrets=secrets)
        )
        for node_id, params, secret in found:
            validator = _validator(flow.id, node_id, params.body_schema)
            route = Route(flow.id, node_id, params, runner, secret, validator)
            key = (params.method, params.path)
            if key in routes:
                raise OpsflowError(
                    f"{routes[key].label} and {route.label} both listen on "
                    f"{params.method} {params.path}; give one of them another path"
                )
            routes[key] = route
    if not routes:
        raise OpsflowError("none of the flows has a webhook trigger; there is nothing to serve")
    return routes


def _secret(flow: Flow, node_id: str, params: WebhookParams) -> bytes | None:
    if params.auth == "none":
        return None
    if params.credential is None:
        raise OpsflowError(
            f"webhook '{node_id}' of flow '{flow.id}' uses {params.auth} auth but names no "
            "credential; set params.credential"
        )
    declared = flow.credentials.get(params.credential)
    credential = resolve(params.credential, declared.kind if declared else None)
    value = credential.fields.get("token") or credential.fields.get("key")
    if not value:
        raise OpsflowError(
            f"credential '{params.credential}' of webhook '{node_id}' has no token or key"
        )
    return value.encode()


def _validator(flow_id: str, node_id: str, schema: dict[str, Any] | None) -> Any:
    if schema is None:
        return None
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise OpsflowError(
            f"webhook '{node_id}' of flow '{flow_id}' has an invalid body_schema: {exc.message}"
        ) from None
    return cls(schema)


class WebhookServer:
    """Serves webhook routes and starts runs on the running event loop.

    `runs` is shared with the other triggers when a `TriggerHost` runs the server; without
    it the server keeps its own, logging to `log`.
    """

    def __init__(
        self,
        routes: Mapping[tuple[str, str], Route],
        *,
        log: Callable[[str], None] = print,
        runs: Runs | None = None,
    ) -> None:
        self.routes = dict(routes)
        self.paths: dict[str, list[str]] = {}
        for method, path in self.routes:
            self.paths.setdefault(path, []).append(method)
        if runs is None:
            from opsflow.serve.host import Runs  # host imports this module

            runs = Runs(log)
        self.runs = runs
        self._server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        try:
            self._server = await asyncio.start_server(
                self._connection, host, port, limit=HEADER_LIMIT
            )
        except OSError as exc:
            raise OpsflowError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop accepting connections; runs in flight go on."""
        if self._server is not None:
            self._server.close()

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop accepting, interrupt runs in flight (resumable) and wait for them to end."""
        await self.close()
        await self.runs.stop(grace_s)

    # -- one connection -----------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        unread = 0
        try:
            try:
                async with asyncio.timeout(READ_TIMEOUT_S):
                    status, body, headers, unread = await self._handle(reader)
            except HttpError as exc:
                status, body, headers = exc.status, {"error": exc.reason}, exc.headers
            except TimeoutError:
                status, body, headers = 408, {"error": "the request took too long to arrive"}, {}
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            except Exception:
                logger.exception("webhook request failed")
                self.runs.say("internal error answering a request; see the traceback above")
                status, body, headers = 500, {"error": "internal error; see the server log"}, {}
            await self._respond(writer, status, body, headers)
            if unread:  # let the client finish sending so it reads our answer, not a reset
                writer.write_eof()
                async with asyncio.timeout(2):
                    while unread > 0 and (chunk := await reader.read(min(unread, 65536))):
                        unread -= len(chunk)
        except (TimeoutError, ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _respond(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        body: dict[str, Any],
        headers: Mapping[str, str],
    ) -> None:
        data = json.dumps(body).encode()
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
        head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        head += ["Connection: close", *(f"{k}: {v}" for k, v in headers.items())]
        writer.write("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + data)
        await writer.drain()

    async def _handle(
        self, reader: asyncio.StreamReader
    ) -> tuple[int, dict[str, Any], dict[str, str], int]:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise HttpError(431, "the request headers are larger than 64 KiB") from None
        method, target, headers = _parse_head(raw)
        url = urlsplit(target)
        allowed = self.paths.get(url.path)
        if allowed is None:
            raise HttpError(404, f"no webhook listens on {url.path}")
        route = self.routes.get((method, url.path))
        if route is None:
            raise HttpError(
                405,
                f"{url.path} accepts {', '.join(sorted(allowed))}, not {method}",
                {"Allow": ", ".join(sorted(allowed))},
            )
        params = route.params
        if "transfer-encoding" in headers:
            raise HttpError(411, "chunked bodies are not accepted; send a Content-Length")
        length = _content_length(headers, method)
        if params.auth == "bearer":
            _check_bearer(headers.get("authorization", ""), route.secret)
        if length > params.max_body_bytes:
            return (
                413,
                {
                    "error": f"the body is {length} bytes; this webhook accepts at most "
                    f"{params.max_body_bytes}"
                },
                {},
                length,
            )
        data = await reader.readexactly(length)
        if params.auth == "hmac":
            _check_signature(headers.get(params.signature_header.lower(), ""), data, route.secret)
        body = _parse_body(data, route)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        hidden = {"authorization", params.signature_header.lower()}
        payload = {
            "body": body,
            "headers": {k: v for k, v in headers.items() if k not in hidden},
            "method": method,
            "path": url.path,
            "query": query,
        }
        try:
            run_id = await self.runs.start(route, payload, wait_s=ACCEPT_WAIT_S)
        except JournalError as exc:
            self.runs.say(f"{route.label}: answered 503, the run was not started: {exc}")
            raise HttpError(
                503,
                f"the run journal is busy and the run was not started ({exc}); retry later",
                {"Retry-After": str(RETRY_AFTER_S)},
            ) from None
        answer: dict[str, Any] = {"run": run_id} if params.respond_with_run_id else {}
        return 202, answer or {"accepted": True}, {}, 0


# -- parsing --------------------------------------------------------------------------------


def _parse_head(raw: bytes) -> tuple[str, str, dict[str, str]]:
    lines = raw[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0") or not parts[1].startswith("/"):
        raise HttpError(400, "the request line is not 'METHOD /path HTTP/1.1'")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip() or not name.isascii():
            raise HttpError(400, f"the header line {line[:60]!r} is malformed")
        key = name.lower()
        if key in headers and key in ("content-length", "authorization", "host"):
            raise HttpError(400, f"the header {name} is repeated")
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return parts[0], parts[1], headers


def _content_length(headers: Mapping[str, str], method: str) -> int:
    text = headers.get("content-length")
    if text is None:
        if method in BODY_METHODS:
            raise HttpError(411, f"a {method} request needs a Content-Length header")
        return 0
    if not text.isdigit() or len(text) > 15:
        raise HttpError(400, f"Content-Length {text[:20]!r} is not a byte count")
    return int(text)


def _check_bearer(header: str, secret: bytes | None) -> None:
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": "Bearer"}
    if scheme.lower() != "bearer" or not token.strip():
        raise HttpError(401, "send the secret as 'Authorization: Bearer <token>'", challenge)
    if secret is None or not hmac.compare_digest(token.strip().encode(), secret):
        raise HttpError(401, "the bearer token is wrong", challenge)


def _check_signature(header: str, body: bytes, secret: bytes | None) -> None:
    if not header.startswith("sha256="):
        raise HttpError(401, "the request has no 'sha256=<hex>' signature header")
    expected = hmac.new(secret or b"", body, hashlib.sha256).hexdigest().encode()
    if secret is None or not hmac.compare_digest(header[7:].strip().lower().encode(), expected):
        raise HttpError(401, "the body's signature does not match")


def _parse_body(data: bytes, route: Route) -> Any:
    body: Any = None
    if data:
        try:
            body = json.loads(data)
        except (ValueError, RecursionError) as exc:
            where = (
                f" ({exc.msg} at line {exc.lineno})"
                if isinstance(exc, json.JSONDecodeError)
                else ""
            )
            raise HttpError(400, f"the body is not valid JSON{where}") from None
    if route.validator is not None:
        error = jsonschema.exceptions.best_match(route.validator.iter_errors(body))
        if error is not None:
            at = "/".join(str(part) for part in error.absolute_path) or "the top level"
            raise HttpError(400, f"the body does not match the schema at {at}: {error.message}")
    return body

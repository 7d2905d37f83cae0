"""Executor of `action.http`: one HTTP request with `requests`, a fresh session per call.

The body is streamed and capped at `max_response_bytes` (after content decoding, so a
compressed bomb is caught too). `request_timeout_s` bounds connecting and each wait for bytes;
the node's own timeout (`call.timeout_s`) caps both and is checked while the body is read.
Credential values go into the request only: never into the log, the output or a message.
An api-key header is dropped on a redirect to another host, as requests does for
Authorization.

`NodeCall.stop` is checked before the request and between body chunks (`NodeStopped`).

Known gap: a server that trickles a body byte by byte inside the read timeout can overrun the
node timeout by up to one read timeout, since a blocked read cannot be interrupted; a stop is
likewise noticed only once connecting, the headers or the next chunk arrive.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import time
import warnings
from email.message import Message
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3.exceptions
from requests.auth import AuthBase, HTTPBasicAuth

from opsflow.catalog.builtin.checks import check_http_url, parse_statuses
from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome, NodeStopped

_CHUNK = 65536
_USER_AGENT = "opsflow-http"
_E = TypeVar("_E", bound=BaseException)


def http_request(call: NodeCall) -> NodeOutcome:
    params = call.params
    method: str = params["method"]
    url: str = params["url"]
    try:
        check_http_url(url, "url")
    except ValueError as exc:
        raise NodeError(str(exc), retryable=False) from None
    shown = without_userinfo(url)
    limit = int(params["max_response_bytes"])
    started = time.monotonic()
    deadline = None if call.timeout_s is None else started + call.timeout_s
    timeout = float(params["request_timeout_s"])
    if call.timeout_s is not None:
        timeout = min(timeout, call.timeout_s)
    verify = _verify(params)
    headers = {str(name): str(value) for name, value in (params.get("headers") or {}).items()}
    auth, secret_header = _auth(call, headers)
    if call.stop.is_set():
        raise NodeStopped(f"node '{call.node.id}': the run was stopped before {method} {shown}")
    call.log("info", f"{method} {_without_query(shown)}")
    if verify is False:
        call.log("warning", "TLS certificate checks are off (verify_tls); use `ca_bundle` instead")
    with _Session(secret_header) as session, warnings.catch_warnings():
        # Said once in the run log above rather than as a Python warning on every request.
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        session.headers["User-Agent"] = _USER_AGENT
        try:
            with session.request(
                method,
                url,
                params=dict(params.get("query") or {}),
                headers=headers,
                auth=auth,
                timeout=(timeout, timeout),
                verify=verify,
                allow_redirects=bool(params["follow_redirects"]),
                stream=True,
                **_body(params),
            ) as response:
                data = _read(call, response, limit, deadline, method, shown)
        except NodeError:
            raise
        except (requests.RequestException, OSError, UnicodeError) as exc:
            raise request_error(exc, url, timeout) from None
    output = _output(response, data, started)
    status = response.status_code
    call.log(
        "info", f"{method} {_without_query(shown)} answered {status} in {output['elapsed_s']} s"
    )
    if not any(low <= status <= high for low, high in parse_statuses(params["success_statuses"])):
        raise NodeError(
            f"{method} {shown} answered {status} {response.reason}",
            output=output,
            retryable=status >= 500 or status == 429,
        )
    return NodeOutcome(output=output)


class _Session(requests.Session):
    """A session that also drops the api-key header when a redirect leaves the host."""

    def __init__(self, secret_header: str | None) -> None:
        super().__init__()
        self._secret_header = secret_header

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        old_url = response.request.url or ""
        new_url = prepared_request.url or ""
        strip: bool = self.should_strip_auth(old_url, new_url)  # type: ignore[no-untyped-call]
        if self._secret_header is not None and strip:
            prepared_request.headers.pop(self._secret_header, None)
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]


class _HeaderAuth(AuthBase):
    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self.value = value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.name] = self.value
        return request


def _auth(call: NodeCall, headers: dict[str, str]) -> tuple[AuthBase | None, str | None]:
    """The auth object for `auth` and the name of a non-standard header that carries a secret."""
    kind = call.params.get("auth", "none")
    if kind == "none":
        return None, None
    name = str(call.params.get("credential") or "")
    fields = call.credential(name)

    def field(key: str, *, allow_empty: bool = False) -> str:
        value = fields.get(key)
        if value is None or (not value and not allow_empty):
            raise NodeError(
                f"credential '{name}' has no '{key}' field, which auth {kind} needs; "
                f"edit the credential or choose another `auth`",
                retryable=False,
            )
        return str(value)

    if kind == "basic":
        return HTTPBasicAuth(field("username"), field("password", allow_empty=True)), None
    if kind == "bearer":
        return _HeaderAuth("Authorization", f"Bearer {field('token')}"), None
    header = str(call.params.get("api_key_header") or "X-API-Key")
    for existing in list(headers):
        if existing.lower() == header.lower():
            del headers[existing]
    return _HeaderAuth(header, field("key")), header


def _verify(params: dict[str, Any]) -> bool | str:
    bundle = params.get("ca_bundle")
    if bundle:
        if not os.path.isfile(bundle):
            raise NodeError(
                f"`ca_bundle` '{bundle}' is not a file; give the absolute path of a PEM file "
                "of CA certificates",
                retryable=False,
            )
        return str(bundle)
    return bool(params.get("verify_tls", True))


def _body(params: dict[str, Any]) -> dict[str, Any]:
    body_type = params.get("body_type", "none")
    body = params.get("body")
    if body_type == "json":
        return {"json": body}
    if body_type == "form":
        return {"data": {str(key): _form_value(value) for key, value in (body or {}).items()}}
    if body_type == "raw":
        return {"data": str(body if body is not None else "").encode("utf-8")}
    return {}


def _form_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value)


def _read(
    call: NodeCall,
    response: requests.Response,
    limit: int,
    deadline: float | None,
    method: str,
    shown: str,
) -> bytes:
    """The body, at most `limit` bytes; fails the node when it is larger, time runs out or
    the run is stopped."""

    def too_large() -> NodeError:
        return NodeError(
            f"{method} {shown}: response larger than {limit} bytes (max_response_bytes); "
            "raise the limit or ask for less",
            output=_output(response, b"", None),
            retryable=False,
        )

    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit and method != "HEAD":
        raise too_large()
    data = bytearray()
    for chunk in response.iter_content(_CHUNK):
        data += chunk
        if len(data) > limit:
            raise too_large()
        if call.stop.is_set():
            raise NodeStopped(
                f"node '{call.node.id}': the run was stopped while the response to {method} "
                f"{shown} was read; the connection was closed"
            )
        if deadline is not None and time.monotonic() > deadline:
            raise NodeError(
                f"{method} {shown}: the node timeout ran out while the response was read",
                retryable=True,
            )
    return bytes(data)


def _output(response: requests.Response, data: bytes, started: float | None) -> dict[str, Any]:
    content_type = response.headers.get("Content-Type", "")
    message = Message()
    message["Content-Type"] = content_type or "application/octet-stream"
    charset = message.get_content_charset() or "utf-8"
    try:
        text = data.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        text = data.decode("utf-8", errors="replace")
    parsed: Any = None
    if data.strip():
        try:
            is_json = message.get_content_subtype() == "json" or content_type.endswith("+json")
            parsed = json.loads(data if is_json and charset == "utf-8" else text)
        except ValueError:
            parsed = None
    return {
        "status": response.status_code,
        "reason": response.reason,
        "headers": dict(response.headers),
        "json": parsed,
        "text": text,
        "url": without_userinfo(response.url),
        "elapsed_s": None if started is None else round(time.monotonic() - started, 3),
    }


def request_error(exc: BaseException, url: str, timeout: float) -> NodeError:
    """What went wrong with a request to `url`, as a sentence that says what to change."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    where = f"{host}:{port}"
    if isinstance(exc, requests.exceptions.SSLError) or _cause(exc, ssl.SSLError):
        detail = _cause(exc, ssl.SSLCertVerificationError)
        if detail is not None:
            reason = getattr(detail, "verify_message", "") or "not trusted"
            return NodeError(
                f"the TLS certificate of {host} could not be verified ({reason}); if an internal "
                "CA signed it, set `ca_bundle` to that CA's PEM file",
                retryable=False,
            )
        return NodeError(f"TLS with {where} failed: {_short(exc)}", retryable=False)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return NodeError(f"could not connect to {where} within {timeout:g} s", retryable=True)
    read_timeout = _cause(exc, urllib3.exceptions.ReadTimeoutError) or _cause(exc, TimeoutError)
    if isinstance(exc, requests.exceptions.ReadTimeout) or read_timeout is not None:
        return NodeError(f"{where} sent nothing for {timeout:g} s (read timeout)", retryable=True)
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return NodeError(f"{where}: too many redirects ({_short(exc)})", retryable=False)
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _cause(exc, ConnectionRefusedError) is not None:
            return NodeError(f"could not connect to {where} (connection refused)", retryable=True)
        if _cause(exc, socket.gaierror) is not None:
            return NodeError(f"could not connect to {where} (host name not found)", retryable=True)
        return NodeError(f"the connection to {where} failed: {_short(exc)}", retryable=True)
    if isinstance(exc, UnicodeError):
        return NodeError(
            f"the request to {where} could not be encoded (a header or URL with characters "
            "HTTP cannot carry)",
            retryable=False,
        )
    retryable = not isinstance(exc, ValueError | requests.exceptions.InvalidURL)
    return NodeError(f"the request to {where} failed: {_short(exc)}", retryable=retryable)


def _cause(exc: BaseException, kind: type[_E]) -> _E | None:
    """The first exception of `kind` among `exc`, its causes, contexts and wrapped reasons."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += list(current.args)
        todo += [item for item in linked if isinstance(item, BaseException)]
    return None


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


def without_userinfo(url: str) -> str:
    """`url` without a user name or password in it, fit to show."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _without_query(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(query="", fragment=""))

"""Executor of `action.ticket`: ServiceNow, Jira or any REST ticket API, with `requests`.

ServiceNow, through the Table API (`/api/now/table/<servicenow_table>`):
- create POSTs `fields`; update PATCHes `fields`; comment PATCHes {"comments": <comment>}.
  `comments` is the customer-visible "Additional comments" journal; TicketParams offers no
  choice, so for an internal note use update with {"work_notes": "..."} in `fields`.
- A `ticket_id` that is not a 32-hex sys_id (e.g. INC0012345) is taken as the record's number
  and looked up first: GET ...?sysparm_query=number=<id>&sysparm_limit=1.
- Output: {"id": number, "sys_id", "url": <base>/nav_to.do?uri=<table>.do?sys_id=<sys_id>,
  "system": "servicenow"}.

Jira, through REST API v2 (v2 takes plain-text descriptions and comments; v3 wants ADF):
- create POSTs /rest/api/2/issue {"fields": {"project": {"key"}, "issuetype": {"name"}, ...}}
  (`project` / `issuetype` given in `fields` win); update PUTs {"fields"} to the issue;
  comment POSTs {"body"} to .../comment; transition GETs .../transitions, picks the one whose
  name (case-insensitive) or id is `transition` and POSTs {"transition": {"id"}}.
- Output: {"id": key, "url": <base>/browse/<key>, "system": "jira"} (+ issue_id on create,
  comment_id on comment, transition on transition).

rest: `method` <base_url><path> with the JSON `body` (none when null); `id_field` and
`url_field` are RFC 6901 JSON Pointers into the JSON response. Any 2xx is success, also one
with an empty body (e.g. Redmine's 204 No Content for update and notes). create needs the id
in the answer; update and comment take it from `ticket_id` when the answer has none.
`url_template` builds the link instead: {id} is replaced by the URL-quoted id, and a
template starting with / is appended to the base URL; it is checked before the request, so
a bad one never fails a change that was made. Output: {"id", "url" (null without
`url_field` or `url_template`), "system": "rest", "response" (null when empty)}.

Auth follows the credential's fields: username/password -> HTTP basic (Jira: e-mail and API
token); token -> `Authorization: Bearer`; key -> ServiceNow `x-sn-apikey`, rest the header in
`api_key_header` (X-API-Key unless set; Redmine: X-Redmine-API-Key) (refused for Jira, which
has no API-key header). Credential values go into requests only and
are scrubbed (as ***) from every answer before it reaches a message or the output. Redirects
are not followed, so auth never goes to another host. Each request is bounded by 30 s and by
the node timeout; bodies are capped at 10 MiB. 5xx, 429 and connection failures are
retryable; other 4xx, a non-JSON answer and a missing id are not. `NodeCall.stop` is checked
before each request and between body chunks (`NodeStopped`); a request already waiting for
its answer is not interrupted.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from requests.auth import HTTPBasicAuth

from opsflow.catalog.builtin.checks import check_http_url
from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome, NodeStopped

_USER_AGENT = "opsflow-ticket"
_REQUEST_TIMEOUT_S = 30.0
_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
_CHUNK = 65536
_SYS_ID = re.compile(r"[0-9a-f]{32}", re.IGNORECASE)
_INDEX = re.compile(r"0|[1-9][0-9]*")
_JIRA_API = "/rest/api/2/issue"


def ticket(call: NodeCall) -> NodeOutcome:
    params = call.params
    system: str = params["system"]
    try:
        check_http_url(str(params["base_url"]), "base_url")
    except ValueError as exc:
        raise NodeError(str(exc), retryable=False) from None
    with _Client(call, system, str(params["base_url"]).rstrip("/")) as client:
        if system == "servicenow":
            output = _servicenow(client, params)
        elif system == "jira":
            output = _jira(client, params)
        else:
            output = _rest(client, params)
    call.log("info", f"{system} {params['operation']}: ticket {output['id']}")
    return NodeOutcome(output=output)


class _Client:
    """One session with the credential's auth; requests relative to the base URL."""

    def __init__(self, call: NodeCall, system: str, base: str) -> None:
        self.call = call
        self.system = system
        self.base = base
        self.deadline = None if call.timeout_s is None else time.monotonic() + call.timeout_s
        self.session = requests.Session()
        self.session.headers["User-Agent"] = _USER_AGENT
        self.session.headers["Accept"] = "application/json"
        self.secrets: list[str] = []
        self._authenticate(str(call.params["credential"]))

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    def _authenticate(self, name: str) -> None:
        fields = self.call.credential(name)
        self.secrets = sorted((str(v) for v in fields.values() if v), key=len, reverse=True)
        if fields.get("username"):
            user, password = fields["username"], fields.get("password") or ""
            self.session.auth = HTTPBasicAuth(user, password)
            # An echoed Authorization header carries them base64-encoded.
            self.secrets.insert(0, base64.b64encode(f"{user}:{password}".encode()).decode())
        elif fields.get("token"):
            self.session.headers["Authorization"] = f"Bearer {fields['token']}"
        elif fields.get("key"):
            if self.system == "jira":
                raise NodeError(
                    f"credential '{name}' is an api-key, which Jira does not accept; use a "
                    "basic credential (e-mail and API token) or a token (sent as bearer)",
                    retryable=False,
                )
            header = (
                "x-sn-apikey"
                if self.system == "servicenow"
                else str(self.call.params.get("api_key_header") or "X-API-Key")
            )
            self.session.headers[header] = fields["key"]
        else:
            raise NodeError(
                f"credential '{name}' has none of the fields username, token or key; "
                f"it has: {', '.join(sorted(fields)) or 'no fields'}",
                retryable=False,
            )

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def scrub_json(self, value: Any) -> Any:
        """`value` with credential values in its strings (keys too) replaced by ***."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub(str(k)): self.scrub_json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub_json(item) for item in value]
        return value

    def request(
        self, method: str, path: str, *, body: Any = None, query: dict[str, str] | None = None
    ) -> Any:
        """The parsed JSON answer (None when empty); NodeError unless the status is 2xx."""
        url = self.base + path
        shown = f"{self.system} {method} {_shown(url)}"
        timeout = _REQUEST_TIMEOUT_S
        if self.call.stop.is_set():
            raise NodeStopped(f"node '{self.call.node.id}': the run was stopped before {shown}")
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - time.monotonic())
            if timeout <= 0:
                raise NodeError(f"{shown}: the node timeout ran out", retryable=True)
        self.call.log("info", shown)
        try:
            with self.session.request(
                method,
                url,
                params=query,
                json=body,
                timeout=(timeout, timeout),
                allow_redirects=False,
                stream=True,
            ) as response:
                data = self._read(response, shown)
        except NodeError:
            raise
        except (requests.RequestException, OSError, UnicodeError) as exc:
            raise self._failure(exc, shown) from None
        parsed = self.scrub_json(_json(data))
        status = response.status_code
        if 200 <= status < 300:
            if data.strip() and parsed is None:
                kind = response.headers.get("Content-Type") or "no Content-Type"
                raise NodeError(
                    f"{shown} answered {status} but not with JSON ({kind}); check `base_url` "
                    "(a login page or sleeping instance answers like this)",
                    retryable=False,
                )
            return parsed
        detail = _detail(parsed, data)
        if 300 <= status < 400:
            where = response.headers.get("Location", "?")
            detail = f"redirects are not followed (to {_shown(where)}); check `base_url`"
        message = f"{shown} answered {status} {response.reason}"
        raise NodeError(
            self.scrub(f"{message}: {detail}" if detail else message),
            output={"status": status, "response": parsed},
            retryable=status >= 500 or status == 429,
        )

    def _read(self, response: requests.Response, shown: str) -> bytes:
        data = bytearray()
        for chunk in response.iter_content(_CHUNK):
            data += chunk
            if len(data) > _MAX_RESPONSE_BYTES:
                raise NodeError(
                    f"{shown}: response larger than {_MAX_RESPONSE_BYTES} bytes", retryable=False
                )
            if self.call.stop.is_set():
                raise NodeStopped(
                    f"node '{self.call.node.id}': the run was stopped while the answer to "
                    f"{shown} was read; the connection was closed"
                )
            if self.deadline is not None and time.monotonic() > self.deadline:
                raise NodeError(
                    f"{shown}: the node timeout ran out while the response was read",
                    retryable=True,
                )
        return bytes(data)

    def _failure(self, exc: BaseException, shown: str) -> NodeError:
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        if isinstance(exc, requests.exceptions.SSLError):
            message, retryable = f"TLS failed ({reason})", False
        elif isinstance(exc, requests.exceptions.Timeout):
            message, retryable = "no answer in time (timeout)", True
        elif isinstance(exc, requests.exceptions.ConnectionError):
            message, retryable = f"could not connect ({reason})", True
        else:
            bad = isinstance(exc, ValueError | UnicodeError | requests.exceptions.InvalidURL)
            message, retryable = f"failed ({reason})", not bad
        return NodeError(self.scrub(f"{shown}: {message}"), retryable=retryable)


# --- ServiceNow -----------------------------------------------------------------------------


def _servicenow(client: _Client, params: dict[str, Any]) -> dict[str, Any]:
    table = str(params["servicenow_table"])
    collection = f"/api/now/table/{table}"
    if params["operation"] == "create":
        answer = client.request("POST", collection, body=dict(params["fields"]))
    else:
        record = _sys_id(client, collection, str(params["ticket_id"]).strip())
        change = (
            dict(params["fields"])
            if params["operation"] == "update"
            else {"comments": params["comment"]}
        )
        answer = client.request("PATCH", f"{collection}/{record}", body=change)
    result = answer.get("result") if isinstance(answer, dict) else None
    sys_id = result.get("sys_id") if isinstance(result, dict) else None
    if not isinstance(result, dict) or not isinstance(sys_id, str) or not sys_id:
        raise NodeError(
            f"servicenow answered without result.sys_id: {_keys(answer)}",
            output={"response": answer},
            retryable=False,
        )
    number = result.get("number")
    return {
        "id": number if isinstance(number, str) and number else sys_id,
        "sys_id": sys_id,
        "url": f"{client.base}/nav_to.do?uri={table}.do?sys_id={sys_id}",
        "system": "servicenow",
    }


def _sys_id(client: _Client, collection: str, ticket_id: str) -> str:
    """`ticket_id` when it is a sys_id, else the sys_id of the record with that number."""
    if _SYS_ID.fullmatch(ticket_id):
        return ticket_id.lower()
    if not ticket_id or "^" in ticket_id:
        raise NodeError(
            f"ServiceNow ticket_id '{ticket_id}' is neither a sys_id nor a number such as "
            "INC0012345",
            retryable=False,
        )
    answer = client.request(
        "GET", collection, query={"sysparm_query": f"number={ticket_id}", "sysparm_limit": "1"}
    )
    found = answer.get("result") if isinstance(answer, dict) else None
    if isinstance(found, list) and found and isinstance(found[0], dict):
        sys_id = found[0].get("sys_id")
        if isinstance(sys_id, str) and _SYS_ID.fullmatch(sys_id):
            return sys_id
    raise NodeError(
        f"ServiceNow has no record numbered '{ticket_id}' in {collection.rsplit('/', 1)[1]}",
        retryable=False,
    )


# --- Jira -----------------------------------------------------------------------------------


def _jira(client: _Client, params: dict[str, Any]) -> dict[str, Any]:
    operation = params["operation"]
    extra: dict[str, Any] = {}
    if operation == "create":
        fields = dict(params["fields"])
        if isinstance(fields.get("project"), str):
            fields["project"] = {"key": fields["project"]}
        if isinstance(fields.get("issuetype"), str):
            fields["issuetype"] = {"name": fields["issuetype"]}
        if params.get("jira_project"):
            fields.setdefault("project", {"key": params["jira_project"]})
        fields.setdefault("issuetype", {"name": params["jira_issue_type"]})
        answer = client.request("POST", _JIRA_API, body={"fields": fields})
        key = answer.get("key") if isinstance(answer, dict) else None
        if not isinstance(key, str) or not key:
            raise NodeError(
                f"jira answered without the issue key: {_keys(answer)}",
                output={"response": answer},
                retryable=False,
            )
        extra["issue_id"] = answer.get("id")
    else:
        key = str(params["ticket_id"]).strip()
        issue = f"{_JIRA_API}/{quote(key, safe='')}"
        if operation == "update":
            client.request("PUT", issue, body={"fields": dict(params["fields"])})
        elif operation == "comment":
            answer = client.request("POST", f"{issue}/comment", body={"body": params["comment"]})
            extra["comment_id"] = answer.get("id") if isinstance(answer, dict) else None
        else:
            extra["transition"] = _transition(client, issue, key, str(params["transition"]))
    return {"id": key, "url": f"{client.base}/browse/{key}", "system": "jira", **extra}


def _transition(client: _Client, issue: str, key: str, wanted: str) -> str:
    answer = client.request("GET", f"{issue}/transitions")
    offered = answer.get("transitions") if isinstance(answer, dict) else None
    choices = [t for t in offered or [] if isinstance(t, dict) and "id" in t]
    target = wanted.strip()
    match = next(
        (t for t in choices if str(t.get("name", "")).casefold() == target.casefold()), None
    ) or next((t for t in choices if str(t["id"]) == target), None)
    if match is None:
        names = ", ".join(f"{t.get('name')} ({t['id']})" for t in choices) or "none"
        raise NodeError(
            f"Jira issue {key} has no transition '{wanted}' from its current status; "
            f"available: {names}",
            retryable=False,
        )
    client.request("POST", f"{issue}/transitions", body={"transition": {"id": str(match["id"])}})
    return str(match.get("name", match["id"]))


# --- generic REST ---------------------------------------------------------------------------


def _rest(client: _Client, params: dict[str, Any]) -> dict[str, Any]:
    path = str(params.get("path") or "")
    if path and not path.startswith(("/", "?")):
        path = "/" + path
    try:
        check_http_url(client.base + path, "base_url + path")
    except ValueError as exc:
        raise NodeError(str(exc), retryable=False) from None
    link = params.get("url_template")
    if link:
        _link(client.base, str(link), "1")  # a bad template fails before anything changes
    answer = client.request(str(params["method"]), path, body=params.get("body"))
    ticket_id = _rest_id(answer, params)
    url_field = params.get("url_field")
    if url_field:
        url: str | None = _scalar(answer, str(url_field), "url_field")
    else:
        url = _link(client.base, str(link), ticket_id) if link else None
    return {"id": ticket_id, "url": url, "system": "rest", "response": answer}


def _rest_id(answer: Any, params: dict[str, Any]) -> str:
    """The id at `id_field`; for update and comment `ticket_id` when the answer has none."""
    pointer = str(params["id_field"])
    operation = str(params["operation"])
    if operation != "create":
        found, value = _resolve(answer, pointer)
        if found and value is not None and not isinstance(value, dict | list):
            return value if isinstance(value, str) else json.dumps(value)
        known = "" if params.get("ticket_id") is None else str(params["ticket_id"]).strip()
        if known:
            return known
        if answer is None:
            raise NodeError(
                f"rest: the {operation} succeeded, but the response was empty, so it holds no "
                f"id at id_field '{pointer}'; set `ticket_id` to the ticket you changed",
                retryable=False,
            )
    return _scalar(answer, pointer, "id_field")


def _link(base: str, pattern: str, ticket_id: str) -> str:
    """`url_template` with {id} replaced; one starting with / is appended to the base URL."""
    if "{id}" not in pattern:
        raise NodeError(
            f"rest: `url_template` '{pattern}' has no {{id}} once rendered", retryable=False
        )
    url = pattern.replace("{id}", quote(ticket_id, safe=""))
    if url.startswith("/"):
        url = base + url
    try:
        check_http_url(url, "url_template")
    except ValueError as exc:
        raise NodeError(f"rest: {exc}", retryable=False) from None
    return url


def _scalar(document: Any, pointer: str, name: str) -> str:
    found, value = _resolve(document, pointer)
    if not found or value is None or isinstance(value, dict | list):
        what = "nothing" if not found else ("null" if value is None else type(value).__name__)
        raise NodeError(
            f"rest: {name} '{pointer}' points at {what} in the response; {_keys(document)}",
            output={"response": document},
            retryable=False,
        )
    return value if isinstance(value, str) else json.dumps(value)


def _resolve(document: Any, pointer: str) -> tuple[bool, Any]:
    """RFC 6901: (found, value) of `pointer` ("/a/0/b~1c") in `document`."""
    current = document
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict) and token in current:
            current = current[token]
        elif isinstance(current, list) and _INDEX.fullmatch(token) and int(token) < len(current):
            current = current[int(token)]
        else:
            return False, None
    return True, current


# --- helpers --------------------------------------------------------------------------------


def _keys(document: Any) -> str:
    if isinstance(document, dict):
        return "its top-level keys are: " + (", ".join(map(str, document)) or "none")
    if document is None:
        return "the response was empty"
    return f"the response is a JSON {type(document).__name__}, not an object"


def _json(data: bytes) -> Any:
    if not data.strip():
        return None
    try:
        return json.loads(data)
    except ValueError:
        return None


def _detail(parsed: Any, data: bytes) -> str:
    """The error message in a ServiceNow, Jira or Redmine error body, else its start."""
    parts: list[str] = []
    if isinstance(parsed, dict):
        error = parsed.get("error")
        if isinstance(error, dict):  # ServiceNow: {"error": {"message", "detail"}}
            parts += [str(error[k]) for k in ("message", "detail") if error.get(k)]
        elif isinstance(error, str):
            parts.append(error)
        messages = parsed.get("errorMessages")  # Jira: {"errorMessages": [], "errors": {}}
        if isinstance(messages, list):
            parts += [str(m) for m in messages]
        errors = parsed.get("errors")
        if isinstance(errors, dict):
            parts += [f"{k}: {v}" for k, v in errors.items()]
        elif isinstance(errors, list):  # Redmine: {"errors": ["Subject cannot be blank"]}
            parts += [str(e) for e in errors]
    text = "; ".join(parts) if parts else data.decode("utf-8", errors="replace").strip()
    text = " ".join(text.split())
    return text[:300] + ("..." if len(text) > 300 else "")


def _shown(url: str) -> str:
    """The URL without user info, query or fragment."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=netloc, query="", fragment=""))

"""Actions that reach other machines over the network: HTTP requests and SSH commands.

It also owns the HTTP and host checks (methods, URLs, host names) the messaging actions reuse.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import Field, JsonValue, field_validator, model_validator

from opsflow.catalog.builtin.actions_local import (
    COMMAND_OUTPUT,
    MIB,
    EnvName,
    ExitCodes,
    check_argv,
    check_literal_path,
    env_field,
    exit_codes_field,
    max_output_field,
)
from opsflow.catalog.builtin.checks import check_http_url, parse_statuses
from opsflow.catalog.fields import Params, credential, kind_field, template
from opsflow.catalog.spec import ACTION_PORTS, NodeSpec
from opsflow.expr import is_template

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
#: Methods that change nothing on the server (RFC 9110 "safe").
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Methods whose repetition has the effect of one request (RFC 9110 "idempotent").
IDEMPOTENT_METHODS = SAFE_METHODS | {"PUT", "DELETE"}

HeaderName = Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")]
#: Headers that carry secrets; a literal value there is a secret stored in the flow file.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token"}
)


def check_literal_host(host: str, field: str) -> None:
    """A host without template syntax must be a bare host name or IP address."""
    if is_template(host):
        return
    if "@" in host:
        raise ValueError(
            f"`{field}` '{host}' contains '@'; give only the host name (the user has its own field)"
        )
    if host.count(":") == 1:
        raise ValueError(f"`{field}` '{host}' contains a port; set the port in its own field")
    if host.startswith("-") or not re.fullmatch(r"[A-Za-z0-9._:%\[\]-]+", host):
        raise ValueError(f"`{field}` '{host}' is not a host name or IP address")


class HttpParams(Params):
    method: HttpMethod = Field("GET", description="The HTTP method.")
    url: str = template(
        min_length=1,
        description="The full URL, e.g. https://api.example.com/v1/hosts/{{ inputs.host }}.",
    )
    query: dict[str, str] = template(
        default_factory=dict, description="Query parameters added to the URL, name -> value."
    )
    headers: dict[HeaderName, str] = template(
        default_factory=dict,
        description="Request headers, name -> value. Never put secrets here: name a "
        "`credential` and choose `auth`.",
    )
    body_type: Literal["none", "json", "form", "raw"] = Field(
        "none",
        description="How `body` is sent: json (any JSON value), form (a flat object, "
        "URL-encoded) or raw (a string; set Content-Type in `headers`).",
    )
    body: JsonValue = template(
        None, description="The request body; every string in it is a template."
    )
    auth: Literal["none", "basic", "bearer", "api-key"] = Field(
        "none",
        description="How `credential` is sent: basic (a basic credential), bearer (a token "
        "credential, as `Authorization: Bearer`) or api-key (an api-key credential, in "
        "`api_key_header`).",
    )
    credential: str | None = credential(
        kinds=("basic", "token", "api-key"),
        description="Name of the credential used by `auth`: basic for basic, token for "
        "bearer, api-key for api-key.",
    )
    api_key_header: HeaderName = Field(
        "X-API-Key", description="api-key: the header that carries the key."
    )
    request_timeout_s: float = Field(
        30,
        gt=0,
        le=3600,
        description="Seconds allowed to connect and, separately, between bytes received. "
        "The node's own timeout bounds the whole step.",
    )
    verify_tls: bool = Field(
        True,
        description="Check the server's TLS certificate. Turn off only for a lab server; "
        "prefer `ca_bundle` for an internal CA.",
    )
    ca_bundle: str | None = kind_field(
        "path",
        None,
        description="Absolute path of a PEM file of CA certificates to trust instead of the "
        "system's.",
    )
    follow_redirects: bool = Field(True, description="Follow 3xx redirects.")
    max_response_bytes: int = Field(
        10 * MIB,
        ge=1,
        le=512 * MIB,
        description="Largest response body accepted, in bytes; a larger one fails the node.",
    )
    success_statuses: str = Field(
        "200-299",
        description="Statuses that take `success`, as codes and ranges, e.g. '200-299,304'. "
        "Any other takes `error`.",
    )

    @field_validator("success_statuses")
    @classmethod
    def _statuses_parse(cls, text: str) -> str:
        parse_statuses(text)
        return text

    @model_validator(mode="after")
    def _check(self) -> Self:
        check_http_url(self.url, "url")
        self._check_headers()
        self._check_auth()
        self._check_body()
        if self.ca_bundle is not None and not self.verify_tls:
            raise ValueError(
                "`ca_bundle` is set but verify_tls is off, so it would be ignored; "
                "turn verify_tls on to trust that bundle"
            )
        check_literal_path(self.ca_bundle, "ca_bundle")
        return self

    def _check_headers(self) -> None:
        seen: set[str] = set()
        for name, value in self.headers.items():
            lowered = name.lower()
            if lowered in seen:
                raise ValueError(f"header '{name}' is given twice (names ignore case)")
            seen.add(lowered)
            if "\r" in value or "\n" in value:
                raise ValueError(f"header '{name}' contains a line break")
            secret = lowered in SECRET_HEADERS or lowered == self.api_key_header.lower()
            if secret and not is_template(value):
                raise ValueError(
                    f"header '{name}' holds a literal secret, which would be saved in the flow "
                    "file; store it as a credential, name it in `credential` and choose `auth`"
                )
            if self.auth != "none" and lowered == self._auth_header():
                raise ValueError(
                    f"header '{name}' conflicts with auth {self.auth}, which sets it; "
                    "remove the header"
                )

    def _auth_header(self) -> str:
        return self.api_key_header.lower() if self.auth == "api-key" else "authorization"

    def _check_auth(self) -> None:
        if self.auth == "none" and self.credential is not None:
            raise ValueError(
                f"credential '{self.credential}' is named but auth is none, so it would not "
                "be sent; choose auth basic, bearer or api-key"
            )
        if self.auth != "none" and self.credential is None:
            raise ValueError(f"auth {self.auth} needs `credential`, the name of the secret")

    def _check_body(self) -> None:
        if self.body_type == "none":
            if self.body is not None:
                raise ValueError("`body` is set but body_type is none; choose json, form or raw")
            return
        if self.body is None:
            raise ValueError(f"body_type {self.body_type} needs a `body`")
        if self.body_type == "form" and not (
            isinstance(self.body, dict)
            and all(not isinstance(value, dict | list) for value in self.body.values())
        ):
            raise ValueError("a form body must be a flat object of name -> value")
        if self.body_type == "raw" and not isinstance(self.body, str):
            raise ValueError("a raw body must be a string; use body_type json for JSON")

    def accepts_status(self, status: int) -> bool:
        """Whether a response status takes the `success` port."""
        return any(low <= status <= high for low, high in parse_statuses(self.success_statuses))


def _http_changes_things(params: HttpParams) -> bool:
    return params.method not in SAFE_METHODS


def _http_idempotent(params: HttpParams) -> bool:
    return params.method in IDEMPOTENT_METHODS


class SshParams(Params):
    host: str = template(
        min_length=1, description="Host name or IP address of the server, without user or port."
    )
    port: int = Field(22, ge=1, le=65535, description="The SSH port.")
    user: str | None = template(
        None,
        min_length=1,
        description="The user to log in as. When it is given it wins over the credential's "
        "`username` (it is written in the flow, where reviewers see it); leave it out to log "
        "in as the credential's `username`.",
    )
    credential: str = credential(
        ...,
        kinds=("ssh-key", "basic"),
        description="Name of the credential to log in with: an ssh-key (preferred) or a "
        "basic user/password.",
    )
    command: list[str] = template(
        min_length=1,
        max_length=1024,
        description="The remote program and its arguments, one item each, e.g. "
        '["systemctl", "status", "{{ inputs.service }}"]. The runner quotes every item '
        "for the remote shell.",
    )
    known_hosts: str | None = kind_field(
        "path",
        None,
        description="Absolute path of the known_hosts file that vouches for the server; "
        "unset uses your own (~/.ssh/known_hosts). It is read as OpenSSH reads it (hashed "
        "names, [host]:port, patterns, @revoked keys); host certificates (@cert-authority) "
        "are not supported.",
    )
    trust_on_first_use: bool = Field(
        False,
        description="Accept and remember the key of a server not yet in known_hosts. A "
        "changed key is still refused. Safe only on a network you trust.",
    )
    connect_timeout_s: float = Field(
        15, gt=0, le=600, description="Seconds allowed to connect and log in."
    )
    max_output_bytes: int = max_output_field()
    success_exit_codes: ExitCodes = exit_codes_field()
    env: dict[EnvName, str] = env_field()

    @model_validator(mode="after")
    def _check(self) -> Self:
        check_literal_host(self.host, "host")
        if (
            self.user is not None
            and not is_template(self.user)
            and (self.user.startswith("-") or any(char.isspace() for char in self.user))
        ):
            raise ValueError(f"user '{self.user}' is not a user name")
        check_argv(self.command)
        check_literal_path(self.known_hosts, "known_hosts")
        return self


SPECS = [
    NodeSpec(
        type="action.http",
        category="action",
        title="HTTP request",
        doc="Sends an HTTP request and returns the status, headers and body (parsed when "
        "it is JSON); statuses outside `success_statuses` take `error`. Secrets come from "
        "a named credential, and TLS certificates are checked unless you say otherwise. "
        "Use it to call a REST API, trigger a webhook or check a health endpoint.",
        icon="action-http",
        params=HttpParams,
        executor="opsflow.executors.http:http_request",
        ports=ACTION_PORTS,
        side_effects=_http_changes_things,
        idempotent=_http_idempotent,
        output_fields={
            "status": "integer",
            "reason": "string",
            "headers": "object",
            "json": "any",
            "text": "string",
            "url": "string",
            "elapsed_s": "number",
        },
    ),
    NodeSpec(
        type="action.ssh",
        category="action",
        title="SSH command",
        doc="Logs in to a server over SSH and runs one command, returning its exit code, "
        "stdout and stderr. The server's key must be known (or trusted on first use) and "
        "each argument is quoted for the remote shell. It logs in as the node's `user`, or, "
        "when that is left out, as the credential's `username`. Use it to restart a "
        "service, read a log or apply a fix on a Linux or network host.",
        icon="action-ssh",
        params=SshParams,
        executor="opsflow.executors.ssh:ssh_command",
        ports=ACTION_PORTS,
        side_effects=True,
        idempotent=False,
        output_fields=COMMAND_OUTPUT,
    ),
]

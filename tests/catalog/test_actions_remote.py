"""The HTTP and SSH action types: their parameters, rules and behaviour flags."""

from __future__ import annotations

from typing import Any

import pytest

from opsflow.catalog.builtin.actions_remote import SPECS, HttpParams, SshParams
from opsflow.catalog.fields import walk_strings
from tests.catalog.helpers import rejection

SPEC = {spec.type: spec for spec in SPECS}

HTTP_MINIMAL: dict[str, Any] = {"url": "https://status.example.com/health"}
HTTP_FULL: dict[str, Any] = {
    "method": "POST",
    "url": "https://api.example.com/v1/hosts/{{ inputs.host }}/restart",
    "query": {"reason": "{{ trigger.body.alert }}", "dry": "false"},
    "headers": {"X-Request-Id": "{{ run.id }}", "Accept": "application/json"},
    "body_type": "json",
    "body": {"host": "{{ inputs.host }}", "force": True, "tags": ["ops", "{{ vars.team }}"]},
    "auth": "bearer",
    "credential": "inventory-api",
    "request_timeout_s": 10,
    "verify_tls": True,
    "ca_bundle": "/etc/ssl/corp-ca.pem",
    "follow_redirects": False,
    "max_response_bytes": 1024 * 1024,
    "success_statuses": "200-299,304",
}
SSH_MINIMAL: dict[str, Any] = {
    "host": "web01.example.com",
    "user": "ops",
    "credential": "ops-key",
    "command": ["uptime"],
}
SSH_FULL: dict[str, Any] = {
    "host": "{{ inputs.host }}",
    "port": 2222,
    "user": "deploy",
    "credential": "deploy-key",
    "command": ["systemctl", "restart", "{{ inputs.service }}"],
    "known_hosts": "/etc/opsflow/known_hosts",
    "trust_on_first_use": True,
    "connect_timeout_s": 5,
    "max_output_bytes": 65536,
    "success_exit_codes": [0, 3],
    "env": {"LANG": "C.UTF-8", "TICKET": "{{ nodes.ticket.output.id }}"},
}


def test_http_minimal_gets_safe_defaults() -> None:
    params = HttpParams.model_validate(HTTP_MINIMAL)
    assert params.method == "GET"
    assert params.verify_tls is True
    assert params.body_type == "none" and params.body is None
    assert params.request_timeout_s == 30
    assert params.max_response_bytes == 10 * 1024 * 1024
    assert params.api_key_header == "X-API-Key"


def test_http_full_is_valid() -> None:
    params = HttpParams.model_validate(HTTP_FULL)
    assert params.body == HTTP_FULL["body"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"method": "FETCH"}, "method: Input should be"),
        ({"url": "ftp://files.example.com/x"}, "give a full http:// or https:// URL"),
        ({"url": "api.example.com/v1"}, "give a full http:// or https:// URL"),
        ({"url": "https://[::1/x"}, "give a full http:// or https:// URL"),
        ({"headers": {"Authorization": "Bearer abc123"}}, "literal secret"),
        ({"headers": {"x-api-key": "abc123"}}, "choose `auth`"),
        ({"headers": {"Accept": "a", "accept": "b"}}, "given twice"),
        ({"headers": {"X-Note": "a\r\nX-Evil: 1"}}, "line break"),
        ({"headers": {"Bad Header": "x"}}, "headers.Bad Header.[key]: String should match"),
        ({"auth": "basic"}, "needs `credential`"),
        ({"credential": "api"}, "auth is none"),
        (
            {"auth": "bearer", "credential": "t", "headers": {"authorization": "{{ vars.a }}"}},
            "conflicts with auth bearer",
        ),
        ({"body": {"a": 1}}, "body_type is none"),
        ({"body_type": "json"}, "needs a `body`"),
        ({"body_type": "form", "body": {"a": {"b": 1}}}, "flat object"),
        ({"body_type": "raw", "body": {"a": 1}}, "must be a string"),
        ({"verify_tls": False, "ca_bundle": "/etc/ca.pem"}, "would be ignored"),
        ({"ca_bundle": "certs/ca.pem"}, "relative path"),
        ({"success_statuses": "2xx"}, "'2xx' in '2xx' is not a status or a range"),
        ({"success_statuses": "299-200"}, "low before high"),
        ({"success_statuses": "200-600"}, "statuses run from 100 to 599"),
        ({"request_timeout_s": 0}, "request_timeout_s: Input should be greater than 0"),
        ({"max_response_bytes": 1024**3}, "max_response_bytes: Input should be less"),
        ({"timeout_s": 5}, "timeout_s: Extra inputs are not permitted"),
    ],
)
def test_http_rules(changes: dict[str, Any], message: str) -> None:
    assert message in rejection(HttpParams, {**HTTP_MINIMAL, **changes})


def test_http_templated_secret_header_and_api_key_auth_are_allowed() -> None:
    HttpParams.model_validate(
        {**HTTP_MINIMAL, "headers": {"Authorization": "Bearer {{ nodes.login.output.token }}"}}
    )
    HttpParams.model_validate(
        {**HTTP_MINIMAL, "auth": "api-key", "credential": "k", "api_key_header": "X-Key"}
    )
    assert "conflicts with auth api-key" in rejection(
        HttpParams,
        {
            **HTTP_MINIMAL,
            "auth": "api-key",
            "credential": "k",
            "api_key_header": "X-Key",
            "headers": {"x-key": "{{ vars.k }}"},
        },
    )


def test_http_status_ranges() -> None:
    params = HttpParams.model_validate({**HTTP_MINIMAL, "success_statuses": "200-299, 304"})
    assert [params.accepts_status(code) for code in (199, 200, 299, 301, 304, 404)] == [
        False,
        True,
        True,
        False,
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("method", "side_effects", "idempotent"),
    [
        ("GET", False, True),
        ("HEAD", False, True),
        ("OPTIONS", False, True),
        ("PUT", True, True),
        ("DELETE", True, True),
        ("POST", True, False),
        ("PATCH", True, False),
    ],
)
def test_http_flags_follow_the_method(method: str, side_effects: bool, idempotent: bool) -> None:
    params = HttpParams.model_validate({**HTTP_MINIMAL, "method": method})
    assert SPEC["action.http"].has_side_effects(params) is side_effects
    assert SPEC["action.http"].is_idempotent(params) is idempotent


def test_http_walk_strings_finds_templates_and_credential() -> None:
    found = {(path, kind) for path, _, kind in walk_strings(HttpParams.model_validate(HTTP_FULL))}
    assert found == {
        ("url", "template"),
        ("query.reason", "template"),
        ("query.dry", "template"),
        ("headers.X-Request-Id", "template"),
        ("headers.Accept", "template"),
        ("body.host", "template"),
        ("body.tags[0]", "template"),
        ("body.tags[1]", "template"),
        ("credential", "credential"),
        ("ca_bundle", "path"),
    }


def test_ssh_minimal_gets_safe_defaults() -> None:
    params = SshParams.model_validate(SSH_MINIMAL)
    assert params.port == 22
    assert params.trust_on_first_use is False
    assert params.known_hosts is None
    assert params.success_exit_codes == [0]
    assert params.max_output_bytes == 1024 * 1024
    assert params.connect_timeout_s == 15


def test_ssh_full_is_valid() -> None:
    assert SshParams.model_validate(SSH_FULL).env["LANG"] == "C.UTF-8"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"credential": None}, "credential: Input should be a valid string"),
        ({"command": []}, "command: List should have at least 1 item"),
        ({"command": ["", "x"]}, "must name the program"),
        ({"command": "uptime"}, "valid list"),
        ({"port": 0}, "port: Input should be greater than or equal to 1"),
        ({"port": 70000}, "port: Input should be less than or equal to 65535"),
        ({"host": "ops@web01"}, "the user has its own field"),
        ({"host": "web01:2222"}, "contains a port"),
        ({"host": "-oProxyCommand=sh"}, "not a host name"),
        ({"host": "web 01"}, "not a host name"),
        ({"user": "-l root"}, "not a user name"),
        ({"known_hosts": "known_hosts"}, "relative path"),
        ({"success_exit_codes": []}, "at least 1 item"),
        ({"success_exit_codes": [0, 0]}, "listed twice"),
        (
            {"success_exit_codes": [-1]},
            "success_exit_codes.0: Input should be greater than or equal to 0",
        ),
        ({"env": {"1BAD": "x"}}, "env.1BAD.[key]: String should match"),
        ({"max_output_bytes": 10}, "max_output_bytes: Input should be greater"),
    ],
)
def test_ssh_rules(changes: dict[str, Any], message: str) -> None:
    assert message in rejection(SshParams, {**SSH_MINIMAL, **changes})


@pytest.mark.parametrize("host", ["10.0.0.7", "fe80::1%eth0", "[2001:db8::1]", "{{ item.host }}"])
def test_ssh_accepts_addresses_and_templated_hosts(host: str) -> None:
    SshParams.model_validate({**SSH_MINIMAL, "host": host})


def test_ssh_flags() -> None:
    params = SshParams.model_validate(SSH_MINIMAL)
    assert SPEC["action.ssh"].has_side_effects(params) is True
    assert SPEC["action.ssh"].is_idempotent(params) is False


def test_ssh_walk_strings_finds_templates_and_credential() -> None:
    found = {(path, kind) for path, _, kind in walk_strings(SshParams.model_validate(SSH_FULL))}
    assert found == {
        ("host", "template"),
        ("user", "template"),
        ("credential", "credential"),
        ("command[0]", "template"),
        ("command[1]", "template"),
        ("command[2]", "template"),
        ("known_hosts", "path"),
        ("env.LANG", "template"),
        ("env.TICKET", "template"),
    }

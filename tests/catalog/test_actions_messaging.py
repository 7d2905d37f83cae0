"""The e-mail, chat and ticket action types: their parameters, rules and behaviour flags."""

from __future__ import annotations

from typing import Any

import pytest

from opsflow.catalog.builtin.actions_messaging import (
    SPECS,
    ChatParams,
    EmailParams,
    TicketParams,
)
from opsflow.catalog.fields import walk_strings
from tests.catalog.helpers import rejection

SPEC = {spec.type: spec for spec in SPECS}

EMAIL_MINIMAL: dict[str, Any] = {
    "smtp_host": "smtp.example.com",
    "from_addr": "opsflow@example.com",
    "to": ["oncall@example.com"],
    "subject": "Disk full",
}
EMAIL_FULL: dict[str, Any] = {
    "smtp_host": "{{ vars.smtp_host }}",
    "smtp_port": 465,
    "security": "tls",
    "credential": "smtp-relay",
    "from_addr": "Opsflow <opsflow@example.com>",
    "to": ["Ana Lima <ana@example.com>", "{{ inputs.requester }}"],
    "cc": ["root@localhost"],
    "subject": "Disk full on {{ inputs.host }}",
    "body": "<p>{{ nodes.df.output.stdout }}</p>",
    "body_format": "html",
}
CHAT_MINIMAL: dict[str, Any] = {
    "service": "slack",
    "webhook_credential": "slack-ops",
    "text": "Backup finished",
}
CHAT_FULL: dict[str, Any] = {
    "service": "mattermost",
    "webhook_credential": "mm-ops",
    "text": "Restarted {{ inputs.service }} on {{ inputs.host }}",
    "title": "Service restart",
    "username": "Opsflow",
    "channel": "{{ vars.team_channel }}",
    "icon_emoji": ":robot_face:",
    "mention": ["ana", "{{ trigger.body.owner }}"],
}
TICKET_CREATE: dict[str, Any] = {
    "system": "servicenow",
    "operation": "create",
    "base_url": "https://acme.service-now.com",
    "credential": "snow",
}
TICKET_JIRA: dict[str, Any] = {
    "system": "jira",
    "operation": "create",
    "base_url": "https://acme.atlassian.net",
    "credential": "jira-bot",
    "jira_project": "OPS",
    "jira_issue_type": "Bug",
    "fields": {
        "summary": "Disk full on {{ inputs.host }}",
        "priority": {"name": "High"},
        "labels": ["opsflow", "{{ vars.env }}"],
    },
}
TICKET_TRANSITION: dict[str, Any] = {
    "system": "jira",
    "operation": "transition",
    "base_url": "https://acme.atlassian.net",
    "credential": "jira-bot",
    "ticket_id": "{{ nodes.open.output.id }}",
    "transition": "Done",
}
TICKET_REST: dict[str, Any] = {
    "system": "rest",
    "operation": "create",
    "base_url": "https://tickets.example.com/api",
    "credential": "ticket-api",
    "method": "POST",
    "path": "/v2/tickets",
    "body": {"title": "{{ inputs.title }}", "severity": 2},
    "id_field": "/data/id",
    "url_field": "/data/links/self",
}


def _paths(params: Any) -> set[tuple[str, str]]:
    return {(path, kind) for path, _, kind in walk_strings(params)}


def test_email_minimal_gets_safe_defaults() -> None:
    params = EmailParams.model_validate(EMAIL_MINIMAL)
    assert (params.smtp_port, params.security, params.body_format) == (587, "starttls", "text")
    assert params.credential is None and params.cc == [] and params.body == ""


def test_email_full_is_valid() -> None:
    assert EmailParams.model_validate(EMAIL_FULL).to[0] == "Ana Lima <ana@example.com>"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"to": []}, "to: List should have at least 1 item"),
        ({"to": ["oncall"]}, "`to[0]` 'oncall' is not an e-mail address"),
        ({"to": ["a@b@c"]}, "is not an e-mail address"),
        ({"to": ["@example.com"]}, "is not an e-mail address"),
        ({"to": ["a@example.com, b@example.com"]}, "give each its own item"),
        ({"cc": ["ok@example.com", "Ana <ana at example.com>"]}, "`cc[1]`"),
        ({"from_addr": "opsflow"}, "`from_addr` 'opsflow'"),
        ({"subject": "Hi\nBcc: victim@example.com"}, "`subject` must be one line"),
        ({"subject": ""}, "subject: String should have at least 1 character"),
        ({"security": "none", "credential": "relay"}, "unencrypted"),
        ({"security": "ssl"}, "security: Input should be"),
        ({"smtp_host": "smtp.example.com:25"}, "contains a port"),
        ({"smtp_port": 0}, "smtp_port: Input should be greater"),
        ({"body_format": "markdown"}, "body_format: Input should be"),
    ],
)
def test_email_rules(changes: dict[str, Any], message: str) -> None:
    assert message in rejection(EmailParams, {**EMAIL_MINIMAL, **changes})


def test_email_flags_and_walk_strings() -> None:
    params = EmailParams.model_validate(EMAIL_FULL)
    assert SPEC["action.email"].has_side_effects(params) is True
    assert SPEC["action.email"].is_idempotent(params) is False
    assert _paths(params) == {
        ("smtp_host", "template"),
        ("credential", "credential"),
        ("from_addr", "template"),
        ("to[0]", "template"),
        ("to[1]", "template"),
        ("cc[0]", "template"),
        ("subject", "template"),
        ("body", "template"),
    }


def test_chat_minimal_and_full_are_valid() -> None:
    assert ChatParams.model_validate(CHAT_MINIMAL).mention == []
    assert ChatParams.model_validate(CHAT_FULL).icon_emoji == ":robot_face:"
    ChatParams.model_validate({**CHAT_MINIMAL, "service": "teams", "mention": ["ana@example.com"]})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"service": "discord"}, "service: Input should be"),
        ({"webhook_credential": None}, "webhook_credential: Input should be a valid string"),
        ({"text": ""}, "text: String should have at least 1 character"),
        (
            {"service": "teams", "channel": "#ops"},
            "`channel` applies only when service is mattermost or slack, not teams",
        ),
        ({"service": "teams", "username": "bot"}, "`username` applies only when"),
        ({"service": "teams", "icon_emoji": ":x:"}, "`icon_emoji` applies only when"),
        ({"icon_emoji": "robot"}, "icon_emoji: String should match"),
        ({"mention": ["@ana"]}, "`mention[0]` '@ana' must be one name or ID without '@'"),
        ({"mention": ["ana", "bo b"]}, "`mention[1]`"),
        ({"webhook_url": "https://hooks.slack.com/x"}, "webhook_url: Extra inputs"),
    ],
)
def test_chat_rules(changes: dict[str, Any], message: str) -> None:
    assert message in rejection(ChatParams, {**CHAT_MINIMAL, **changes})


def test_chat_flags_and_walk_strings() -> None:
    params = ChatParams.model_validate(CHAT_FULL)
    assert SPEC["action.chat"].has_side_effects(params) is True
    assert SPEC["action.chat"].is_idempotent(params) is False
    assert _paths(params) == {
        ("webhook_credential", "credential"),
        ("text", "template"),
        ("title", "template"),
        ("username", "template"),
        ("channel", "template"),
        ("mention[0]", "template"),
        ("mention[1]", "template"),
    }


@pytest.mark.parametrize(
    "params",
    [
        TICKET_CREATE,
        TICKET_JIRA,
        TICKET_REST,
        {**TICKET_CREATE, "fields": {"short_description": "x"}, "servicenow_table": "sc_task"},
        {**TICKET_CREATE, "operation": "update", "ticket_id": "INC001", "fields": {"state": 6}},
        {**TICKET_CREATE, "operation": "comment", "ticket_id": "INC001", "comment": "Fixed."},
        {**TICKET_JIRA, "jira_project": None, "fields": {"project": {"key": "OPS"}}},
        TICKET_TRANSITION,
        {**TICKET_REST, "operation": "update", "method": "PATCH", "ticket_id": "42"},
        {**TICKET_REST, "operation": "comment"},
    ],
)
def test_ticket_valid(params: dict[str, Any]) -> None:
    TicketParams.model_validate(params)


def test_ticket_defaults() -> None:
    params = TicketParams.model_validate(TICKET_CREATE)
    assert (params.servicenow_table, params.jira_issue_type) == ("incident", "Task")
    assert (params.method, params.path, params.id_field, params.url_field) == (
        "POST",
        "",
        "/id",
        None,
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({**TICKET_CREATE, "credential": None}, "credential: Input should be a valid string"),
        ({**TICKET_CREATE, "base_url": "acme.service-now.com"}, "`base_url` is"),
        ({**TICKET_CREATE, "operation": "update"}, "update needs `ticket_id`"),
        ({**TICKET_CREATE, "operation": "update", "ticket_id": "INC1"}, "update needs `fields`"),
        ({**TICKET_CREATE, "operation": "comment", "ticket_id": "INC1"}, "needs `comment`"),
        (
            {**TICKET_CREATE, "operation": "comment", "ticket_id": "INC1", "comment": " "},
            "comment needs `comment`",
        ),
        (
            {**TICKET_CREATE, "operation": "transition", "ticket_id": "INC1"},
            "transitions are Jira workflow steps",
        ),
        ({**TICKET_CREATE, "transition": "Resolve"}, "transitions are Jira workflow steps"),
        ({**TICKET_REST, "operation": "transition"}, "transitions are Jira workflow steps"),
        ({**TICKET_TRANSITION, "transition": None}, "transition needs `transition`"),
        (
            {**TICKET_JIRA, "jira_project": None},
            "Jira create needs `jira_project` (or `project` in `fields`)",
        ),
        ({**TICKET_JIRA, "jira_project": "ops"}, "jira_project: String should match"),
        (
            {**TICKET_JIRA, "servicenow_table": "change_request"},
            "`servicenow_table` applies only when system is servicenow, not jira",
        ),
        ({**TICKET_CREATE, "jira_project": "OPS"}, "`jira_project` applies only when system"),
        ({**TICKET_CREATE, "method": "PUT"}, "`method` applies only when system is rest"),
        ({**TICKET_CREATE, "body": {"a": 1}}, "`body` applies only when system is rest"),
        ({**TICKET_REST, "fields": {"a": 1}}, "`fields` applies only when system is jira or"),
        ({**TICKET_REST, "comment": "x"}, "`comment` applies only when system"),
        (
            {**TICKET_CREATE, "ticket_id": "INC1"},
            "`ticket_id` applies only when operation is comment or transition or update",
        ),
        (
            {
                **TICKET_CREATE,
                "operation": "comment",
                "ticket_id": "I",
                "comment": "c",
                "fields": {"a": 1},
            },
            "`fields` applies only when operation is create or update, not comment",
        ),
        (
            {
                **TICKET_CREATE,
                "operation": "update",
                "ticket_id": "I",
                "fields": {"a": 1},
                "comment": "c",
            },
            "`comment` applies only when operation is comment",
        ),
        ({**TICKET_CREATE, "servicenow_table": "Incident"}, "servicenow_table: String should"),
        ({**TICKET_REST, "id_field": "id"}, "id_field: String should match"),
        ({**TICKET_REST, "url_field": "/a/~2"}, "url_field: String should match"),
    ],
)
def test_ticket_rules(params: dict[str, Any], message: str) -> None:
    assert message in rejection(TicketParams, params)


@pytest.mark.parametrize(
    ("params", "side_effects", "idempotent"),
    [
        (TICKET_CREATE, True, False),
        (
            {**TICKET_CREATE, "operation": "update", "ticket_id": "I", "fields": {"a": 1}},
            True,
            True,
        ),
        ({**TICKET_CREATE, "operation": "comment", "ticket_id": "I", "comment": "c"}, True, False),
        (TICKET_TRANSITION, True, False),
        (TICKET_REST, True, False),
        ({**TICKET_REST, "method": "PUT"}, True, True),
        ({**TICKET_REST, "method": "GET", "operation": "update", "ticket_id": "1"}, False, True),
    ],
)
def test_ticket_flags(params: dict[str, Any], side_effects: bool, idempotent: bool) -> None:
    validated = TicketParams.model_validate(params)
    assert SPEC["action.ticket"].has_side_effects(validated) is side_effects
    assert SPEC["action.ticket"].is_idempotent(validated) is idempotent


def test_ticket_walk_strings() -> None:
    assert _paths(TicketParams.model_validate(TICKET_JIRA)) == {
        ("base_url", "template"),
        ("credential", "credential"),
        ("fields.summary", "template"),
        ("fields.priority.name", "template"),
        ("fields.labels[0]", "template"),
        ("fields.labels[1]", "template"),
        ("path", "template"),
    }
    assert _paths(TicketParams.model_validate(TICKET_REST)) == {
        ("base_url", "template"),
        ("credential", "credential"),
        ("path", "template"),
        ("body.title", "template"),
    }

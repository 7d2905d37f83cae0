"""Actions that tell people things: e-mail, chat messages and tickets in ITSM systems."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from pydantic import Field, JsonValue, model_validator

from opsflow.catalog.builtin.actions_local import check_literal_path, check_only_for
from opsflow.catalog.builtin.actions_remote import (
    IDEMPOTENT_METHODS,
    SAFE_METHODS,
    HeaderName,
    HttpMethod,
    check_literal_host,
)
from opsflow.catalog.builtin.checks import check_http_url
from opsflow.catalog.fields import Params, credential, kind_field, template
from opsflow.catalog.spec import ACTION_PORTS, NodeSpec
from opsflow.expr import is_template

_NAMED_ADDRESS = re.compile(r"^[^<>]*<([^<>]*)>$")


def check_address(value: str, field: str) -> None:
    """An address without template syntax must be one address, bare or as `Name <addr>`."""
    if is_template(value):
        return
    named = _NAMED_ADDRESS.match(value.strip())
    address = named.group(1) if named else value.strip()
    if "," in address or ";" in address:
        raise ValueError(f"`{field}` '{value}' holds several addresses; give each its own item")
    local, at, domain = address.partition("@")
    if not at or not local or not domain or "@" in domain or re.search(r"\s", address):
        raise ValueError(f"`{field}` '{value}' is not an e-mail address like ana@example.com")


class EmailParams(Params):
    smtp_host: str = template(min_length=1, description="The SMTP server, e.g. smtp.example.com.")
    smtp_port: int = Field(
        587, ge=1, le=65535, description="587 for starttls, 465 for tls, 25 for a plain relay."
    )
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="starttls upgrades a plain connection, tls encrypts from the start, "
        "none sends in clear (an internal relay only).",
    )
    ca_bundle: str | None = kind_field(
        "path",
        None,
        description="Absolute path of a PEM file of CA certificates to trust instead of the "
        "system's, for starttls and tls (e.g. the internal CA that signed the server's "
        "certificate).",
    )
    credential: str | None = credential(
        kinds=("smtp", "basic"),
        description="Name of the credential to log in with; unset sends without logging in.",
    )
    from_addr: str = template(
        min_length=1, description="The sender, e.g. Opsflow <opsflow@example.com>."
    )
    to: list[str] = template(
        min_length=1, max_length=100, description="Recipients, one address per item."
    )
    cc: list[str] = template(
        default_factory=list, max_length=100, description="Copy recipients, one address per item."
    )
    subject: str = template(min_length=1, max_length=998, description="The subject line.")
    body: str = template("", max_length=1024 * 1024, description="The message text.")
    body_format: Literal["text", "html"] = Field(
        "text", description="text for plain text; html when `body` is HTML markup."
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        check_literal_host(self.smtp_host, "smtp_host")
        check_address(self.from_addr, "from_addr")
        for name in ("to", "cc"):
            for index, address in enumerate(getattr(self, name)):
                check_address(address, f"{name}[{index}]")
        if "\n" in self.subject or "\r" in self.subject:
            raise ValueError("`subject` must be one line")
        if self.security == "none" and self.credential is not None:
            raise ValueError(
                "security none would send the credential's password unencrypted; "
                "choose starttls or tls, or remove `credential`"
            )
        if self.security == "none" and self.ca_bundle is not None:
            raise ValueError(
                "`ca_bundle` is set but security is none, so no certificate is checked and it "
                "would be ignored; choose starttls or tls, or remove `ca_bundle`"
            )
        check_literal_path(self.ca_bundle, "ca_bundle")
        return self


_CHAT_FIELD_SERVICES: dict[str, tuple[str, ...]] = {
    "username": ("slack", "mattermost"),
    "channel": ("slack", "mattermost"),
    "icon_emoji": ("slack", "mattermost"),
}


class ChatParams(Params):
    service: Literal["slack", "teams", "mattermost"] = Field(
        description="The chat service the incoming webhook belongs to."
    )
    webhook_credential: str = credential(
        ...,
        kinds=("token",),
        description="Name of a token credential holding the incoming-webhook URL; the URL "
        "lets anyone post, so it is a secret.",
    )
    text: str = template(
        min_length=1, max_length=40_000, description="The message, in the service's Markdown."
    )
    title: str | None = template(None, description="A heading shown above the message.")
    username: str | None = template(
        None,
        description="Slack and Mattermost: the sender name shown, where the webhook allows "
        "overriding it. Not for Teams.",
    )
    channel: str | None = template(
        None,
        description="Slack and Mattermost: post to this channel instead of the webhook's "
        "own, e.g. #ops. Not for Teams, whose webhooks post only to their own channel.",
    )
    icon_emoji: str | None = Field(
        None,
        pattern=r"^:[a-z0-9_+-]+:$",
        description="Slack and Mattermost: the emoji shown as the sender's picture, e.g. "
        ":rotating_light:. Not for Teams.",
    )
    mention: list[str] = template(
        default_factory=list,
        max_length=50,
        description="Who to notify, without '@': Slack member IDs (U0123ABCD) or here; "
        "Teams user principal names (ana@example.com); Mattermost user names or here.",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        check_only_for(self, "service", _CHAT_FIELD_SERVICES)
        for index, who in enumerate(self.mention):
            if is_template(who):
                continue
            if not who.strip() or who.startswith("@") or re.search(r"\s", who):
                raise ValueError(
                    f"`mention[{index}]` '{who}' must be one name or ID without '@' or spaces"
                )
        return self


TicketSystem = Literal["servicenow", "jira", "rest"]
TicketOperation = Literal["create", "update", "comment", "transition"]
JsonPointer = Annotated[str, Field(pattern=r"^(/([^~/]|~[01])*)+$")]

_TICKET_FIELD_SYSTEMS: dict[str, tuple[str, ...]] = {
    "fields": ("servicenow", "jira"),
    "comment": ("servicenow", "jira"),
    "servicenow_table": ("servicenow",),
    "jira_project": ("jira",),
    "jira_issue_type": ("jira",),
    "method": ("rest",),
    "path": ("rest",),
    "body": ("rest",),
    "id_field": ("rest",),
    "url_field": ("rest",),
    "url_template": ("rest",),
    "api_key_header": ("rest",),
}
_TICKET_FIELD_OPERATIONS: dict[str, tuple[str, ...]] = {
    "ticket_id": ("update", "comment", "transition"),
    "fields": ("create", "update"),
    "comment": ("comment",),
    "transition": ("transition",),
    "jira_project": ("create",),
    "jira_issue_type": ("create",),
}


class TicketParams(Params):
    system: TicketSystem = Field(
        description="servicenow and jira use their REST APIs; rest calls any ticket API "
        "with your own `method`, `path` and `body`."
    )
    operation: TicketOperation = Field(
        description="create a ticket, update its fields, add a comment, or (Jira) move it "
        "through a workflow transition."
    )
    base_url: str = template(
        min_length=1,
        description="The instance, e.g. https://acme.service-now.com or "
        "https://acme.atlassian.net, or the base URL of the REST API.",
    )
    credential: str = credential(
        ...,
        kinds=("basic", "token", "api-key"),
        description="Name of the credential for the API: basic (user and password or API "
        "token), token (sent as bearer) or api-key (ServiceNow's x-sn-apikey header; rest: "
        "`api_key_header`).",
    )
    ticket_id: str | None = template(
        None,
        description="update, comment and transition: the ticket, e.g. INC0012345 or a "
        "sys_id (ServiceNow), OPS-42 (Jira), or the id your REST API uses. rest: the "
        "output's id when the answer holds none (e.g. 204 No Content); put it in `path` "
        "yourself.",
    )
    fields: dict[str, JsonValue] = template(
        default_factory=dict,
        description="create and update: ticket fields by API name, e.g. "
        '{"short_description": "Disk full on {{ inputs.host }}", "urgency": "2"}.',
    )
    comment: str | None = template(None, description="comment: the text to add.")
    transition: str | None = Field(
        None,
        min_length=1,
        description="Jira transition: the name or id of the workflow step, e.g. Done or 31.",
    )
    servicenow_table: str = Field(
        "incident",
        pattern=r"^[a-z][a-z0-9_]{0,79}$",
        description="ServiceNow: the table, e.g. incident, change_request or sc_task.",
    )
    jira_project: str | None = Field(
        None,
        pattern=r"^[A-Z][A-Z0-9_]+$",
        description="Jira create: the project key, e.g. OPS (or give `project` in `fields`).",
    )
    jira_issue_type: str = Field(
        "Task", min_length=1, description="Jira create: the issue type, e.g. Task or Bug."
    )
    method: HttpMethod = Field("POST", description="rest: the HTTP method.")
    path: str = template(
        "",
        description="rest: appended to `base_url`, e.g. /api/tickets/{{ inputs.ticket }}.",
    )
    body: JsonValue = template(None, description="rest: the JSON body; strings are templates.")
    id_field: JsonPointer = Field(
        "/id",
        description="rest: JSON pointer to the ticket id in the response, e.g. /data/id "
        "(Redmine: /issue/id). Needed for create; update and comment fall back to "
        "`ticket_id` when the answer has no id there or is empty (e.g. 204 No Content).",
    )
    url_field: JsonPointer | None = Field(
        None, description="rest: JSON pointer to the ticket's web link in the response."
    )
    url_template: str | None = template(
        None,
        description="rest: the ticket's web link, with {id} where the ticket id goes, e.g. "
        "https://redmine.example.com/issues/{id}; one starting with / is appended to "
        "`base_url`. For APIs whose answer holds no link (else use `url_field`).",
    )
    api_key_header: HeaderName = Field(
        "X-API-Key", description="rest, api-key: the header that carries the key."
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        check_http_url(self.base_url, "base_url")
        if self.system != "jira" and (self.operation == "transition" or self.transition):
            raise ValueError(
                "transitions are Jira workflow steps; for ServiceNow set the state in "
                "`fields` with operation update, for rest describe the call in method, "
                "path and body"
            )
        if self.system != "rest":
            self._check_named_system()
        check_only_for(self, "system", _TICKET_FIELD_SYSTEMS)
        check_only_for(self, "operation", _TICKET_FIELD_OPERATIONS)
        if self.url_template is not None:
            if self.url_field is not None:
                raise ValueError("give `url_field` or `url_template`, not both")
            check_url_template(self.url_template)
        return self

    def _check_named_system(self) -> None:
        if self.operation != "create" and not self.ticket_id:
            raise ValueError(f"{self.operation} needs `ticket_id`, the ticket to change")
        if self.operation == "update" and not self.fields:
            raise ValueError("update needs `fields`, the fields to change")
        if self.operation == "comment" and not (self.comment or "").strip():
            raise ValueError("comment needs `comment`, the text to add")
        if self.operation == "transition" and self.transition is None:
            raise ValueError("transition needs `transition`, the name or id of the Jira step")
        if (
            self.system == "jira"
            and self.operation == "create"
            and self.jira_project is None
            and "project" not in self.fields
        ):
            raise ValueError("Jira create needs `jira_project` (or `project` in `fields`)")


def check_url_template(value: str) -> None:
    """A ticket link pattern: {id} somewhere, and an http(s) URL or a path from `base_url`."""
    if "{id}" not in value:
        raise ValueError(
            f"`url_template` must contain {{id}}, where the ticket id goes (it is '{value}'), "
            "e.g. https://redmine.example.com/issues/{id}"
        )
    if is_template(value) or value.startswith("/"):
        return
    try:
        check_http_url(value.replace("{id}", "1"), "url_template")
    except ValueError:
        raise ValueError(
            f"`url_template` must be an http(s) URL or a path starting with / (it is "
            f"'{value}'), e.g. https://redmine.example.com/issues/{{id}} or /issues/{{id}}"
        ) from None


def _ticket_changes_things(params: TicketParams) -> bool:
    return params.system != "rest" or params.method not in SAFE_METHODS


def _ticket_idempotent(params: TicketParams) -> bool:
    if params.system == "rest":
        return params.method in IDEMPOTENT_METHODS
    return params.operation == "update"


SPECS = [
    NodeSpec(
        type="action.email",
        category="action",
        title="Send e-mail",
        doc="Sends an e-mail through an SMTP server, encrypted with STARTTLS or TLS and "
        "logging in with a named credential when the server asks for one. Use it to "
        "notify an on-call address, send a report or tell a user their request is done.",
        icon="action-email",
        params=EmailParams,
        executor="opsflow.executors.messaging:send_email",
        ports=ACTION_PORTS,
        side_effects=True,
        idempotent=False,
    ),
    NodeSpec(
        type="action.chat",
        category="action",
        title="Chat message",
        doc="Posts a message to a Slack, Microsoft Teams or Mattermost channel through an "
        "incoming webhook whose URL is kept as a credential. Use it to announce an "
        "incident, report a finished run or ping the on-call engineer.",
        icon="action-chat",
        params=ChatParams,
        executor="opsflow.executors.messaging:send_chat",
        ports=ACTION_PORTS,
        side_effects=True,
        idempotent=False,
    ),
    NodeSpec(
        type="action.ticket",
        category="action",
        title="Ticket",
        doc="Creates, updates, comments on or transitions a ticket in ServiceNow, Jira or "
        "any REST ticketing API, and returns the ticket's id and link. Use it to open an "
        "incident when a check fails, record what a flow did, or close the ticket once "
        "the fix is verified. With system rest you describe each call (`method`, `path`, "
        "`body`): e.g. for Redmine, create is POST /issues.json with id_field /issue/id "
        "and url_template /issues/{id}, update and comment are PUT /issues/<id>.json "
        "(notes for a comment) with `ticket_id` set, since Redmine answers them with an "
        "empty 204, and the api-key goes in api_key_header X-Redmine-API-Key.",
        icon="action-ticket",
        params=TicketParams,
        executor="opsflow.executors.tickets:ticket",
        ports=ACTION_PORTS,
        side_effects=_ticket_changes_things,
        idempotent=_ticket_idempotent,
    ),
]

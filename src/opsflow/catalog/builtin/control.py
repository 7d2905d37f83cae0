"""Control nodes: pausing the run for a human approval and fanning out over a list of items.

Also owns the approval form schema, a small subset of JSON Schema the Studio can render.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from opsflow.catalog.builtin.actions_flow import FlowFile, flow_file_field
from opsflow.catalog.builtin.actions_local import check_only_for
from opsflow.catalog.builtin.actions_messaging import check_address
from opsflow.catalog.builtin.actions_remote import check_literal_host
from opsflow.catalog.fields import Params, credential, expression, kind_field, template
from opsflow.catalog.spec import NodeSpec
from opsflow.expr import is_template

MAX_APPROVAL_S = 30 * 24 * 3600
PROPERTY_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
GROUP_PREFIX = "group:"

FormType = Literal["string", "integer", "number", "boolean"]
NotifyChannel = Literal["email", "slack", "teams", "mattermost"]
NotifyMoment = Literal["request", "escalation"]
NOTIFY_MOMENTS: tuple[NotifyMoment, ...] = ("request", "escalation")
#: Fields of a notify target that only e-mail uses.
_EMAIL_ONLY = ("smtp_host", "smtp_port", "security", "from_addr")


def _matches_type(value: Any, kind: FormType) -> bool:
    if isinstance(value, bool):
        return kind == "boolean"
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float)
    return kind == "string" and isinstance(value, str)


class FormProperty(Params):
    """One answer field of an approval form, in JSON Schema terms."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: FormType = Field(description="The answer's type.")
    title: str | None = Field(None, max_length=200, description="The label shown to approvers.")
    description: str | None = Field(
        None, max_length=2000, description="Help text shown under the field."
    )
    enum: list[Any] | None = Field(
        None, min_length=1, max_length=200, description="The only allowed answers (a list)."
    )
    default: Any = Field(None, description="The answer filled in at first.")
    minimum: int | float | None = Field(None, description="Smallest allowed number.")
    maximum: int | float | None = Field(None, description="Largest allowed number.")
    min_length: int | None = Field(
        None, alias="minLength", ge=0, description="Fewest characters of a text answer."
    )
    max_length: int | None = Field(
        None, alias="maxLength", ge=0, description="Most characters of a text answer."
    )
    pattern: str | None = Field(
        None, description="A regular expression a text answer must contain a match of."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        numeric = self.type in ("integer", "number")
        if not numeric and (self.minimum is not None or self.maximum is not None):
            raise ValueError(f"minimum and maximum apply to numbers, not to {self.type}")
        if self.type != "string" and (
            self.min_length is not None or self.max_length is not None or self.pattern is not None
        ):
            raise ValueError(
                f"minLength, maxLength and pattern apply to strings, not to {self.type}"
            )
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum:g} is above maximum {self.maximum:g}")
        if (
            self.min_length is not None
            and self.max_length is not None
            and self.min_length > self.max_length
        ):
            raise ValueError(f"minLength {self.min_length} is above maxLength {self.max_length}")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(
                    f"pattern {self.pattern!r} is not a valid regular expression: {exc}"
                ) from None
        for value in self.enum or []:
            if not _matches_type(value, self.type):
                raise ValueError(f"enum value {value!r} is not of type {self.type}")
        if self.default is not None:
            self._check_default(self.default)
        return self

    def _check_default(self, value: Any) -> None:
        if not _matches_type(value, self.type):
            raise ValueError(f"default {value!r} is not of type {self.type}")
        if self.enum is not None and value not in self.enum:
            raise ValueError(f"default {value!r} is not one of the enum values")
        if self.minimum is not None and value < self.minimum:
            raise ValueError(f"default {value!r} is below minimum {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"default {value!r} is above maximum {self.maximum:g}")
        if self.min_length is not None and len(value) < self.min_length:
            raise ValueError(f"default {value!r} is shorter than minLength {self.min_length}")
        if self.max_length is not None and len(value) > self.max_length:
            raise ValueError(f"default {value!r} is longer than maxLength {self.max_length}")
        if self.pattern is not None and re.search(self.pattern, value) is None:
            raise ValueError(f"default {value!r} does not match pattern {self.pattern!r}")


class FormSchema(Params):
    """The answers an approval asks for: a JSON Schema object with flat, typed properties."""

    type: Literal["object"] = Field("object", description="Always `object`.")
    properties: dict[str, FormProperty] = Field(
        min_length=1, max_length=50, description="The form's fields, by answer name."
    )
    required: list[str] = Field(
        default_factory=list, description="Names of the fields that must be answered."
    )

    @field_validator("properties")
    @classmethod
    def _names(cls, value: dict[str, FormProperty]) -> dict[str, FormProperty]:
        for name in value:
            if not PROPERTY_NAME_PATTERN.match(name):
                raise ValueError(
                    f"'{name}' is not a valid field name; use letters, digits and '_', "
                    "starting with a letter or '_', e.g. 'change_ticket'"
                )
        return value

    @model_validator(mode="after")
    def _required_known(self) -> Self:
        for name in self.required:
            if name not in self.properties:
                raise ValueError(f"required field '{name}' is not one of the form's properties")
            if self.required.count(name) > 1:
                raise ValueError(f"required field '{name}' is listed twice")
        return self

    def to_json_schema(self) -> dict[str, Any]:
        """The form as a plain JSON Schema, to check answers with any JSON Schema validator."""
        return self.model_dump(by_alias=True, exclude_none=True)


def _principals(values: list[str], field: str) -> list[str]:
    """Strip and check user names and `group:<name>` entries; report the first bad one."""
    cleaned = [value.strip() for value in values]
    for value in cleaned:
        if not value:
            raise ValueError(f"{field} has an empty entry; remove it")
        if is_template(value):
            continue  # e.g. the requester's manager, known only when the run gets here
        if value.startswith(GROUP_PREFIX):
            if not value.removeprefix(GROUP_PREFIX).strip():
                raise ValueError(f"'{value}' names no group; write e.g. 'group:it-ops'")
        elif ":" in value or any(char.isspace() for char in value):
            raise ValueError(
                f"'{value}' is neither a user name nor 'group:<name>'; write e.g. "
                "'jdoe' or 'group:it-ops'"
            )
        if cleaned.count(value) > 1:
            raise ValueError(f"'{value}' is listed twice in {field}")
    return cleaned


class ApprovalNotify(Params):
    """Where an approval request (and its escalation) is sent, with the commands to decide."""

    channel: NotifyChannel = Field(
        description="email sends through an SMTP server; slack, teams and mattermost post to "
        "an incoming webhook."
    )
    credential: str | None = credential(
        kinds=("smtp", "basic", "token"),
        description="email: the SMTP login (smtp or basic), unset to send without logging in; "
        "chat: a token credential holding the incoming-webhook URL, which is a secret.",
    )
    to: list[str] = template(
        default_factory=list,
        max_length=100,
        description="email: recipients, one address per item. Not for chat, which posts to "
        "the webhook's own channel.",
    )
    smtp_host: str | None = template(
        None, description="email: the SMTP server, e.g. smtp.example.com."
    )
    smtp_port: int = Field(
        587,
        ge=1,
        le=65535,
        description="email: 587 for starttls, 465 for tls, 25 for a plain relay.",
    )
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description="email: starttls upgrades a plain connection, tls encrypts from the start, "
        "none sends in clear (an internal relay only).",
    )
    from_addr: str | None = template(
        None, description="email: the sender, e.g. Opsflow <opsflow@example.com>."
    )
    on: list[NotifyMoment] = Field(
        default_factory=lambda: list(NOTIFY_MOMENTS),
        min_length=1,
        description="When to send: request when the approval is asked, escalation when "
        "`escalate_to` is added.",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if len(set(self.on)) != len(self.on):
            raise ValueError("`on` lists a moment twice; give request and escalation once each")
        if self.channel == "email":
            self._check_email()
            return self
        if self.to:
            raise ValueError(
                f"`to` is for e-mail only; a {self.channel} message goes to the channel of the "
                "webhook in `credential`, so remove `to` or set channel to email"
            )
        check_only_for(self, "channel", {name: ("email",) for name in _EMAIL_ONLY})
        if self.credential is None:
            raise ValueError(
                f"`credential` is needed for {self.channel}: name a token credential holding "
                "the incoming-webhook URL"
            )
        return self

    def _check_email(self) -> None:
        if not self.to:
            raise ValueError("`to` is needed for e-mail: give at least one recipient address")
        if self.smtp_host is None or not self.smtp_host.strip():
            raise ValueError("`smtp_host` is needed for e-mail, e.g. smtp.example.com")
        if self.from_addr is None or not self.from_addr.strip():
            raise ValueError("`from_addr` is needed for e-mail, e.g. Opsflow <opsflow@example.com>")
        check_literal_host(self.smtp_host, "smtp_host")
        check_address(self.from_addr, "from_addr")
        for index, address in enumerate(self.to):
            check_address(address, f"to[{index}]")
        if self.security == "none" and self.credential is not None:
            raise ValueError(
                "security none would send the credential's password unencrypted; "
                "choose starttls or tls, or remove `credential`"
            )


class ApprovalParams(Params):
    approvers: list[str] = template(
        min_length=1,
        max_length=100,
        description="Who may decide: user names, or `group:<name>` for every member of a "
        "group; an entry may be a template, e.g. `{{ inputs.manager }}`.",
    )
    message: str = template(
        min_length=1,
        max_length=10000,
        description="What approvers read, e.g. `Restart {{ trigger.body.host }} now?`.",
    )
    form: FormSchema | None = kind_field(
        "form",
        None,
        description="Extra answers to ask for (a JSON Schema object); they become the "
        "node's output.",
    )
    timeout_s: float | None = Field(
        None,
        gt=0,
        le=MAX_APPROVAL_S,
        description="Seconds to wait before leaving through `timeout`; empty waits forever.",
    )
    escalate_after_min: float | None = Field(
        None,
        gt=0,
        description="Minutes without a decision after which `escalate_to` is asked as well.",
    )
    escalate_to: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Who is added as approver on escalation: user names or `group:<name>`.",
    )
    notify: list[ApprovalNotify] = Field(
        default_factory=list,
        max_length=20,
        description="Where to send the request and the escalation, by e-mail or chat, with "
        "the commands to decide; empty tells nobody (approvers look in the Studio or with "
        "`opsflow runs show`).",
    )

    @field_validator("approvers")
    @classmethod
    def _approvers(cls, value: list[str]) -> list[str]:
        return _principals(value, "approvers")

    @field_validator("escalate_to")
    @classmethod
    def _escalate_to(cls, value: list[str]) -> list[str]:
        return _principals(value, "escalate_to")

    @model_validator(mode="after")
    def _escalation(self) -> Self:
        if self.escalate_after_min is None and any(
            target.on == ["escalation"] for target in self.notify
        ):
            raise ValueError(
                "a notify target is sent only on escalation, but this approval never escalates; "
                "set escalate_after_min and escalate_to, or add request to its `on`"
            )
        if self.escalate_after_min is None:
            if self.escalate_to:
                raise ValueError(
                    "escalate_to takes effect only with escalate_after_min; set the minutes, "
                    "or clear escalate_to"
                )
            return self
        if not self.escalate_to:
            raise ValueError("escalate_after_min needs someone to escalate to; set 'escalate_to'")
        if self.timeout_s is not None and self.escalate_after_min * 60 >= self.timeout_s:
            raise ValueError(
                f"escalate_after_min ({self.escalate_after_min:g} min) must be less than the "
                f"timeout ({self.timeout_s:g} s), or nobody is ever escalated to"
            )
        return self


class ForeachParams(Params):
    items: str = expression(
        min_length=1,
        description="A Jinja expression giving the list to go over, e.g. "
        "`nodes.fetch.output.json.items`.",
    )
    flow: FlowFile = flow_file_field(
        "The body flow run for each item, relative to this flow's file, "
        "e.g. `steps/patch-host.flow.json`."
    )
    inputs: dict[str, Any] = template(
        {},
        description="Inputs of the body flow, by name; strings are templates that may use "
        '`item` and `index`, e.g. `{"host": "{{ item.name }}"}`.',
    )
    concurrency: int = Field(4, ge=1, le=256, description="Items run at the same time.")
    fail_fast: bool = Field(False, description="Start no new items after the first one fails.")
    max_items: int = Field(
        10000,
        ge=1,
        le=1_000_000,
        description="Fail without running anything when the list is longer than this.",
    )


SPECS = [
    NodeSpec(
        type="control.approval",
        category="control",
        title="Approval",
        doc="Pauses this branch until a person decides, then continues down `approved` or "
        "`rejected`, or down `timeout` when nobody decided in time. Approvers can answer "
        "the form's questions, and the answers are the node's output. Use it before risky "
        "changes such as a production restart, a firewall change or deleting accounts.",
        icon="control-approval",
        params=ApprovalParams,
        ports=("approved", "rejected", "timeout"),
        side_effects=False,
        idempotent=True,
        routes=True,
    ),
    NodeSpec(
        type="control.foreach",
        category="control",
        title="For each",
        doc="Runs a body flow once per item of a list, several at a time, with `item` and "
        "`index` available to its inputs. The body runs' outputs are collected in item "
        "order as `results`; it continues down `done` when all succeeded and down `error` "
        "when any failed. Use it to patch every host of a group or to disable each account "
        "on a leavers list.",
        icon="control-foreach",
        params=ForeachParams,
        ports=("done", "error"),
        side_effects=True,
        idempotent=False,
    ),
]

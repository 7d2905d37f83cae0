"""Trigger nodes: what starts a run (a person, a schedule, a webhook, a file, a poll).

Also owns the schedule arithmetic (`next_fire_times`) shared by the CLI and the runner.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from opsflow.catalog.builtin.checks import check_http_url, parse_statuses
from opsflow.catalog.fields import Params, credential, kind_field, template
from opsflow.catalog.spec import TRIGGER_PORTS, NodeSpec

#: The cron aliases we accept, with what they stand for.
CRON_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
}
KIB = 1024
MIB = 1024 * KIB
WEBHOOK_PATH_PATTERN = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")
HEADER_NAME_PATTERN = r"^[A-Za-z0-9-]{1,100}$"
#: Keywords that constrain a JSON document; a body schema needs at least one of them.
SCHEMA_CONSTRAINTS = frozenset(
    {"type", "properties", "required", "items", "enum", "const", "$ref"}
    | {"anyOf", "oneOf", "allOf", "not", "if", "additionalProperties", "patternProperties"}
)
JSON_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})


class ManualParams(Params):
    confirm: bool = Field(
        False, description="Ask “are you sure?” before starting, for flows that change things."
    )
    confirm_message: str = Field(
        "Run this flow now?",
        min_length=1,
        max_length=500,
        description="The question shown when `confirm` is on (plain text).",
    )


class ScheduleParams(Params):
    cron: str = kind_field(
        "cron",
        description="When to run: a 5-field cron expression (minute hour day month weekday), "
        "e.g. `0 6 * * mon-fri`, or @hourly, @daily, @weekly, @monthly, @yearly.",
        min_length=1,
        max_length=200,
    )
    timezone: str = Field(
        "UTC", description="The IANA time zone the cron expression is read in, e.g. Europe/Berlin."
    )
    catch_up: bool = Field(False, description="Run missed fires after the scheduler was stopped.")
    max_catch_up: int = Field(
        1, ge=1, le=100, description="With `catch_up`, run at most this many missed fires."
    )

    @field_validator("cron")
    @classmethod
    def _cron_valid(cls, value: str) -> str:
        expr = " ".join(value.split())
        example = "e.g. '30 2 * * *' for 02:30 every day, or '@daily'"
        if expr.startswith("@"):
            if expr not in CRON_ALIASES:
                raise ValueError(
                    f"'{value}' is not a known alias; use one of {', '.join(CRON_ALIASES)}"
                )
            return expr
        from croniter import croniter  # only where cron expressions are checked or used

        if len(expr.split()) != 5:
            raise ValueError(
                f"'{value}' has {len(expr.split())} fields; a cron expression has 5 "
                f"(minute hour day month weekday), {example}"
            )
        if not croniter.is_valid(expr):
            raise ValueError(f"'{value}' is not a valid cron expression; {example}")
        if not croniter.is_valid(expr, strict=True):
            raise ValueError(
                f"'{value}' never fires: that day does not occur in the chosen months; "
                "fix the day or month field"
            )
        return expr

    @field_validator("timezone")
    @classmethod
    def _zone_known(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"'{value}' is not a known time zone; use an IANA name such as "
                "'Europe/Berlin', 'America/New_York' or 'UTC'"
            ) from None
        return value


def next_fire_times(params: ScheduleParams, start: datetime, count: int) -> list[datetime]:
    """The next `count` fire times strictly after `start`, in the schedule's time zone.

    Daylight-saving changes follow cron's habit: a time skipped when clocks go
    forward fires right after the jump; when clocks go back, a schedule with a
    fixed hour fires once per local time, while one whose hour field is `*`
    follows elapsed time and fires in both passes of the repeated hour.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware, e.g. datetime.now(timezone.utc)")
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    from croniter import croniter  # only where cron expressions are checked or used

    expr = CRON_ALIASES.get(params.cron, params.cron)
    fixed_hour = expr.split()[1] != "*"
    iterator = croniter(expr, start.astimezone(ZoneInfo(params.timezone)))
    times: list[datetime] = []
    while len(times) < count:
        moment: datetime = iterator.get_next(datetime)
        if fixed_hour and _in_repeated_hour(moment):
            continue
        times.append(moment)
    return times


def _in_repeated_hour(moment: datetime) -> bool:
    """Whether a local time is the second of two equal wall-clock times (clocks went back)."""
    first = moment.replace(fold=0).utcoffset()
    second = moment.replace(fold=1).utcoffset()
    return first != second and moment.utcoffset() == second


class WebhookParams(Params):
    path: str = Field(
        max_length=200,
        description="The URL path the webhook listens on, e.g. `/alerts/disk-full`.",
    )
    method: Literal["POST", "PUT", "PATCH", "GET", "DELETE"] = Field(
        "POST", description="The HTTP method callers use."
    )
    auth: Literal["bearer", "hmac", "none"] = Field(
        "bearer",
        description="`bearer`: callers send `Authorization: Bearer <secret>`; `hmac`: callers "
        "sign the body with the secret; `none`: anyone who can reach the port may start runs.",
    )
    credential: str | None = credential(
        kinds=("token", "api-key"),
        description="The shared secret callers must prove they know (not needed for `none`).",
    )
    signature_header: str = Field(
        "X-Opsflow-Signature-256",
        pattern=HEADER_NAME_PATTERN,
        description="With `hmac`: the header holding `sha256=<hex HMAC of the body>`.",
    )
    max_body_bytes: int = Field(
        MIB, ge=KIB, le=64 * MIB, description="Larger bodies are refused with 413, starting no run."
    )
    body_schema: dict[str, Any] | None = Field(
        None,
        description="A JSON Schema the JSON body must match; a body that does not is "
        "refused with 400 (naming the field) and starts no run.",
    )
    respond_with_run_id: bool = Field(
        True,
        description="Answer 202 with the new run's id; when off, answer 202 with "
        '{"accepted": true}.',
    )

    @field_validator("path")
    @classmethod
    def _path_url_safe(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"'{value}' must start with '/', e.g. '/alerts/disk-full'")
        if not WEBHOOK_PATH_PATTERN.match(value):
            raise ValueError(
                f"'{value}' may use only letters, digits and - _ . ~ between single '/', "
                "with no '/' at the end, e.g. '/alerts/disk-full'"
            )
        if any(part in (".", "..") for part in value.split("/")):
            raise ValueError(f"'{value}' must not contain '.' or '..' as a path segment")
        return value

    @field_validator("body_schema")
    @classmethod
    def _looks_like_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # Besides being a valid JSON Schema (checked against its meta-schema), it must
        # constrain something: an example body pasted instead of a schema is "valid"
        # but accepts everything, so it is refused with a sentence saying so.
        if value is None:
            return None
        if not SCHEMA_CONSTRAINTS & value.keys():
            raise ValueError(
                "body_schema has none of the JSON Schema keywords (type, properties, required, "
                "...); it looks like an example body. Write a schema, e.g. "
                '{"type": "object", "required": ["host"]}, or remove body_schema'
            )
        types = value.get("type")
        for name in types if isinstance(types, list) else [types]:
            if name is not None and name not in JSON_TYPES:
                raise ValueError(
                    f"body_schema type {name!r} is not a JSON type; use one of "
                    f"{', '.join(sorted(JSON_TYPES))}"
                )
        import jsonschema  # only for flows whose webhooks check their bodies

        try:
            jsonschema.validators.validator_for(value).check_schema(value)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(part) for part in exc.path) or "the top level"
            message = f"body_schema is not a valid JSON Schema at {where}: {exc.message}"
            raise ValueError(message) from None
        return value

    @model_validator(mode="after")
    def _auth_needs_secret(self) -> Self:
        if self.auth == "none" and self.credential is not None:
            raise ValueError(
                "auth 'none' does not check 'credential'; choose 'bearer' or 'hmac', "
                "or clear 'credential'"
            )
        if self.auth != "none" and self.credential is None:
            raise ValueError(
                f"auth '{self.auth}' needs a credential of kind token or api-key; set 'credential'"
            )
        if self.method == "GET" and self.body_schema is not None:
            raise ValueError("a GET request carries no body; use POST, or remove 'body_schema'")
        return self


FileEvent = Literal["created", "modified", "deleted", "moved"]


class FileParams(Params):
    folder: str = kind_field(
        "path", min_length=1, description="The folder to watch, e.g. `D:\\Drop\\invoices`."
    )
    glob: str = Field(
        "*", min_length=1, max_length=200, description="File names to watch, e.g. `*.csv`."
    )
    events: list[FileEvent] = Field(
        ["created"], min_length=1, description="Changes that start a run."
    )
    recursive: bool = Field(False, description="Also watch the folders inside `folder`.")
    debounce_s: float = Field(
        2.0,
        ge=0,
        le=3600,
        description="Wait until a file has been quiet this long, so a file still being "
        "written starts one run, not many.",
    )

    @field_validator("glob")
    @classmethod
    def _glob_is_a_name(cls, value: str) -> str:
        if "/" in value or "\\" in value:
            raise ValueError(
                f"'{value}' contains a folder separator; the pattern matches file names only. "
                "Turn on 'recursive' to include subfolders"
            )
        return value

    @field_validator("events")
    @classmethod
    def _events_unique(cls, value: list[str]) -> list[str]:
        for event in set(value):
            if value.count(event) > 1:
                raise ValueError(f"event '{event}' is listed twice")
        return value


class PollParams(Params):
    url: str = template(
        min_length=1,
        max_length=2000,
        description="The http(s) URL to check, e.g. `https://intranet.example.com/health`.",
    )
    interval_s: float = Field(60, ge=5, le=86400, description="Seconds between checks.")
    timeout_s: float = Field(
        10, gt=0, le=300, description="A check not answered within this counts as failed."
    )
    healthy_statuses: str = Field(
        "200-399", max_length=200, description="HTTP statuses that count as up, e.g. `200-299,304`."
    )
    fire_on: Literal["down", "up", "change"] = Field(
        "down", description="Start a run when the target goes down, comes back up, or either."
    )
    failures_before_down: int = Field(
        1, ge=1, le=100, description="Failed checks in a row before the target counts as down."
    )
    verify_tls: bool = Field(
        True, description="Check the server's certificate; turn off only for lab systems."
    )
    credential: str | None = credential(
        kinds=("basic", "token", "api-key"),
        description="Optional credential sent with each check.",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        check_http_url(value, "url")
        return value

    @field_validator("healthy_statuses")
    @classmethod
    def _statuses_parse(cls, value: str) -> str:
        parse_statuses(value)
        return value

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> Self:
        if self.timeout_s >= self.interval_s:
            raise ValueError(
                f"timeout_s ({self.timeout_s:g}) must be shorter than interval_s "
                f"({self.interval_s:g}) so a check ends before the next starts"
            )
        return self

    def is_healthy(self, status: int) -> bool:
        return any(low <= status <= high for low, high in parse_statuses(self.healthy_statuses))


SPECS = [
    NodeSpec(
        type="trigger.manual",
        category="trigger",
        title="Manual",
        doc="Starts a run when a person runs the flow from the Studio or with `opsflow run`, "
        "asking first for the flow's declared inputs. Use it for run books that an operator "
        "starts by hand, such as onboarding a user or failing over a database.",
        icon="trigger-manual",
        params=ManualParams,
        ports=TRIGGER_PORTS,
        side_effects=False,
        idempotent=True,
    ),
    NodeSpec(
        type="trigger.schedule",
        category="trigger",
        title="Schedule",
        doc="Starts a run at the times given by a cron expression, read in a chosen time "
        "zone. Use it for nightly backups, weekly patch reports or a check every five minutes.",
        icon="trigger-schedule",
        params=ScheduleParams,
        ports=TRIGGER_PORTS,
        side_effects=False,
        idempotent=True,
    ),
    NodeSpec(
        type="trigger.webhook",
        category="trigger",
        title="Webhook",
        doc="Starts a run when an HTTP request arrives on its path, with the request's body, "
        "headers and query as `trigger`. Use it to react to alerts from monitoring, "
        "events from a ticketing system or a button in a chat tool.",
        icon="trigger-webhook",
        params=WebhookParams,
        ports=TRIGGER_PORTS,
        side_effects=False,
        idempotent=True,
    ),
    NodeSpec(
        type="trigger.file",
        category="trigger",
        title="File watch",
        doc="Starts a run when files matching a pattern appear, change, move or disappear in "
        "a folder, with the file's path as `trigger.path`. Use it to process exports dropped "
        "by another system or to react to a new certificate in a share.",
        icon="trigger-file",
        params=FileParams,
        ports=TRIGGER_PORTS,
        side_effects=False,
        idempotent=True,
    ),
    NodeSpec(
        type="trigger.poll",
        category="trigger",
        title="HTTP poll",
        doc="Checks a URL at a fixed interval and starts a run when the target goes down, "
        "comes back up, or either, judged by its HTTP status. Use it as a simple uptime "
        "monitor that restarts a service or opens a ticket when a health check fails.",
        icon="trigger-poll",
        params=PollParams,
        ports=TRIGGER_PORTS,
        side_effects=False,
        idempotent=True,
    ),
]

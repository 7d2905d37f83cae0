"""The trigger node types: their parameters' rules and the schedule arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel

from opsflow.catalog.builtin import triggers
from opsflow.catalog.builtin.checks import parse_statuses
from opsflow.catalog.builtin.triggers import (
    ScheduleParams,
    next_fire_times,
)
from opsflow.catalog.fields import field_kind, walk_strings
from opsflow.catalog.spec import TRIGGER_PORTS
from tests.catalog.helpers import rejection

BERLIN = ZoneInfo("Europe/Berlin")
SPECS = {spec.type: spec for spec in triggers.SPECS}


def params_model(type_id: str) -> type[BaseModel]:
    return SPECS[type_id].params


def rejection_of(type_id: str, data: dict[str, Any]) -> str:
    return rejection(params_model(type_id), data)


def test_every_trigger_is_a_side_effect_free_trigger() -> None:
    assert set(SPECS) == {
        "trigger.manual",
        "trigger.schedule",
        "trigger.webhook",
        "trigger.file",
        "trigger.poll",
    }
    for spec in SPECS.values():
        assert spec.category == "trigger"
        assert spec.ports == TRIGGER_PORTS
        assert spec.version == 1
        assert spec.icon == spec.type.replace(".", "-")
        assert not spec.has_side_effects() and spec.is_idempotent()
        for name, info in spec.params.model_fields.items():
            assert info.description, f"{spec.type}.{name} has no description"


MINIMAL = {
    "trigger.manual": {},
    "trigger.schedule": {"cron": "0 6 * * mon-fri"},
    "trigger.webhook": {"path": "/alerts/disk-full", "credential": "alert-token"},
    "trigger.file": {"folder": "/srv/drop"},
    "trigger.poll": {"url": "https://intranet.example.com/health"},
}
FULL = {
    "trigger.manual": {"confirm": True, "confirm_message": "Fail over the database?"},
    "trigger.schedule": {
        "cron": "*/15 8-18 * * 1-5",
        "timezone": "Europe/Berlin",
        "catch_up": True,
        "max_catch_up": 3,
    },
    "trigger.webhook": {
        "path": "/hooks/grafana.v2/disk_full~x",
        "method": "PUT",
        "auth": "hmac",
        "credential": "grafana-secret",
        "signature_header": "X-Hub-Signature-256",
        "max_body_bytes": 4096,
        "body_schema": {
            "type": "object",
            "properties": {"host": {"type": "string"}},
            "required": ["host"],
        },
        "respond_with_run_id": False,
    },
    "trigger.file": {
        "folder": "D:\\Drop\\invoices",
        "glob": "*.csv",
        "events": ["created", "moved"],
        "recursive": True,
        "debounce_s": 0,
    },
    "trigger.poll": {
        "url": "{{ inputs.base_url }}/health",
        "interval_s": 30,
        "timeout_s": 5,
        "healthy_statuses": "200-299, 304",
        "fire_on": "change",
        "failures_before_down": 3,
        "verify_tls": False,
        "credential": "monitor-basic",
    },
}


@pytest.mark.parametrize("type_id", sorted(MINIMAL))
def test_minimal_params_validate(type_id: str) -> None:
    params_model(type_id).model_validate(MINIMAL[type_id])


@pytest.mark.parametrize("type_id", sorted(FULL))
def test_full_params_validate_and_round_trip(type_id: str) -> None:
    model = params_model(type_id)
    params = model.model_validate(FULL[type_id])
    assert model.model_validate(params.model_dump()) == params


@pytest.mark.parametrize(
    ("type_id", "data", "expected"),
    [
        ("trigger.manual", {"confirm_message": ""}, "at least 1 character"),
        ("trigger.manual", {"prompt": "x"}, "Extra inputs are not permitted"),
        ("trigger.schedule", {"cron": "0 0 * * * *"}, "has 6 fields; a cron expression has 5"),
        ("trigger.schedule", {"cron": "0 6 * *"}, "has 4 fields"),
        ("trigger.schedule", {"cron": "0 25 * * *"}, "'0 25 * * *' is not a valid cron"),
        ("trigger.schedule", {"cron": "every day"}, "e.g. '30 2 * * *'"),
        ("trigger.schedule", {"cron": "@reboot"}, "not a known alias; use one of @hourly"),
        ("trigger.schedule", {"cron": "0 0 30 2 *"}, "never fires"),
        ("trigger.schedule", {"cron": "@daily", "timezone": "Europe/Munich"}, "Europe/Berlin"),
        ("trigger.schedule", {"cron": "@daily", "timezone": "../etc"}, "'../etc' is not a known"),
        ("trigger.schedule", {"cron": "@daily", "max_catch_up": 0}, "greater than or equal to 1"),
        ("trigger.schedule", {"cron": "@daily", "max_catch_up": 101}, "less than or equal to 100"),
        ("trigger.webhook", {"path": "alerts", "auth": "none"}, "must start with '/'"),
        ("trigger.webhook", {"path": "/a b", "auth": "none"}, "only letters, digits"),
        ("trigger.webhook", {"path": "/a//b", "auth": "none"}, "between single '/'"),
        ("trigger.webhook", {"path": "/a/", "auth": "none"}, "no '/' at the end"),
        ("trigger.webhook", {"path": "/a/../b", "auth": "none"}, "'.' or '..'"),
        ("trigger.webhook", {"path": "/" + "a" * 200, "auth": "none"}, "at most 200"),
        ("trigger.webhook", {"path": "/a", "method": "HEAD", "auth": "none"}, "'POST'"),
        ("trigger.webhook", {"path": "/a"}, "auth 'bearer' needs a credential of kind token"),
        ("trigger.webhook", {"path": "/a", "auth": "hmac"}, "auth 'hmac' needs a credential"),
        (
            "trigger.webhook",
            {"path": "/a", "auth": "none", "credential": "t"},
            "auth 'none' does not check 'credential'",
        ),
        (
            "trigger.webhook",
            {"path": "/a", "credential": "t", "signature_header": "X Sig"},
            "should match pattern",
        ),
        ("trigger.webhook", {"path": "/a", "credential": "t", "max_body_bytes": 1023}, "1024"),
        (
            "trigger.webhook",
            {"path": "/a", "credential": "t", "max_body_bytes": 64 * 1024 * 1024 + 1},
            "less than or equal to 67108864",
        ),
        (
            "trigger.webhook",
            {"path": "/a", "credential": "t", "body_schema": {"host": "web01"}},
            "looks like an example body",
        ),
        (
            "trigger.webhook",
            {"path": "/a", "credential": "t", "body_schema": {"type": "dict"}},
            "type 'dict' is not a JSON type",
        ),
        (
            "trigger.webhook",
            {"path": "/a", "credential": "t", "body_schema": {"properties": ["host"]}},
            "not a valid JSON Schema at properties: ['host'] is not of type 'object'",
        ),
        (
            "trigger.webhook",
            {"path": "/a", "credential": "t", "body_schema": {"type": "object", "minItems": -1}},
            "not a valid JSON Schema at minItems",
        ),
        (
            "trigger.webhook",
            {"path": "/a", "credential": "t", "method": "GET", "body_schema": {"type": "object"}},
            "a GET request carries no body",
        ),
        ("trigger.file", {}, "Field required"),
        ("trigger.file", {"folder": ""}, "at least 1 character"),
        ("trigger.file", {"folder": "/srv", "glob": "in/*.csv"}, "contains a folder separator"),
        ("trigger.file", {"folder": "/srv", "events": []}, "at least 1 item"),
        ("trigger.file", {"folder": "/srv", "events": ["renamed"]}, "'created'"),
        (
            "trigger.file",
            {"folder": "/srv", "events": ["created", "deleted", "created"]},
            "event 'created' is listed twice",
        ),
        ("trigger.file", {"folder": "/srv", "debounce_s": -1}, "greater than or equal to 0"),
        ("trigger.file", {"folder": "/srv", "debounce_s": 3601}, "less than or equal to 3600"),
        ("trigger.poll", {"url": "ftp://example.com/x"}, "give a full http:// or https:// URL"),
        ("trigger.poll", {"url": "intranet/health"}, "give a full http:// or https:// URL"),
        ("trigger.poll", {"url": "https://x", "interval_s": 4}, "greater than or equal to 5"),
        ("trigger.poll", {"url": "https://x", "interval_s": 86401}, "less than or equal to 86400"),
        ("trigger.poll", {"url": "https://x", "timeout_s": 0}, "greater than 0"),
        ("trigger.poll", {"url": "https://x", "timeout_s": 301}, "less than or equal to 300"),
        (
            "trigger.poll",
            {"url": "https://x", "interval_s": 10, "timeout_s": 10},
            "timeout_s (10) must be shorter than interval_s (10)",
        ),
        ("trigger.poll", {"url": "https://x", "healthy_statuses": "2xx"}, "'2xx' in '2xx'"),
        ("trigger.poll", {"url": "https://x", "healthy_statuses": ""}, "not a status or a range"),
        (
            "trigger.poll",
            {"url": "https://x", "healthy_statuses": "200-299,,304"},
            "'' in '200-299,,304' is not a status",
        ),
        ("trigger.poll", {"url": "https://x", "healthy_statuses": "200-700"}, "100 to 599"),
        ("trigger.poll", {"url": "https://x", "healthy_statuses": "299-200"}, "low before high"),
        ("trigger.poll", {"url": "https://x", "fire_on": "flap"}, "'down', 'up' or 'change'"),
        ("trigger.poll", {"url": "https://x", "failures_before_down": 0}, "greater than or"),
    ],
)
def test_bad_params_are_rejected_with_a_reason(
    type_id: str, data: dict[str, Any], expected: str
) -> None:
    assert expected in rejection_of(type_id, data)


def test_schedule_cron_is_normalised_and_tagged() -> None:
    params = ScheduleParams.model_validate({"cron": "  0  6 * *   mon-fri "})
    assert params.cron == "0 6 * * mon-fri"
    assert field_kind(ScheduleParams, "cron") == "cron"


def test_poll_statuses_parse_and_decide_health() -> None:
    assert parse_statuses("200-299, 304") == [(200, 299), (304, 304)]
    params = params_model("trigger.poll").model_validate(FULL["trigger.poll"])
    assert isinstance(params, triggers.PollParams)
    assert params.is_healthy(204) and params.is_healthy(304)
    assert not params.is_healthy(302) and not params.is_healthy(503)


def test_walk_strings_reports_kinded_fields() -> None:
    webhook = params_model("trigger.webhook").model_validate(FULL["trigger.webhook"])
    assert walk_strings(webhook) == [("credential", "grafana-secret", "credential")]
    poll = params_model("trigger.poll").model_validate(FULL["trigger.poll"])
    assert walk_strings(poll) == [
        ("url", "{{ inputs.base_url }}/health", "template"),
        ("credential", "monitor-basic", "credential"),
    ]
    schedule = params_model("trigger.schedule").model_validate(FULL["trigger.schedule"])
    assert walk_strings(schedule) == [("cron", "*/15 8-18 * * 1-5", "cron")]
    file = params_model("trigger.file").model_validate(FULL["trigger.file"])
    assert walk_strings(file) == [("folder", "D:\\Drop\\invoices", "path")]


def schedule(cron: str, timezone: str = "Europe/Berlin") -> ScheduleParams:
    return ScheduleParams.model_validate({"cron": cron, "timezone": timezone})


def test_next_fire_times_are_after_start_in_the_schedule_zone() -> None:
    start = datetime(2024, 1, 5, 5, 0, tzinfo=UTC)  # a Friday, 06:00 in Berlin
    times = next_fire_times(schedule("0 6 * * mon-fri"), start, 3)
    assert times == [
        datetime(2024, 1, 8, 6, 0, tzinfo=BERLIN),
        datetime(2024, 1, 9, 6, 0, tzinfo=BERLIN),
        datetime(2024, 1, 10, 6, 0, tzinfo=BERLIN),
    ]
    assert all(moment.tzinfo == BERLIN for moment in times)
    assert next_fire_times(schedule("@daily", "UTC"), start, 1) == [
        datetime(2024, 1, 6, tzinfo=UTC)
    ]
    assert next_fire_times(schedule("@hourly"), start, 0) == []


def test_next_fire_times_keep_local_time_across_the_spring_change() -> None:
    # Berlin went from 02:00 CET to 03:00 CEST on 2024-03-31.
    start = datetime(2024, 3, 29, 12, 0, tzinfo=BERLIN)
    times = next_fire_times(schedule("0 9 * * *"), start, 3)
    assert [t.hour for t in times] == [9, 9, 9]
    assert [t.utcoffset() for t in times] == [timedelta(hours=1)] + [timedelta(hours=2)] * 2
    # 02:30 does not exist that night; the run happens right after the jump.
    skipped = next_fire_times(
        schedule("30 2 * * *"), datetime(2024, 3, 30, 12, 0, tzinfo=BERLIN), 2
    )
    assert [t.astimezone(UTC) for t in skipped] == [
        datetime(2024, 3, 31, 1, 0, tzinfo=UTC),
        datetime(2024, 4, 1, 0, 30, tzinfo=UTC),
    ]


def test_next_fire_times_across_the_autumn_change() -> None:
    # Berlin went from 03:00 CEST back to 02:00 CET on 2024-10-27, so 02:30 happened twice.
    start = datetime(2024, 10, 26, 12, 0, tzinfo=BERLIN)
    daily = next_fire_times(schedule("30 2 * * *"), start, 2)
    assert [t.astimezone(UTC) for t in daily] == [
        datetime(2024, 10, 27, 0, 30, tzinfo=UTC),  # the first 02:30 (CEST) only
        datetime(2024, 10, 28, 1, 30, tzinfo=UTC),
    ]
    hourly = next_fire_times(schedule("@hourly"), datetime(2024, 10, 27, 0, 30, tzinfo=UTC), 3)
    assert [t.astimezone(UTC).hour for t in hourly] == [1, 2, 3]  # elapsed time: every hour


def test_next_fire_times_refuses_a_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_fire_times(schedule("@daily"), datetime(2024, 1, 1), 1)

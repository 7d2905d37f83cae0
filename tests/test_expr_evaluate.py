"""Rendering templates and evaluating expressions over a realistic run context."""

from __future__ import annotations

from typing import Any

import pytest

from opsflow.catalog.builtin.actions_local import ScriptParams, ShellParams
from opsflow.catalog.builtin.actions_remote import HttpParams
from opsflow.catalog.builtin.control import ApprovalParams, ForeachParams
from opsflow.catalog.fields import render_params
from opsflow.expr import (
    CONTEXT_NAMES,
    ExpressionError,
    build_context,
    evaluate_expression,
    render_template,
)

#: What Alertmanager posts to a webhook receiver, trimmed; one summary carries template syntax.
ALERTMANAGER_BODY = {
    "version": "4",
    "status": "firing",
    "receiver": "opsflow",
    "groupKey": '{}:{alertname="DiskFull"}',
    "commonLabels": {"alertname": "DiskFull", "severity": "critical"},
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "instance": "web-01:9100", "mountpoint": "/var"},
            "annotations": {"summary": "{{ 7*7 }} {% for x in range(9) %}{{ x }}{% endfor %}"},
            "startsAt": "2024-05-01T10:00:00Z",
        },
        {
            "status": "firing",
            "labels": {"alertname": "DiskFull", "instance": "web-02:9100", "mountpoint": "/"},
            "annotations": {"summary": "Disk / is 91% full"},
            "startsAt": "2024-05-01T10:02:00Z",
        },
    ],
}


@pytest.fixture
def context() -> dict[str, Any]:
    return build_context(
        trigger={"body": ALERTMANAGER_BODY, "headers": {"content-type": "application/json"}},
        inputs={"port": 8080, "service": "nginx", "env": "prod", "note": "; rm -rf ~"},
        nodes={
            "check": {"output": {"status": 503, "headers": {"server": "nginx"}, "body": "down"}},
            "fetch": {
                "output": {
                    "status": 200,
                    "json": {"items": [{"name": "web-01"}, {"name": "web-02"}], "count": 2},
                }
            },
            "df": {"output": {"stdout": '{"free_gb": 3.5, "mount": "/var"}\n', "exit_code": 0}},
        },
        vars={"threshold": 90, "manager": "jdoe"},
        run={"id": "run-0001", "flow": "disk-full"},
    )


def test_string_templates_render_to_text(context: dict[str, Any]) -> None:
    source = "Disk full on {{ trigger.body.alerts[0].labels.instance }} ({{ inputs.env }})"
    assert render_template(source, context) == "Disk full on web-01:9100 (prod)"
    assert render_template("port {{ inputs.port }}", context) == "port 8080"
    loop = "{% for a in trigger.body.alerts %}{{ a.labels.mountpoint }};{% endfor %}"
    assert render_template(loop, context) == "/var;/;"


def test_a_lone_block_gives_the_native_value(context: dict[str, Any]) -> None:
    assert render_template("{{ nodes.fetch.output.json.items }}", context) == [
        {"name": "web-01"},
        {"name": "web-02"},
    ]
    assert render_template("  {{ inputs.port }}\n", context) == 8080
    assert render_template("{{ nodes.fetch.output.json.count }}", context) == 2
    assert render_template("{{ nodes.check.output.status >= 500 }}", context) is True
    assert render_template("{{ trigger.body.alerts | map(attribute='status') }}", context) == [
        "firing",
        "firing",
    ]
    assert render_template("{{ inputs.port }} ", context) == 8080
    assert render_template("{{ inputs.port }}{{ inputs.port }}", context) == "80808080"


def test_plain_strings_come_back_untouched(context: dict[str, Any]) -> None:
    plain = "systemctl restart nginx; echo {not a template} " + "x" * 2_000_000
    assert render_template(plain, context) is plain


def test_text_keeps_its_trailing_newline(context: dict[str, Any]) -> None:
    assert render_template("a {{ inputs.service }}\n", context) == "a nginx\n"
    assert render_template("{{ inputs.service }}\n", context) == "nginx"  # a lone block: the value


def test_filters(context: dict[str, Any]) -> None:
    assert render_template("{{ (nodes.df.output.stdout | fromjson).free_gb }}", context) == 3.5
    assert render_template("{{ inputs.missing | default('none') }}", context) == "none"
    assert render_template("{{ trigger.body.commonLabels | tojson }}", context) == (
        '{"alertname": "DiskFull", "severity": "critical"}'
    )
    hosts = "{{ nodes.fetch.output.json['items'] | map(attribute='name') | join(', ') }}"
    assert render_template(hosts, context) == "web-01, web-02"
    assert render_template("{{ inputs.service | upper }}-{{ range(3) | sum }}", context) == (
        "NGINX-3"
    )
    assert render_template("{{ 'a-b'.split('-') }}", context) == ["a", "b"]


def test_conditions(context: dict[str, Any]) -> None:
    assert evaluate_expression("nodes.check.output.status != 200", context) is True
    assert evaluate_expression("trigger.body.status == 'firing' and inputs.env == 'prod'", context)
    assert evaluate_expression("nodes.check.output.status in [500, 502, 503]", context)
    assert evaluate_expression("(nodes.df.output.stdout | fromjson).free_gb < 5", context)
    assert evaluate_expression("nodes.fetch.output.json.items | length", context) == 2
    assert evaluate_expression("trigger.body.nope is defined", context) is False
    assert evaluate_expression("trigger.body.alerts[1].labels", context) == {
        "alertname": "DiskFull",
        "instance": "web-02:9100",
        "mountpoint": "/",
    }


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "nodes.check.output.statuz != 200",
            "nodes.check.output.statuz is undefined: node 'check' has no such value",
        ),
        ("nodes.check.output.statuz != 200", "nodes.check.output has body, headers, status"),
        ("nodes.restart.output.ok", "nodes.restart is undefined: node 'restart' has no result"),
        ("nodes.check.status", "read a node's result as nodes.check.output"),
        ("trigger.body.alerts[0].labels.host == 'x'", r"trigger.body.alerts\[0\].labels.host is"),
        ("inputs.prot + 1", "inputs.prot is undefined; inputs has env, note, port, service"),
        ("hostname", "'hostname' is undefined; expressions read"),
        ("item.name", "'item' is undefined: it exists only for the items of a for-each node"),
        ("nodes.check.output.status.code", "int value has no attribute 'code'"),
    ],
)
def test_undefined_names_are_errors_naming_the_path(
    context: dict[str, Any], source: str, message: str
) -> None:
    with pytest.raises(ExpressionError, match=message):
        evaluate_expression(source, context)


def test_undefined_inside_a_loop_names_the_item(context: dict[str, Any]) -> None:
    source = "{% for a in trigger.body.alerts %}\n{{ a.labels.hostname }}{% endfor %}"
    with pytest.raises(ExpressionError, match=r"trigger.body.alerts\[0\].labels.hostname") as err:
        render_template(source, context)
    assert err.value.line == 2


def test_syntax_errors_are_expression_errors(context: dict[str, Any]) -> None:
    with pytest.raises(ExpressionError, match="syntax error"):
        render_template("{{ inputs.port ", context)
    with pytest.raises(ExpressionError, match="no filter named 'shout'"):
        render_template("{{ inputs.service | shout }}", context)
    with pytest.raises(ExpressionError, match=r"without \{\{ \}\}"):
        evaluate_expression("{{ inputs.port }}", context)


def test_outside_data_is_never_evaluated_again(context: dict[str, Any]) -> None:
    summary = ALERTMANAGER_BODY["alerts"][0]["annotations"]["summary"]  # type: ignore[index]
    path = "trigger.body.alerts[0].annotations.summary"
    assert render_template("{{ " + path + " }}", context) == summary
    assert render_template("Summary: {{ " + path + " }}", context) == f"Summary: {summary}"
    assert evaluate_expression(path, context) == summary
    rendered = render_template("{{ trigger.body }}", context)
    assert rendered == ALERTMANAGER_BODY
    assert rendered is not ALERTMANAGER_BODY  # a copy: the run's data cannot be changed through it


def test_build_context_holds_only_the_context_names() -> None:
    plain = build_context(trigger={}, inputs={}, nodes={}, vars={}, run={})
    assert set(plain) == CONTEXT_NAMES - {"item", "index"}
    each = build_context(trigger={}, inputs={}, nodes={}, vars={}, run={}, item="a", index=0)
    assert set(each) == CONTEXT_NAMES
    assert render_template("{{ index }}: {{ item }}", each) == "0: a"
    with pytest.raises(ValueError, match="'output' key"):
        build_context(trigger={}, inputs={}, nodes={"a": 1}, vars={}, run={})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="build_context"):
        render_template("{{ secrets.token }}", {**plain, "secrets": {"token": "s3cr3t"}})


def test_compiled_sources_are_cached(context: dict[str, Any]) -> None:
    from opsflow.expr.evaluate import _compile

    source = "cache {{ inputs.port + 1 }} {{ run.id }}"
    render_template(source, context)
    hits = _compile.cache_info().hits
    assert render_template(source, context) == "cache 8081 run-0001"
    assert _compile.cache_info().hits == hits + 1


# --- render_params over the catalog's own params models ----------------------


def test_shell_argv_items_are_rendered_one_by_one(context: dict[str, Any]) -> None:
    params = ShellParams(
        command=["logger", "-t", "{{ inputs.service }}", "{{ inputs.note }}", "x{{ inputs.note }}"],
        env={"PORT": "{{ inputs.port }}", "MODE": "fixed"},
        cwd="/srv/{{ inputs.service }}",
    )
    rendered = render_params(params, context)
    assert rendered["command"] == ["logger", "-t", "nginx", "; rm -rf ~", "x; rm -rf ~"]
    assert rendered["env"] == {"PORT": 8080, "MODE": "fixed"}
    assert rendered["cwd"] == "/srv/nginx"
    assert rendered["success_exit_codes"] == [0] and rendered["shell"] is False


def test_script_bodies_are_never_templated(context: dict[str, Any]) -> None:
    body = 'echo "{{ 7*7 }} $1"\nfor f in {a,b}; do echo "$f"; done\n'
    params = ScriptParams(language="bash", body=body, args=["{{ inputs.service }}"])
    rendered = render_params(params, context)
    assert rendered["body"] == body
    assert rendered["args"] == ["nginx"]


def test_http_params_keep_credential_names_and_body_shape(context: dict[str, Any]) -> None:
    params = HttpParams(
        method="POST",
        url="https://api.example.com/hosts/{{ nodes.fetch.output.json['items'][0].name }}",
        headers={"X-Run": "{{ run.id }}"},
        body_type="json",
        body={
            "host": "{{ trigger.body.alerts[0].labels.instance }}",
            "count": 3,
            "tags": ["{{ inputs.env }}", "literal", {"severity": "{{ trigger.body.status }}"}],
        },
        auth="bearer",
        credential="pagerduty-token",
        ca_bundle="/etc/ssl/internal-ca.pem",
    )
    rendered = render_params(params, context)
    assert rendered["url"] == "https://api.example.com/hosts/web-01"
    assert rendered["headers"] == {"X-Run": "run-0001"}
    assert rendered["body"] == {
        "host": "web-01:9100",
        "count": 3,
        "tags": ["prod", "literal", {"severity": "firing"}],
    }
    assert rendered["credential"] == "pagerduty-token"
    assert rendered["ca_bundle"] == "/etc/ssl/internal-ca.pem"


def test_approval_and_foreach_params(context: dict[str, Any]) -> None:
    form = {"type": "object", "properties": {"ticket": {"type": "string", "minLength": 3}}}
    approval = ApprovalParams(
        approvers=["group:it-ops", "{{ vars.manager }}"],
        message="Restart {{ inputs.service }} on {{ trigger.body.alerts | length }} hosts?",
        form=form,
    )
    rendered = render_params(approval, context)
    assert rendered["approvers"] == ["group:it-ops", "jdoe"]
    assert rendered["message"] == "Restart nginx on 2 hosts?"
    assert rendered["form"] == {**form, "required": []}
    foreach = ForeachParams(
        items="nodes.fetch.output.json.items",
        flow="steps/patch-host.flow.json",
        inputs={"host": "{{ item.name }}", "index": "{{ index }}", "retries": 2},
    )
    with pytest.raises(ExpressionError, match=r"inputs\.host: 'item' is undefined"):
        render_params(foreach, context)
    items = evaluate_expression(foreach.items, context)
    each = build_context(**{**context, "item": items[1], "index": 1})
    rendered = render_params(foreach, each)
    assert rendered["items"] == [{"name": "web-01"}, {"name": "web-02"}]
    assert rendered["inputs"] == {"host": "web-02", "index": 1, "retries": 2}
    assert rendered["flow"] == "steps/patch-host.flow.json"


def test_render_params_errors_name_the_field(context: dict[str, Any]) -> None:
    params = ShellParams(command=["echo", "ok", "{{ nodes.check.output.code }}"])
    with pytest.raises(ExpressionError, match=r"^command\[2\]: nodes.check.output.code is"):
        render_params(params, context)

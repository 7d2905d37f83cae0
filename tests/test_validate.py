"""The validator finds every kind of problem and reports it by node and field."""

from __future__ import annotations

import json

from opsflow.flowfile import parse_flow
from opsflow.validate import Diagnostic, validate_flow
from tests.flowdocs import check_flow, edge, flow_doc, node


def diagnose(document: dict[str, object], **kwargs: object) -> list[Diagnostic]:
    return validate_flow(parse_flow(json.dumps(document)), **kwargs)  # type: ignore[arg-type]


def codes(diagnostics: list[Diagnostic]) -> set[tuple[str, str | None]]:
    return {(d.code, d.node) for d in diagnostics}


def test_valid_flow_is_clean() -> None:
    assert diagnose(check_flow()) == []


def test_no_trigger() -> None:
    document = flow_doc([node("a", "action.set_vars", values={"x": 1})], [])
    found = diagnose(document)
    assert ("no-trigger", None) in codes(found)
    assert all(d.severity == "error" for d in found if d.code == "no-trigger")


def test_trigger_with_inbound_edge() -> None:
    document = check_flow()
    document["nodes"].append(node("second", "trigger.manual"))
    document["edges"].append(edge("log_ok", "success", "second"))
    found = diagnose(document)
    [problem] = [d for d in found if d.code == "trigger-has-inputs"]
    assert problem.node == "second" and "'log_ok'" in problem.message


def test_cycle_names_the_nodes_on_it() -> None:
    document = check_flow()
    document["edges"].append(edge("restart", "success", "check"))
    [problem] = [d for d in diagnose(document) if d.code == "cycle"]
    assert problem.severity == "error"
    assert "check -> is_down -> restart -> check" in problem.message


def test_self_loop_is_a_cycle() -> None:
    document = check_flow()
    document["edges"].append(edge("restart", "error", "restart"))
    found = diagnose(document)
    assert ("cycle", "restart") in codes(found)


def test_unreachable_node_is_a_warning() -> None:
    document = check_flow()
    document["nodes"].append(node("orphan", "action.set_vars", values={"a": 1}))
    [problem] = [d for d in diagnose(document) if d.code == "unreachable"]
    assert problem.node == "orphan" and problem.severity == "warning"


def test_edges_to_unknown_nodes_and_ports() -> None:
    document = check_flow()
    document["edges"].append(edge("check", "success", "ghost"))
    document["edges"].append(edge("is_down", "maybe", "restart"))
    found = diagnose(document)
    [unknown] = [d for d in found if d.code == "unknown-node"]
    assert "'ghost'" in unknown.message and unknown.field == "to"
    [port] = [d for d in found if d.code == "unknown-port"]
    assert port.node == "is_down" and "true, false" in port.message


def test_switch_ports_come_from_its_cases() -> None:
    document = flow_doc(
        [
            node("start", "trigger.manual"),
            node(
                "route",
                "condition.switch",
                value="inputs.env",
                cases=[{"port": "prod", "equals": "prod"}, {"port": "test", "equals": "test"}],
            ),
            node("a", "action.set_vars", values={"x": 1}),
        ],
        [edge("start", "out", "route"), edge("route", "prod", "a"), edge("route", "stage", "a")],
        inputs={"env": {"type": "string", "default": "prod"}},
    )
    found = diagnose(document)
    [port] = [d for d in found if d.code == "unknown-port"]
    assert "prod, test, default" in port.message
    open_ports = {d.field for d in found if d.code == "port-unconnected"}
    assert open_ports == {"port:test", "port:default"}


def test_duplicate_ids() -> None:
    document = check_flow()
    document["nodes"].append(node("restart", "action.shell", command=["true"]))
    document["edges"].append(edge("start", "out", "log_ok", edge_id="start.out.check"))
    found = codes(diagnose(document))
    assert ("duplicate-node-id", "restart") in found
    assert ("duplicate-edge-id", None) in found


def test_parameter_errors_name_the_field() -> None:
    document = check_flow()
    document["nodes"][1]["params"] = {"url": "https://x.example.com", "method": "FETCH"}
    document["nodes"][3]["params"] = {"command": [], "colour": "red"}
    found = [d for d in diagnose(document) if d.code == "invalid-params"]
    fields = {(d.node, d.field) for d in found}
    assert ("check", "params.method") in fields
    assert ("restart", "params.command") in fields
    assert ("restart", "params.colour") in fields
    assert any("not a parameter of action.shell" in d.message for d in found)


def test_expression_syntax_error() -> None:
    document = check_flow()
    document["nodes"][2]["params"]["condition"] = "nodes.check.output.status !="
    [problem] = [d for d in diagnose(document) if d.code == "expression-syntax"]
    assert problem.node == "is_down" and problem.field == "params.condition"


def test_template_syntax_error_in_a_list_item() -> None:
    document = check_flow()
    document["nodes"][3]["params"]["command"] = ["systemctl", "restart", "{{ trigger.body.unit "]
    [problem] = [d for d in diagnose(document) if d.code == "expression-syntax"]
    assert problem.field == "params.command[2]"


def test_reference_to_a_node_that_is_not_upstream() -> None:
    document = check_flow()
    document["nodes"][4]["params"]["values"] = {"why": "{{ nodes.restart.output.stdout }}"}
    [problem] = [d for d in diagnose(document) if d.code == "not-upstream"]
    assert problem.node == "log_ok" and "not upstream" in problem.message
    assert problem.field == "params.values.why"


def test_reference_to_missing_node_and_to_itself() -> None:
    document = check_flow()
    document["nodes"][3]["params"]["command"] = ["echo", "{{ nodes.nope.output }}"]
    document["nodes"][2]["params"]["condition"] = "nodes.is_down.output"
    found = [d for d in diagnose(document) if d.code == "not-upstream"]
    assert {d.node for d in found} == {"restart", "is_down"}


def test_unknown_context_name_and_input() -> None:
    document = check_flow()
    document["nodes"][3]["params"]["command"] = ["echo", "{{ host }}", "{{ inputs.unit }}"]
    found = {d.code for d in diagnose(document)}
    assert {"unknown-name", "unknown-input"} <= found


def test_credentials_declared_known_or_unknown() -> None:
    document = check_flow()
    document["nodes"][1]["params"].update(auth="bearer", credential="status-token")
    assert "unknown-credential" in {d.code for d in diagnose(document)}
    assert "unknown-credential" not in {
        d.code for d in diagnose(document, known_credentials={"status-token"})
    }
    document["credentials"] = {"status-token": {"kind": "token"}}
    assert diagnose(document) == []
    document["credentials"] = {"status-token": {"kind": "ssh-key"}}
    [problem] = [d for d in diagnose(document) if d.code == "credential-kind"]
    assert "ssh-key" in problem.message


def test_approval_without_timeout_warns() -> None:
    document = check_flow()
    document["nodes"].append(
        node("ok", "control.approval", approvers=["alice"], message="Restart nginx?")
    )
    document["edges"][2] = edge("is_down", "true", "ok")
    document["edges"].append(edge("ok", "approved", "restart"))
    found = [d for d in diagnose(document) if d.code == "approval-no-timeout"]
    assert [d.node for d in found] == ["ok"]
    assert found[0].severity == "warning"


def test_condition_port_leading_nowhere_warns() -> None:
    document = check_flow()
    document["edges"].pop()  # is_down.false
    [problem] = [d for d in diagnose(document) if d.code == "port-unconnected"]
    assert problem.node == "is_down" and "'false'" in problem.message


def test_input_defaults_must_match_their_type() -> None:
    document = check_flow()
    document["inputs"] = {
        "count": {"type": "integer", "default": "three"},
        "env": {"type": "string", "enum": ["prod", "test"], "default": "dev"},
    }
    found = [d for d in diagnose(document) if d.code == "input-type"]
    assert {d.field for d in found} == {"inputs.count", "inputs.env"}


def test_errors_sort_before_warnings_and_format_as_one_line() -> None:
    document = check_flow()
    document["nodes"].append(node("orphan", "action.set_vars", values={"a": 1}))
    document["edges"].append(edge("check", "success", "ghost"))
    found = diagnose(document)
    severities = [d.severity for d in found]
    assert severities == sorted(severities, key=["error", "warning"].index)
    assert set(severities) == {"error", "warning"}
    line = found[0].format("f.flow.json")
    assert line.startswith("f.flow.json: error [unknown-node]") and "\n" not in line


def test_flow_outputs_are_checked_templates() -> None:
    document = check_flow()
    document["outputs"] = {
        "status": "{{ nodes.check.output.status }}",
        "broken": "{{ nodes.check.output. }}",
        "ghost": "{{ nodes.nope.output }}",
        "Bad-Name": "x",
    }
    found = {(d.code, d.field) for d in diagnose(document)}
    assert found == {
        ("expression-syntax", "outputs.broken"),
        ("not-upstream", "outputs.ghost"),
        ("invalid-output", "outputs.Bad-Name"),
    }


def test_input_defaults_must_satisfy_pattern_and_bounds() -> None:
    document = check_flow()
    document["inputs"] = {
        "ticket": {"type": "string", "pattern": "^CHG[0-9]+$", "default": "INC1"},
        "percent": {"type": "integer", "minimum": 1, "maximum": 99, "default": 120},
        "fine": {"type": "string", "pattern": "^[a-z]+$", "default": "nginx", "format": "hostname"},
    }
    found = [d for d in diagnose(document) if d.code == "input-type"]
    assert {d.field for d in found} == {"inputs.ticket", "inputs.percent"}
    assert any("above its maximum 99" in d.message for d in found)


def test_approval_ports_that_lead_nowhere_warn() -> None:
    document = check_flow()
    document["nodes"].append(
        node(
            "ok",
            "control.approval",
            approvers=["{{ inputs.manager }}", "group:ops"],
            message="Restart nginx?",
            timeout_s=3600,
        )
    )
    document["inputs"] = {"manager": {"type": "string", "required": True}}
    document["edges"][2] = edge("is_down", "true", "ok")
    document["edges"].append(edge("ok", "approved", "restart"))
    open_ports = {d.field for d in diagnose(document) if d.code == "port-unconnected"}
    assert open_ports == {"port:rejected", "port:timeout"}


def test_duplicate_ids_with_different_types_check_each_against_its_own_type() -> None:
    document = check_flow()
    document["nodes"].append(node("restart", "condition.if", condition="inputs.x =="))
    found = diagnose(document)
    assert ("duplicate-node-id", "restart") in codes(found)
    assert not [d for d in found if d.code == "invalid-params"], "each node met its own model"
    assert ("expression-syntax", "restart") in codes(found)

"""Validation follows sub-flow files and finds a flow that calls itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opsflow.errors import OpsflowError
from opsflow.flowfile import load_flow
from opsflow.validate import Diagnostic, refuse_invalid, validate_flow
from tests.conftest import Cli
from tests.flowdocs import SAMPLES, check_flow, edge, flow_doc, node, write


def caller(*targets: str, foreach: bool = False) -> dict[str, Any]:
    """A flow whose trigger runs one sub-flow node per target, named call_0, call_1..."""
    nodes = [node("start", "trigger.manual")]
    edges = []
    for index, target in enumerate(targets):
        node_id = f"call_{index}"
        if foreach:
            nodes.append(node(node_id, "control.foreach", items="[1, 2]", flow=target))
        else:
            nodes.append(node(node_id, "action.subflow", flow=target))
        edges.append(edge("start", "out", node_id))
    return flow_doc(nodes, edges)


def make(folder: Path, name: str, *targets: str, foreach: bool = False) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return write(path, caller(*targets, foreach=foreach))


def sub_problems(path: Path) -> list[Diagnostic]:
    found = validate_flow(load_flow(path), flow_path=path)
    return [d for d in found if d.code.startswith("subflow-")]


def test_direct_self_call(tmp_path: Path) -> None:
    main = make(tmp_path, "main.flow.json", "main.flow.json")
    [problem] = sub_problems(main)
    assert (problem.code, problem.severity, problem.node) == ("subflow-cycle", "error", "call_0")
    assert problem.field == "params.flow"
    assert "main.flow.json → main.flow.json" in problem.message
    assert problem.hint


def test_cycle_through_two_files(tmp_path: Path) -> None:
    main = make(tmp_path, "main.flow.json", "check.flow.json")
    make(tmp_path, "check.flow.json", "main.flow.json")
    [problem] = sub_problems(main)
    assert problem.code == "subflow-cycle" and problem.node == "call_0"
    assert problem.message == (
        "calls sub-flow check.flow.json, which calls main.flow.json again: a flow may not "
        "call itself (main.flow.json → check.flow.json → main.flow.json)"
    )


def test_cycle_through_three_files_in_folders_is_on_the_right_node(tmp_path: Path) -> None:
    main = make(tmp_path, "main.flow.json", "steps/fine.flow.json", "steps/b.flow.json")
    make(tmp_path, "steps/fine.flow.json")
    make(tmp_path, "steps/b.flow.json", "deeper/c.flow.json", foreach=True)
    make(tmp_path, "steps/deeper/c.flow.json", "../../main.flow.json")
    [problem] = sub_problems(main)
    assert problem.code == "subflow-cycle" and problem.node == "call_1"
    assert (
        "(main.flow.json → steps/b.flow.json → steps/deeper/c.flow.json → main.flow.json)"
        in problem.message
    )


def test_loop_further_down_is_reported_on_the_node_leading_to_it(tmp_path: Path) -> None:
    main = make(tmp_path, "main.flow.json", "b.flow.json")
    make(tmp_path, "b.flow.json", "c.flow.json")
    make(tmp_path, "c.flow.json", "b.flow.json")
    [problem] = sub_problems(main)
    assert problem.code == "subflow-cycle" and problem.node == "call_0"
    assert "(main.flow.json → b.flow.json → c.flow.json → b.flow.json)" in problem.message


def test_diamond_is_not_a_cycle(tmp_path: Path) -> None:
    main = make(tmp_path, "a.flow.json", "b.flow.json", "c.flow.json")
    make(tmp_path, "b.flow.json", "d.flow.json")
    make(tmp_path, "c.flow.json", "d.flow.json", foreach=True)
    make(tmp_path, "d.flow.json")
    assert sub_problems(main) == []


def test_missing_file(tmp_path: Path) -> None:
    main = make(tmp_path, "main.flow.json", "steps/nowhere.flow.json")
    [problem] = sub_problems(main)
    assert (problem.code, problem.severity, problem.node) == ("subflow-missing", "error", "call_0")
    assert "steps/nowhere.flow.json" in problem.message and "does not exist" in problem.message
    assert "create" in problem.hint


def test_unreadable_file(tmp_path: Path) -> None:
    main = make(tmp_path, "main.flow.json", "broken.flow.json")
    (tmp_path / "broken.flow.json").write_text('{"format": "opsflow.flow"', encoding="utf-8")
    [problem] = sub_problems(main)
    assert (problem.code, problem.severity, problem.node) == (
        "subflow-unreadable",
        "error",
        "call_0",
    )
    assert "broken.flow.json" in problem.message and "not valid JSON" in problem.message
    assert str(tmp_path) not in problem.message


def test_only_the_validated_flows_own_references_are_reported(tmp_path: Path) -> None:
    main = make(tmp_path, "main.flow.json", "b.flow.json")
    make(tmp_path, "b.flow.json", "missing.flow.json", "broken.flow.json")
    (tmp_path / "broken.flow.json").write_text("not json", encoding="utf-8")
    assert sub_problems(main) == []


def test_templated_flow_is_skipped(tmp_path: Path) -> None:
    main = make(tmp_path, "main.flow.json", "{{ inputs.which }}.flow.json")
    assert sub_problems(main) == []


def test_disabled_node_is_skipped(tmp_path: Path) -> None:
    document = caller("main.flow.json")
    document["nodes"][1]["disabled"] = True
    main = write(tmp_path / "main.flow.json", document)
    assert sub_problems(main) == []


def test_without_a_path_nothing_is_checked(tmp_path: Path) -> None:
    main = make(tmp_path, "main.flow.json", "main.flow.json")
    found = validate_flow(load_flow(main))
    assert [d for d in found if d.code.startswith("subflow-")] == []
    assert validate_flow(load_flow(main), flow_path=None) == found


def test_the_walk_is_bounded(tmp_path: Path) -> None:
    main = make(tmp_path, "main.flow.json", "f0.flow.json")
    for index in range(300):
        make(tmp_path, f"f{index}.flow.json", f"f{index + 1}.flow.json")
    make(tmp_path, "f300.flow.json", "main.flow.json")
    assert sub_problems(main) == []  # too deep to follow: not reported, and no hang


def test_refuse_invalid_gives_one_line(tmp_path: Path) -> None:
    document = caller("main.flow.json", "missing.flow.json", "other.flow.json")
    document["nodes"].append(node("bad", "action.shell"))
    document["nodes"].append(node("worse", "action.shell"))
    main = write(tmp_path / "main.flow.json", document)
    with pytest.raises(OpsflowError) as raised:
        refuse_invalid(load_flow(main), main)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{main}: the flow has ")
    assert " errors and cannot run: error [" in message
    assert "; and " in message and " more" in message
    assert message.endswith(f"; run `opsflow validate {main}` to see them all")
    assert message.count("error [") == 3


def test_refuse_invalid_single_error_wording(tmp_path: Path) -> None:
    main = make(tmp_path, "main.flow.json", "main.flow.json")
    with pytest.raises(OpsflowError) as raised:
        refuse_invalid(load_flow(main), main)
    message = str(raised.value)
    assert message.startswith(f"{main}: the flow has 1 error and cannot run: ")
    assert "error [subflow-cycle] node 'call_0' field params.flow:" in message
    assert "more" not in message.split("cannot run:")[0]
    assert message.endswith(f"; run `opsflow validate {main}` to see them all")


def test_refuse_invalid_accepts_warnings(tmp_path: Path) -> None:
    document = check_flow()
    document["nodes"].append(node("orphan", "action.set_vars", values={"a": 1}))
    path = write(tmp_path / "warn.flow.json", document)
    flow = load_flow(path)
    assert validate_flow(flow, flow_path=path)  # there is a warning...
    refuse_invalid(flow, path)  # ...and it does not refuse
    refuse_invalid(load_flow(path), None)


def test_samples_have_no_subflow_problems() -> None:
    for sample in SAMPLES:
        assert validate_flow(load_flow(sample), flow_path=sample) == [], sample


def test_cli_validate_reports_a_cycle(cli: Cli, tmp_path: Path) -> None:
    main = make(tmp_path, "main.flow.json", "check.flow.json")
    make(tmp_path, "check.flow.json", "main.flow.json")
    result = cli("validate", "main.flow.json", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "main.flow.json: error [subflow-cycle] node 'call_0'" in result.stdout
    assert "main.flow.json: FAILED" in result.stdout
    assert main.exists()

"""Loading and saving flow files: canonical, atomic, migrated, and strict about bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from opsflow.errors import FlowFileError
from opsflow.flowfile import MAX_FILE_BYTES, dump_flow, load_flow, parse_flow, save_flow
from tests.flowdocs import ROOT, check_flow, write

FIXTURES = Path(__file__).parent / "fixtures"


def test_round_trip_is_byte_identical(tmp_path: Path) -> None:
    path = write(tmp_path / "a.flow.json", check_flow())
    save_flow(load_flow(path), path)
    first = path.read_bytes()
    save_flow(load_flow(path), path)
    assert path.read_bytes() == first
    assert first.endswith(b"}\n") and b'\n  "format"' in first


def test_canonical_order_does_not_depend_on_input_order(tmp_path: Path) -> None:
    document = check_flow()
    shuffled = dict(reversed(list(document.items())))
    shuffled["nodes"] = list(reversed(document["nodes"]))
    shuffled["edges"] = list(reversed(document["edges"]))
    a = dump_flow(parse_flow(json.dumps(document)))
    b = dump_flow(parse_flow(json.dumps(shuffled)))
    assert a == b
    saved = json.loads(a)
    assert list(saved)[:3] == ["format", "version", "id"]
    assert [n["id"] for n in saved["nodes"]] == sorted(n["id"] for n in saved["nodes"])


def test_defaults_are_left_out_and_whole_floats_written_as_integers() -> None:
    document = check_flow()
    document["layout"] = {"nodes": {"start": {"x": 100.0, "y": 40.5}}}
    text = dump_flow(parse_flow(json.dumps(document)))
    assert '"x": 100,' in text and '"y": 40.5' in text
    assert '"join"' not in text and '"disabled"' not in text and '"retry"' not in text


def test_moving_a_node_changes_only_layout_lines(tmp_path: Path) -> None:
    document = check_flow()
    document["layout"] = {"nodes": {"start": {"x": 0, "y": 0}, "check": {"x": 200, "y": 0}}}
    flow = parse_flow(json.dumps(document))
    before = dump_flow(flow).splitlines()
    flow.layout.nodes["check"].x = 240
    after = dump_flow(flow).splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert changed == [('        "x": 200,', '        "x": 240,')]


def test_save_is_atomic_and_keeps_the_old_file_on_failure(tmp_path: Path) -> None:
    path = write(tmp_path / "a.flow.json", check_flow())
    original = path.read_bytes()
    os.chmod(path, 0o640)
    flow = load_flow(path)
    flow.name = "Renamed"
    save_flow(flow, path)
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert list(tmp_path.iterdir()) == [path], "no temporary file is left behind"
    os.chmod(tmp_path, 0o500)
    try:
        if os.geteuid() != 0:
            with pytest.raises(PermissionError):
                save_flow(flow, path)
    finally:
        os.chmod(tmp_path, 0o700)
    assert path.read_bytes() != original
    assert json.loads(path.read_text())["name"] == "Renamed"


def test_version_0_file_is_migrated() -> None:
    flow = load_flow(FIXTURES / "v0_outage.flow.json")
    assert flow.version == 1
    assert {n.id for n in flow.nodes} == {"alert", "check", "restart"}
    assert flow.layout.nodes["restart"].x == 400
    assert [(e.id, e.source, e.port, e.target) for e in flow.edges] == [
        ("e1", "alert", "out", "check"),
        ("e2", "check", "error", "restart"),
    ]
    assert flow.node_map()["check"].title == "Health check"


def test_newer_format_is_refused_naming_both_versions(tmp_path: Path) -> None:
    document = check_flow()
    document["version"] = 7
    with pytest.raises(FlowFileError) as caught:
        load_flow(write(tmp_path / "new.flow.json", document))
    assert "version 7" in str(caught.value) and "up to 1" in str(caught.value)


def test_newer_node_type_version_is_refused(tmp_path: Path) -> None:
    document = check_flow()
    document["nodes"][1]["type_version"] = 9
    with pytest.raises(FlowFileError, match=r"node 'check' field type_version: uses action.http"):
        load_flow(write(tmp_path / "a.flow.json", document))


BAD_INPUTS = {
    "truncated": (
        b'{"format": "opsflow.flow", "version": 1, "id": "x", "nodes": [',
        "ends too early",
    ),
    "not_json": (b"nodes:\n  - id: x\n", "not valid JSON"),
    "array": (b"[1, 2]", "holds a JSON array"),
    "wrong_format": (b'{"format": "n8n", "version": 1}', "not an Opsflow flow file"),
    "no_format": (b'{"nodes": []}', "format is missing"),
    "bad_version": (b'{"format": "opsflow.flow", "version": "one"}', "invalid format version"),
    "empty": (b"   \n", "is empty"),
    "nan": (b'{"format": "opsflow.flow", "version": 1, "id": "x", "vars": {"a": NaN}}', "NaN"),
    "latin1": ('{"format": "opsflow.flow", "id": "caf\u00e9"}'.encode("latin-1"), "not UTF-8"),
    "wrong_type": (
        b'{"format": "opsflow.flow", "version": 1, "id": "x", "nodes": '
        b'[{"id": "a", "type": "trigger.manual", "timeout_s": "soon"}]}',
        "node 'a' field timeout_s: Input should be a valid number",
    ),
    "unknown_field": (
        b'{"format": "opsflow.flow", "version": 1, "id": "x", "nodez": []}',
        "field nodez: is not a known field",
    ),
    "unknown_type": (
        b'{"format": "opsflow.flow", "version": 1, "id": "x", "nodes": '
        b'[{"id": "a", "type": "action.htp"}]}',
        "node 'a' field type: unknown node type 'action.htp'; did you mean 'action.http'?",
    ),
    "bad_node_id": (
        b'{"format": "opsflow.flow", "version": 1, "id": "x", "nodes": '
        b'[{"id": "Restart Nginx!", "type": "trigger.manual"}]}',
        "node 'Restart Nginx!' field id: must be lower-case letters, digits and underscores",
    ),
    "deep": (
        b'{"format": "opsflow.flow", "version": 1, "id": "x", "vars": {"a": '
        + b"[" * 10_000
        + b"]" * 10_000
        + b"}}",
        "nested too deeply",
    ),
    "bom_twice": (b"\xef\xbb\xbf\xef\xbb\xbf{}", "is not valid JSON"),
    "trailing": (b'{"format": "opsflow.flow", "version": 1, "id": "x"} {}', "trailing characters"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_clear_line(tmp_path: Path, case: str) -> None:
    data, expected = BAD_INPUTS[case]
    path = tmp_path / f"{case}.flow.json"
    path.write_bytes(data)
    with pytest.raises(FlowFileError) as caught:
        load_flow(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert expected in message, message
    assert "\n" not in message


def test_json_errors_carry_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "a.flow.json"
    path.write_text('{\n  "format": "opsflow.flow",\n  "version": 1\n  "id": "x"\n}\n')
    with pytest.raises(FlowFileError, match=r"a\.flow\.json:4:3: is not valid JSON: expected"):
        load_flow(path)


def test_huge_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.flow.json"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    with pytest.raises(FlowFileError, match=r"is 50.0 MB; flow files are limited to 20.0 MB"):
        load_flow(path)
    assert MAX_FILE_BYTES < 50 * 1024 * 1024


def test_directory_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FlowFileError, match="is a folder, not a flow file"):
        load_flow(tmp_path)
    with pytest.raises(FlowFileError, match="does not exist"):
        load_flow(tmp_path / "nope.flow.json")


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.flow.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(check_flow()).encode())
    assert load_flow(path).id == "test-flow"


def test_unicode_survives_round_trip(tmp_path: Path) -> None:
    document = check_flow()
    document["name"] = "Redémarrer nginx — 再起動 🚑"
    path = write(tmp_path / "u.flow.json", document)
    save_flow(load_flow(path), path)
    assert "Redémarrer nginx — 再起動 🚑" in path.read_text(encoding="utf-8")


def test_sample_flows_are_canonical() -> None:
    samples = sorted((ROOT / "sample_flows").glob("*.flow.json"))
    assert len(samples) >= 8
    for sample in samples:
        assert dump_flow(load_flow(sample)) == sample.read_text(encoding="utf-8"), sample.name

"""The file operation executor on real files under tmp_path, and one run through the engine."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from opsflow.catalog.builtin.actions_local import FileParams
from opsflow.catalog.registry import Catalog, builtin_specs
from opsflow.engine.local import LocalRunner
from opsflow.executors.files import file_operation
from opsflow.model.flow import Flow, Node
from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome

SPEC = next(spec for spec in builtin_specs() if spec.type == "action.file")


def run_file(roots: list[Path] | None, **params: Any) -> Any:
    """Run one file operation with validated, rendered parameters; return its output."""
    rendered = FileParams.model_validate(params).model_dump(mode="json")
    flow = Flow.model_validate(
        {"id": "files", "settings": {"file_roots": [str(r) for r in roots or []]}}
    )
    node = Node(id="file", type="action.file", params=params)
    call = NodeCall("run", flow, None, node, SPEC, rendered, attempt=1)
    outcome = file_operation(call)
    assert isinstance(outcome, NodeOutcome) and outcome.port is None
    return outcome.output


def refused(roots: list[Path] | None, **params: Any) -> NodeError:
    with pytest.raises(NodeError) as caught:
        run_file(roots, **params)
    assert caught.value.retryable is False
    return caught.value


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder


def test_write_then_read(root: Path) -> None:
    target = root / "a.txt"
    written = run_file([root], operation="write", path=str(target), content="héllo")
    assert written == {"path": str(target), "bytes": 6}
    read = run_file([root], operation="read", path=str(target))
    assert read == {"path": str(target), "content": "héllo", "bytes": 6, "truncated": False}
    assert [p.name for p in root.iterdir()] == ["a.txt"]  # no temporary file left behind


def test_write_encoding_and_overwrite_keeps_mode(root: Path) -> None:
    target = root / "a.txt"
    target.write_text("old")
    target.chmod(0o640)
    error = refused([root], operation="write", path=str(target), content="new")
    assert "already exists" in str(error) and "overwrite" in str(error)
    assert target.read_text() == "old"
    run_file(
        [root],
        operation="write",
        path=str(target),
        content="é",
        encoding="latin-1",
        overwrite=True,
    )
    assert target.read_bytes() == b"\xe9" and target.stat().st_mode & 0o777 == 0o640
    error = refused([root], operation="read", path=str(target))
    assert "utf-8" in str(error) and "encoding" in str(error)


def test_write_create_dirs(root: Path) -> None:
    target = root / "new" / "deeper" / "a.txt"
    error = refused([root], operation="write", path=str(target), content="x")
    assert "does not exist" in str(error) and "create_dirs" in str(error)
    run_file([root], operation="write", path=str(target), content="x", create_dirs=True)
    assert target.read_text() == "x"


def test_write_refuses_folder(root: Path) -> None:
    error = refused([root], operation="write", path=str(root), content="x", overwrite=True)
    assert "is a folder" in str(error)


def test_read_refuses_files_over_the_cap(root: Path) -> None:
    target = root / "big.txt"
    target.write_text("x" * 100)
    error = refused([root], operation="read", path=str(target), max_read_bytes=99)
    assert "100 bytes" in str(error) and "max_read_bytes" in str(error)
    assert run_file([root], operation="read", path=str(target), max_read_bytes=100)["bytes"] == 100


def test_read_missing_and_folder(root: Path) -> None:
    error = refused([root], operation="read", path=str(root / "nope.txt"))
    assert "does not exist" in str(error) and "nope.txt" in str(error)
    assert "list" in str(refused([root], operation="read", path=str(root)))


def test_copy_file_and_overwrite(root: Path) -> None:
    source, target = root / "a.txt", root / "b.txt"
    source.write_text("abc")
    output = run_file([root], operation="copy", path=str(source), destination=str(target))
    assert output == {"source": str(source), "destination": str(target), "bytes": 3}
    assert target.read_text() == "abc" and source.exists()
    source.write_text("abcd")
    error = refused([root], operation="copy", path=str(source), destination=str(target))
    assert "overwrite" in str(error) and target.read_text() == "abc"
    run_file([root], operation="copy", path=str(source), destination=str(target), overwrite=True)
    assert target.read_text() == "abcd"


def test_copy_folder_needs_recursive(root: Path) -> None:
    source = root / "src"
    (source / "sub").mkdir(parents=True)
    (source / "one.txt").write_text("1")
    (source / "sub" / "two.txt").write_text("2")
    target = root / "out" / "copy"
    error = refused([root], operation="copy", path=str(source), destination=str(target))
    assert "recursive" in str(error)
    error = refused(
        [root], operation="copy", path=str(source), destination=str(target), recursive=True
    )
    assert "create_dirs" in str(error)
    output = run_file(
        [root],
        operation="copy",
        path=str(source),
        destination=str(target),
        recursive=True,
        create_dirs=True,
    )
    assert output["files"] == 2 and (target / "sub" / "two.txt").read_text() == "2"
    error = refused(
        [root],
        operation="copy",
        path=str(source),
        destination=str(source / "sub" / "x"),
        recursive=True,
    )
    assert "inside itself" in str(error)


def test_move_file_and_folder(root: Path) -> None:
    source, target = root / "a.txt", root / "b.txt"
    source.write_text("abc")
    output = run_file([root], operation="move", path=str(source), destination=str(target))
    assert output == {"source": str(source), "destination": str(target), "bytes": 3}
    assert not source.exists() and target.read_text() == "abc"
    source.write_text("new")
    assert "overwrite" in str(
        refused([root], operation="move", path=str(source), destination=str(target))
    )
    run_file([root], operation="move", path=str(source), destination=str(target), overwrite=True)
    assert target.read_text() == "new" and not source.exists()
    folder = root / "dir"
    folder.mkdir()
    (folder / "f.txt").write_text("f")
    output = run_file(
        [root],
        operation="move",
        path=str(folder),
        destination=str(root / "a" / "dir2"),
        create_dirs=True,
    )
    assert output["files"] == 1 and (root / "a" / "dir2" / "f.txt").exists()
    assert not folder.exists()


def test_move_missing_source(root: Path) -> None:
    error = refused([root], operation="move", path=str(root / "gone"), destination=str(root / "x"))
    assert "does not exist" in str(error)


def test_delete_file_and_folder(root: Path) -> None:
    target = root / "a.txt"
    target.write_text("x")
    assert run_file([root], operation="delete", path=str(target)) == {
        "path": str(target),
        "deleted": 1,
    }
    assert not target.exists()
    folder = root / "dir"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "f.txt").write_text("f")
    error = refused([root], operation="delete", path=str(folder))
    assert "recursive" in str(error) and folder.exists()
    assert run_file([root], operation="delete", path=str(folder), recursive=True)["deleted"] == 3
    assert not folder.exists()
    assert "does not exist" in str(refused([root], operation="delete", path=str(target)))
    assert "root" in str(refused([root], operation="delete", path=str(root), recursive=True))


def test_delete_symlink_removes_the_link_only(root: Path) -> None:
    target = root / "real.txt"
    target.write_text("keep")
    link = root / "link.txt"
    link.symlink_to(target)
    run_file([root], operation="delete", path=str(link))
    assert not link.is_symlink() and target.read_text() == "keep"


def test_list_glob_and_recursive(root: Path) -> None:
    (root / "sub" / "deep").mkdir(parents=True)
    for name in ("b.log", "a.log", "c.txt", "sub/d.log", "sub/deep/e.log"):
        (root / name).write_text("12345")
    output = run_file([root], operation="list", path=str(root), glob="*.log")
    assert output["folder"] == str(root) and output["count"] == 2
    assert [f["name"] for f in output["files"]] == ["a.log", "b.log"]
    first = output["files"][0]
    assert first["path"] == str(root / "a.log") and first["size"] == 5 and not first["is_dir"]
    assert datetime.fromisoformat(first["modified"]).utcoffset() is not None
    deep = run_file([root], operation="list", path=str(root), glob="*.log", recursive=True)
    paths = [f["path"] for f in deep["files"]]
    assert paths == sorted(paths) and deep["count"] == 4
    assert str(root / "sub" / "deep" / "e.log") in paths
    everything = run_file([root], operation="list", path=str(root))
    assert {f["name"]: f["is_dir"] for f in everything["files"]}["sub"] is True
    assert "recursive" in str(refused([root], operation="list", path=str(root), glob="**/*"))
    assert "a file" in str(refused([root], operation="list", path=str(root / "a.log")))


def test_list_skips_links_leading_outside(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("s")
    (root / "escape.txt").symlink_to(outside)
    (root / "ok.txt").write_text("o")
    output = run_file([root], operation="list", path=str(root), recursive=True)
    assert [f["name"] for f in output["files"]] == ["ok.txt"]


def test_disk_free_numbers_are_consistent(root: Path) -> None:
    output = run_file([root], operation="disk_free", path=str(root))
    assert output["path"] == str(root)
    assert output["used_bytes"] + output["free_bytes"] <= output["total_bytes"]
    assert 0 <= output["used_percent"] <= 100


def test_refuses_paths_outside_the_roots(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    error = refused([root], operation="read", path=str(outside))
    assert str(outside) in str(error) and str(root) in str(error)
    assert "settings.file_roots" in str(error)
    escape = f"{root}/../outside.txt"
    error = refused([root], operation="read", path=escape)
    assert escape in str(error) and str(outside) in str(error)
    error = refused([root], operation="write", path=str(root / ".." / "new.txt"), content="x")
    assert not (tmp_path / "new.txt").exists()
    error = refused(
        [root], operation="copy", path=str(root), destination=str(tmp_path / "c"), recursive=True
    )
    assert "destination" in str(error) and not (tmp_path / "c").exists()
    assert "absolute" in str(refused([root], operation="read", path="{{ relative }}"))


def test_refuses_symlink_escapes(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "door").symlink_to(outside)
    error = refused([root], operation="read", path=str(root / "door" / "secret.txt"))
    assert "leads to" in str(error) and str(outside / "secret.txt") in str(error)
    (root / "file_link").symlink_to(outside / "secret.txt")
    refused([root], operation="read", path=str(root / "file_link"))
    refused([root], operation="delete", path=str(root / "door"), recursive=True)
    refused([root], operation="write", path=str(root / "door" / "x.txt"), content="x")
    refused([root], operation="list", path=str(root / "door"))
    assert (outside / "secret.txt").exists() and not (outside / "x.txt").exists()


def test_refuses_everything_without_roots(root: Path) -> None:
    (root / "a.txt").write_text("x")
    error = refused(None, operation="read", path=str(root / "a.txt"))
    assert "settings.file_roots" in str(error)
    refused(None, operation="disk_free", path=str(root))


def test_disk_free_through_the_engine(tmp_path: Path) -> None:
    specs = [
        dataclasses.replace(spec, executor="opsflow.executors.files:file_operation")
        if spec.type == "action.file"
        else spec
        for spec in builtin_specs()
    ]
    flow = Flow.model_validate(
        {
            "id": "guard",
            "settings": {"file_roots": [str(tmp_path)]},
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {
                    "id": "disk",
                    "type": "action.file",
                    "params": {"operation": "disk_free", "path": str(tmp_path)},
                },
                {
                    "id": "check",
                    "type": "condition.if",
                    "params": {"condition": "nodes.disk.output.used_percent >= 0"},
                },
            ],
            "edges": [
                {"id": "e1", "from": "start", "port": "out", "to": "disk"},
                {"id": "e2", "from": "disk", "port": "success", "to": "check"},
            ],
        }
    )
    runner = LocalRunner(flow, catalog=Catalog(specs))
    result = asyncio.run(runner.run())
    assert result.status == "succeeded"
    assert result.nodes["disk"].state == "succeeded"
    assert result.nodes["check"].port == "true"

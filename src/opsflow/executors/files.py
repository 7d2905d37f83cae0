"""The file operation node: copy, move, delete, read, write, list and disk_free.

Every path is resolved (symlinks followed, `..` collapsed) and must fall inside one of the
flow's `settings.file_roots`; writes go to a temporary file beside the target and are renamed
into place, so a reader never sees half a file.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

from opsflow.atomicfile import write_atomic
from opsflow.nodeapi import NodeCall, NodeError, NodeOutcome


def file_operation(call: NodeCall) -> NodeOutcome:
    params = call.params
    operation: str = params["operation"]
    roots = _roots(call)
    path = _allowed(params["path"], "path", roots)
    with _os_errors(operation, path.resolved):
        output = _OPERATIONS[operation](path, params, roots, call)
    return NodeOutcome(output=output)


class _Place:
    """A checked path: `resolved` follows every symlink, `entry` keeps a final symlink as-is."""

    def __init__(self, resolved: Path, entry: Path, root: Path) -> None:
        self.resolved = resolved
        self.entry = entry
        self.root = root


def _roots(call: NodeCall) -> list[Path]:
    configured = call.flow.settings.file_roots
    if not configured:
        raise NodeError(
            "file operations are refused because this flow has no allowed folders; add the "
            'folder to the flow\'s `settings.file_roots` (e.g. "file_roots": ["/srv/reports"])',
            retryable=False,
        )
    roots = []
    for root in configured:
        folder = Path(root).expanduser()
        if not folder.is_absolute():
            if call.flow_path is None:
                raise NodeError(
                    f"file root '{root}' in `settings.file_roots` is relative and the flow has "
                    "no file to resolve it against; give an absolute folder",
                    retryable=False,
                )
            folder = call.flow_path.parent / folder
        roots.append(folder.resolve())
    return roots


def _allowed(raw: str, field: str, roots: list[Path]) -> _Place:
    """Refuse a path outside the roots, whether reached directly, by `..` or by a symlink."""
    if "\0" in raw or not Path(raw).is_absolute():
        raise NodeError(
            f"`{field}` is '{raw}', which is not an absolute path; give one inside {_names(roots)}",
            retryable=False,
        )
    lexical = Path(os.path.normpath(raw))
    resolved = lexical.resolve()
    entry = lexical.parent.resolve() / lexical.name if lexical.name else resolved
    for candidate in (resolved, entry):
        if not any(candidate.is_relative_to(root) for root in roots):
            leads = "" if str(candidate) == raw else f" (which leads to '{candidate}')"
            raise NodeError(
                f"`{field}` '{raw}'{leads} is outside the folders this flow may touch, "
                f"{_names(roots)}; use a path inside them or add its folder to the flow's "
                "`settings.file_roots`",
                output={"path": raw, "roots": [str(root) for root in roots]},
                retryable=False,
            )
    root = max((r for r in roots if resolved.is_relative_to(r)), key=lambda r: len(r.parts))
    return _Place(resolved, entry, root)


def _names(roots: list[Path]) -> str:
    return ", ".join(f"'{root}'" for root in roots)


def _refuse(message: str, path: Path | str) -> NodeError:
    return NodeError(message, output={"path": str(path)}, retryable=False)


@contextmanager
def _os_errors(operation: str, path: Path) -> Iterator[None]:
    """Turn OS errors into sentences naming the path; only transient ones are retryable."""
    try:
        yield
    except NodeError:
        raise
    except FileNotFoundError as exc:
        missing = exc.filename or path
        raise _refuse(f"{operation}: '{missing}' does not exist", missing) from None
    except PermissionError as exc:
        denied = exc.filename or path
        raise _refuse(
            f"{operation}: permission denied on '{denied}'; give the account running "
            "Opsflow access to it, or pick another path",
            denied,
        ) from None
    except OSError as exc:
        failed = exc.filename or path
        permanent = exc.errno in (errno.EISDIR, errno.ENOTDIR, errno.ENOTEMPTY, errno.EEXIST)
        raise NodeError(
            f"{operation}: '{failed}' failed: {exc.strerror or exc}",
            output={"path": str(failed)},
            retryable=not permanent,
        ) from None


def _read(place: _Place, params: dict[str, Any], roots: list[Path], call: NodeCall) -> Any:
    path, limit = place.resolved, int(params["max_read_bytes"])
    if path.is_dir():
        raise _refuse(f"read: '{path}' is a folder; use operation list to see its files", path)
    size = path.stat().st_size
    with path.open("rb") as stream:
        data = stream.read(limit + 1)
    if size > limit or len(data) > limit:
        raise _refuse(
            f"read: '{path}' is {max(size, len(data))} bytes, more than max_read_bytes "
            f"({limit}); raise max_read_bytes (up to 512 MiB) to read it",
            path,
        )
    encoding = params["encoding"]
    try:
        content = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise _refuse(
            f"read: '{path}' is not valid {encoding} text (byte {exc.start}); set `encoding` "
            "to the file's encoding, e.g. latin-1 or utf-16",
            path,
        ) from None
    return {"path": str(path), "content": content, "bytes": len(data), "truncated": False}


def _write(place: _Place, params: dict[str, Any], roots: list[Path], call: NodeCall) -> Any:
    path, encoding = place.resolved, params["encoding"]
    try:
        data = str(params["content"]).encode(encoding)
    except UnicodeEncodeError as exc:
        raise _refuse(
            f"write: the content has characters {encoding} cannot encode (position "
            f"{exc.start}); choose an encoding such as utf-8",
            path,
        ) from None
    _prepare_target(path, place.root, params, "write")
    write_atomic(path, data)
    return {"path": str(path), "bytes": len(data)}


def _prepare_target(path: Path, root: Path, params: dict[str, Any], operation: str) -> None:
    """Apply `overwrite` and `create_dirs` to a file about to be written at `path`."""
    if path.is_dir():
        raise _refuse(f"{operation}: '{path}' is a folder; give the full path of a file", path)
    if path.exists() and not params["overwrite"]:
        raise _refuse(
            f"{operation}: '{path}' already exists; set overwrite to true to replace it", path
        )
    if not path.parent.is_dir():
        if not params["create_dirs"]:
            raise _refuse(
                f"{operation}: the folder '{path.parent}' does not exist; create it or set "
                "create_dirs to true",
                path,
            )
        if not root.is_dir():
            raise _refuse(f"{operation}: the allowed folder '{root}' does not exist", root)
        path.parent.mkdir(parents=True, exist_ok=True)


def _destination(
    place: _Place, params: dict[str, Any], roots: list[Path], operation: str
) -> tuple[Path, Path]:
    target = _allowed(params["destination"], "destination", roots)
    source = place.resolved if operation == "copy" else place.entry
    if not source.exists() and not source.is_symlink():
        raise _refuse(f"{operation}: '{source}' does not exist", source)
    destination = target.resolved
    if destination == place.resolved or destination == source:
        raise _refuse(f"{operation}: source and destination are the same, '{source}'", source)
    if source.is_dir() and not source.is_symlink() and destination.is_relative_to(source):
        raise _refuse(
            f"{operation}: cannot put the folder '{source}' inside itself ('{destination}')",
            source,
        )
    if destination.exists() and source.is_dir() != destination.is_dir():
        kind = "folder" if destination.is_dir() else "file"
        raise _refuse(
            f"{operation}: '{destination}' exists and is a {kind}; give the full new path, "
            "not only the folder it goes into",
            destination,
        )
    if destination.is_dir() and operation == "move":
        raise _refuse(
            f"move: the folder '{destination}' already exists; give a new path, or delete it first",
            destination,
        )
    if source.is_dir() and operation == "copy" and not params["recursive"]:
        raise _refuse(
            f"copy: '{source}' is a folder; set recursive to true to copy it with everything in it",
            source,
        )
    if destination.exists() and not source.is_dir() and not params["overwrite"]:
        raise _refuse(
            f"{operation}: '{destination}' already exists; set overwrite to true to replace it",
            destination,
        )
    if source.is_dir() and destination.exists() and not params["overwrite"]:
        raise _refuse(
            f"{operation}: '{destination}' already exists; set overwrite to true to copy "
            "into it, replacing files of the same name",
            destination,
        )
    if not destination.parent.is_dir():
        if not params["create_dirs"]:
            raise _refuse(
                f"{operation}: the folder '{destination.parent}' does not exist; create it or "
                "set create_dirs to true",
                destination,
            )
        destination.parent.mkdir(parents=True, exist_ok=True)
    return source, destination


def _copy(place: _Place, params: dict[str, Any], roots: list[Path], call: NodeCall) -> Any:
    source, destination = _destination(place, params, roots, "copy")
    result: dict[str, Any] = {"source": str(source), "destination": str(destination)}
    if source.is_dir():
        shutil.copytree(source, destination, symlinks=True, dirs_exist_ok=True)
        return result | {"files": _count_files(source)}
    _copy_file(source, destination)
    return result | {"bytes": destination.stat().st_size}


def _copy_file(source: Path, destination: Path) -> None:
    with source.open("rb") as reader:
        write_atomic(destination, lambda writer: shutil.copyfileobj(reader, writer))
    shutil.copystat(source, destination)


def _move(place: _Place, params: dict[str, Any], roots: list[Path], call: NodeCall) -> Any:
    if place.entry == place.root or place.resolved == place.root:
        raise _refuse(f"move: '{place.entry}' is an allowed root; it cannot be moved", place.entry)
    source, destination = _destination(place, params, roots, "move")
    is_dir = source.is_dir() and not source.is_symlink()
    size = _count_files(source) if is_dir else source.lstat().st_size
    try:
        os.replace(source, destination)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # Another volume: copy, then remove the original once the copy is complete.
        if is_dir:
            shutil.copytree(source, destination, symlinks=True)
            shutil.rmtree(source)
        else:
            _copy_file(source, destination)
            source.unlink()
    result: dict[str, Any] = {"source": str(source), "destination": str(destination)}
    return result | ({"files": size} if is_dir else {"bytes": size})


def _count_files(folder: Path) -> int:
    return sum(len(files) for _dir, _dirs, files in os.walk(folder))


def _delete(place: _Place, params: dict[str, Any], roots: list[Path], call: NodeCall) -> Any:
    path = place.entry
    if path == place.root or place.resolved == place.root:
        raise _refuse(f"delete: '{path}' is an allowed root; it cannot be deleted", path)
    if path.is_symlink() or path.is_file():
        path.unlink()
        return {"path": str(path), "deleted": 1}
    if not path.exists():
        raise _refuse(f"delete: '{path}' does not exist", path)
    if not params["recursive"]:
        raise _refuse(
            f"delete: '{path}' is a folder; set recursive to true to delete it with "
            "everything in it",
            path,
        )
    deleted = 1 + sum(len(dirs) + len(files) for _dir, dirs, files in os.walk(path))
    shutil.rmtree(path)
    return {"path": str(path), "deleted": deleted}


def _list(place: _Place, params: dict[str, Any], roots: list[Path], call: NodeCall) -> Any:
    folder, pattern = place.resolved, str(params["glob"])
    if not folder.is_dir():
        kind = "a file" if folder.exists() else "missing"
        raise _refuse(f"list: '{folder}' is {kind}; give the folder to list", folder)
    if "**" in pattern:
        raise _refuse(
            f"list: glob '{pattern}' uses '**'; set recursive to true and give a pattern of "
            "names such as *.log instead",
            folder,
        )

    def _unreadable(error: OSError) -> None:
        call.log("warning", f"list: skipped '{error.filename}', which could not be read")

    if params["recursive"]:
        found: Iterator[Path] = (
            Path(top, name)
            for top, dirs, files in os.walk(folder, onerror=_unreadable)
            for name in [*dirs, *files]
            if PurePath(os.path.relpath(os.path.join(top, name), folder)).match(pattern)
        )
    else:
        found = folder.glob(pattern)
    entries = []
    for item in found:
        if not any(item.resolve().is_relative_to(root) for root in roots):
            call.log("warning", f"list: skipped '{item}', a link to outside the allowed folders")
            continue
        entries.append(_describe(item))
    entries.sort(key=lambda entry: entry["path"])
    return {"folder": str(folder), "files": entries, "count": len(entries)}


def _describe(item: Path) -> dict[str, Any]:
    try:
        info = item.stat()
    except OSError:  # a broken link: describe the link itself
        info = item.lstat()
    is_dir = item.is_dir()
    return {
        "path": str(item),
        "name": item.name,
        "size": 0 if is_dir else info.st_size,
        "modified": datetime.fromtimestamp(info.st_mtime, UTC).isoformat(),
        "is_dir": is_dir,
    }


def _disk_free(place: _Place, params: dict[str, Any], roots: list[Path], call: NodeCall) -> Any:
    usage = shutil.disk_usage(place.resolved)
    percent = round(usage.used / usage.total * 100, 2) if usage.total else 0.0
    return {
        "path": str(place.resolved),
        "total_bytes": usage.total,
        "used_bytes": usage.used,
        "free_bytes": usage.free,
        "used_percent": percent,
    }


_OPERATIONS: dict[str, Callable[[_Place, dict[str, Any], list[Path], NodeCall], Any]] = {
    "read": _read,
    "write": _write,
    "copy": _copy,
    "move": _move,
    "delete": _delete,
    "list": _list,
    "disk_free": _disk_free,
}

"""Where credential values live: the OS keyring, the environment, or a 0600 file.

Keyring entries are service "opsflow", username = the credential name, password =
JSON of {"kind", "fields"}. Keyring cannot list entries, so an index of names and
kinds (never values) sits beside the config. Servers without a keyring use
`OPSFLOW_CRED_<NAME>_<FIELD>` variables or the credentials file instead.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import keyring
import keyring.errors
import platformdirs
from keyring.backends import chainer, fail

from opsflow.atomicfile import write_atomic
from opsflow.credentials.kinds import (
    ENV_PREFIX,
    KIND_FIELDS,
    Credential,
    CredentialError,
    CredentialNotFoundError,
    check_kind,
    check_name,
    env_name,
    env_var,
    required_env_vars,
)
from opsflow.oscompat.private_file import create_private, privacy_problem

SERVICE = "opsflow"
Location = Literal["keyring", "file", "environment"]


@dataclass(frozen=True)
class Entry:
    """A credential's name, kind and where it lives; never its values."""

    name: str
    kind: str
    location: Location


def config_dir() -> Path:
    return platformdirs.user_config_path("opsflow")


def index_path() -> Path:
    return config_dir() / "credentials-index.json"


def credentials_file() -> Path:
    override = os.environ.get("OPSFLOW_CREDENTIALS_FILE")
    return Path(override) if override else config_dir() / "credentials.json"


def keyring_usable() -> bool:
    """False when keyring found no backend (headless servers): then the file is used."""
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return False
    return not (isinstance(backend, chainer.ChainerBackend) and not backend.backends)


def keyring_description() -> str:
    """The keyring backend in use, and its file when it keeps secrets in one (keyrings.alt)."""
    backend = keyring.get_keyring()
    path = getattr(backend, "file_path", None)
    return f"{backend.name}, which keeps it in the file {path}" if path else str(backend.name)


# -- the three sources ---------------------------------------------------------------


def _from_environment(name: str, kind: str | None) -> Credential | None:
    prefix = f"{ENV_PREFIX}{env_name(name)}_"
    present = {key for key in os.environ if key.startswith(prefix)}
    if not present:
        return None
    declared = os.environ.get(prefix + "KIND")
    if declared is not None:
        kind = check_kind(declared.strip())
    if kind is None:
        raise CredentialError(
            f"credential '{name}' has variables {', '.join(sorted(present))} but no kind; "
            f"set {prefix}KIND to one of: {', '.join(KIND_FIELDS)}"
        )
    fields = {
        spec.name: os.environ[env_var(name, spec.name)]
        for spec in KIND_FIELDS[kind]
        if env_var(name, spec.name) in os.environ
    }
    credential = Credential(name, kind, fields, source="environment")
    missing = [env_var(name, field_name) for field_name in credential.missing_fields()]
    if missing:
        raise CredentialError(
            f"credential '{name}' ({kind}) is incomplete in the environment; "
            f"set {' and '.join(missing)}"
        )
    return credential


def _decode(name: str, text: str | None, source: str, data: Any = None) -> Credential | None:
    try:
        if text is not None:
            data = json.loads(text)
        if data is None:
            return None
        fields = data["fields"]
        if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
            raise TypeError
        return Credential(name, check_kind(data["kind"]), dict(fields), source=source).validate()
    except (ValueError, TypeError, KeyError):
        raise CredentialError(
            f"the {source} entry for credential '{name}' is damaged; "
            f"set it again with `opsflow credentials set {name} --kind KIND`"
        ) from None


def _from_keyring(name: str) -> Credential | None:
    if not keyring_usable():
        return None
    try:
        text = keyring.get_password(SERVICE, name)
    except keyring.errors.KeyringError as exc:
        raise CredentialError(
            f"the keyring could not be read for credential '{name}': {exc}"
        ) from None
    return _decode(name, text, "keyring")


def _read_json(path: Path, *, private: bool) -> dict[str, Any]:
    try:
        path.stat()
        problem = privacy_problem(path) if private else None
    except FileNotFoundError:
        return {}
    if problem is not None:
        raise CredentialError(f"{path} is not used because {problem}")
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CredentialError(f"{path} could not be read as JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("credentials", {}), dict):
        raise CredentialError(f"{path} is not an Opsflow credentials file")
    entries: dict[str, Any] = data.get("credentials", {})
    return entries


def _write_json(path: Path, entries: dict[str, Any], *, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if private and not path.exists():
        # Create it private first: write_atomic keeps the mode of the file it replaces.
        create_private(path)
    text = json.dumps({"version": 1, "credentials": entries}, indent=2, sort_keys=True)
    write_atomic(path, (text + "\n").encode("utf-8"))


def _from_file(name: str) -> Credential | None:
    path = credentials_file()
    return _decode(name, None, f"file {path}", _read_json(path, private=True).get(name))


# -- the API -------------------------------------------------------------------------


def resolve(name: str, kind: str | None = None) -> Credential:
    """The credential `name` from the environment, then the keyring, then the file.

    `kind` is the kind the flow declares: it lets environment variables omit
    `OPSFLOW_CRED_<NAME>_KIND`, and makes the "not found" sentence exact.
    """
    check_name(name)
    if kind is not None:
        check_kind(kind)
    credential = _from_environment(name, kind) or _from_keyring(name) or _from_file(name)
    if credential is None:
        raise CredentialNotFoundError(_not_found(name, kind or _indexed_kind(name)))
    if kind is not None and credential.kind != kind:
        raise CredentialError(
            f"credential '{name}' is a {credential.kind} credential ({credential.source}), "
            f"but a {kind} credential is needed here"
        )
    return credential


def _not_found(name: str, kind: str | None) -> str:
    places = "the environment or " + str(credentials_file())
    if keyring_usable():
        places = "the keyring, " + places
    shown = kind or "KIND"
    message = (
        f"credential '{name}'{f' ({kind})' if kind else ''} was not found in {places}; "
        f"set it with `opsflow credentials set {name} --kind {shown}`, or set "
    )
    if kind:
        return message + " and ".join(required_env_vars(name, kind))
    return (
        message
        + f"{ENV_PREFIX}{env_name(name)}_KIND and the fields of that kind "
        + (f"(e.g. for basic: {' and '.join(required_env_vars(name, 'basic'))})")
    )


def save(credential: Credential, *, to: Literal["auto", "keyring", "file"] = "auto") -> str:
    """Store `credential`; returns where ("keyring" or the file's path)."""
    credential.validate()
    record = {"kind": credential.kind, "fields": credential.fields}
    use_keyring = to == "keyring" or (to == "auto" and keyring_usable())
    if use_keyring:
        if not keyring_usable():
            raise CredentialError(
                "no keyring is available on this machine; store the credential in the file "
                f"({credentials_file()}) instead"
            )
        try:
            keyring.set_password(SERVICE, credential.name, json.dumps(record))
        except keyring.errors.KeyringError as exc:
            raise CredentialError(
                f"the keyring refused credential '{credential.name}': {exc}"
            ) from None
        index = _read_json(index_path(), private=False)
        index[credential.name] = credential.kind
        _write_json(index_path(), index, private=False)
        return "keyring"
    path = credentials_file()
    entries = _read_json(path, private=True)
    entries[credential.name] = record
    _write_json(path, entries, private=True)
    return str(path)


def delete(name: str) -> list[str]:
    """Remove `name` from the keyring and the file; returns where it was removed from."""
    check_name(name)
    removed: list[str] = []
    if keyring_usable():
        try:
            keyring.delete_password(SERVICE, name)
            removed.append("keyring")
        except keyring.errors.PasswordDeleteError:
            pass
    index = _read_json(index_path(), private=False)
    if index.pop(name, None) is not None:
        _write_json(index_path(), index, private=False)
    path = credentials_file()
    entries = _read_json(path, private=True)
    if entries.pop(name, None) is not None:
        _write_json(path, entries, private=True)
        removed.append(str(path))
    if not removed:
        hint = (
            f"; it comes from environment variables {ENV_PREFIX}{env_name(name)}_*, unset them"
            if any(key.startswith(f"{ENV_PREFIX}{env_name(name)}_") for key in os.environ)
            else ""
        )
        raise CredentialNotFoundError(f"there is no stored credential '{name}'{hint}")
    return removed


def _indexed_kind(name: str) -> str | None:
    kind = _read_json(index_path(), private=False).get(name)
    return kind if isinstance(kind, str) and kind in KIND_FIELDS else None


def list_entries() -> list[Entry]:
    """Every known credential with its kind and location, sorted by name."""
    entries: dict[str, Entry] = {}
    for name, kind in _read_json(index_path(), private=False).items():
        entries[name] = Entry(name, str(kind), "keyring")
    for name, record in _read_json(credentials_file(), private=True).items():
        kind = record.get("kind") if isinstance(record, dict) else None
        entries.setdefault(name, Entry(name, str(kind), "file"))
    by_env_name = {env_name(name): name for name in entries}
    for key, value in os.environ.items():
        if key.startswith(ENV_PREFIX) and key.endswith("_KIND"):
            raw = key[len(ENV_PREFIX) : -len("_KIND")]
            name = by_env_name.get(raw, raw)
            entries[name] = Entry(name, value.strip(), "environment")
    return sorted(entries.values(), key=lambda entry: entry.name)


def list_names() -> list[tuple[str, str]]:
    return [(entry.name, entry.kind) for entry in list_entries()]

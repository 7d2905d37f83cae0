"""`opsflow credentials set|list|delete|test`: manage named credentials.

Secret values never come from a literal on the command line (shell history):
they are typed at a hidden prompt, read from a file (`@FILE`) or from an
environment variable (`env:VAR`).
"""

from __future__ import annotations

import argparse
import getpass
import io
import json
import os
import sys
from pathlib import Path

from opsflow.credentials import (
    KIND_FIELDS,
    Credential,
    CredentialError,
    CredentialNotFoundError,
    delete,
    list_entries,
    resolve,
    save,
)
from opsflow.credentials.kinds import check_kind, check_name, field_spec
from opsflow.credentials.store import keyring_description

_KEY_HEADERS = (
    "-----BEGIN OPENSSH PRIVATE KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----",
    "-----BEGIN EC PRIVATE KEY-----",
    "-----BEGIN DSA PRIVATE KEY-----",
    "-----BEGIN PRIVATE KEY-----",
    "-----BEGIN ENCRYPTED PRIVATE KEY-----",
)


# -- set -----------------------------------------------------------------------------


def _field_value(kind: str, text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise CredentialError(f"--field {text}: expected FIELD=@FILE or FIELD=env:VAR")
    spec = field_spec(kind, key.strip())
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialError(f"--field {spec.name}: cannot read {path}: {exc}") from None
        # A key file keeps its final newline; a password file's newline is not part of it.
        return spec.name, content if spec.name == "private_key" else content.rstrip("\r\n")
    if value.startswith("env:"):
        variable = value[len("env:") :]
        if variable not in os.environ:
            raise CredentialError(
                f"--field {spec.name}: environment variable {variable} is not set"
            )
        return spec.name, os.environ[variable]
    if spec.secret:
        raise CredentialError(
            f"--field {spec.name}: a secret on the command line would stay in the shell history; "
            f"use --field {spec.name}=@FILE (read from a file) or "
            f"--field {spec.name}=env:VAR (read from an environment variable)"
        )
    return spec.name, value


def _prompt(name: str, kind: str, fields: dict[str, str]) -> None:
    for spec in KIND_FIELDS[kind]:
        if spec.name in fields:
            continue
        label = f"{name} {spec.name}{' (optional, Enter to skip)' if spec.optional else ''}"
        if spec.name == "private_key":
            path = input(f"{label} — path to the key file: ").strip()
            value = (
                _field_value(kind, f"private_key=@{os.path.expanduser(path)}")[1] if path else ""
            )
        elif spec.secret:
            value = getpass.getpass(f"{label}: ")
        else:
            value = input(f"{label}: ").strip()
        if value or not spec.optional:
            fields[spec.name] = value


def set_credential(args: argparse.Namespace) -> int:
    name, kind = check_name(args.name), check_kind(args.kind)
    fields = dict(_field_value(kind, text) for text in args.field)
    if sys.stdin.isatty():
        _prompt(name, kind, fields)
    missing = [
        spec.name for spec in KIND_FIELDS[kind] if not spec.optional and not fields.get(spec.name)
    ]
    if missing:
        ways = " and ".join(f"--field {field}=@FILE (or =env:VAR)" for field in missing)
        raise CredentialError(
            f"credential '{name}' ({kind}) needs {', '.join(missing)}; give {ways}"
        )
    where = save(Credential(name, kind, fields), to=args.store)
    if where == "keyring":
        print(f"{name}: saved in the keyring ({keyring_description()})")
    else:
        note = " (no keyring is available here)" if args.store == "auto" else ""
        print(f"{name}: saved in {where}{note}")
    return 0


# -- list, delete, test --------------------------------------------------------------


def list_credentials(args: argparse.Namespace) -> int:
    entries = list_entries()
    if args.json:
        rows = [{"name": e.name, "kind": e.kind, "location": e.location} for e in entries]
        print(json.dumps(rows, indent=2))
        return 0
    if not entries:
        print("no credentials")
        return 0
    width = max(len(entry.name) for entry in entries)
    for entry in entries:
        print(f"{entry.name:<{width}}  {entry.kind:<8}  {entry.location}")
    return 0


def delete_credential(args: argparse.Namespace) -> int:
    removed = delete(args.name)
    print(f"{args.name}: deleted from {' and '.join(removed)}")
    return 0


def test_credential(args: argparse.Namespace) -> int:
    try:
        credential = resolve(args.name)
    except CredentialNotFoundError:
        raise
    except CredentialError as exc:
        print(f"{args.name}: failed: {exc}")
        return 1
    problem = _problem(credential)
    if problem:
        print(f"{credential.name}: failed: {problem}")
        return 1
    print(f"{credential.name}: ok ({credential.kind}, from {credential.source})")
    return 0


def _problem(credential: Credential) -> str | None:
    missing = credential.missing_fields()
    if missing:
        return f"{', '.join(missing)} is empty"
    for key in ("token", "key", "username"):
        value = credential.fields.get(key, "")
        if value != value.strip() or "\n" in value:
            return f"{key} has spaces or line breaks around or inside it"
    if credential.kind == "ssh-key":
        return _key_problem(credential.fields["private_key"], credential.fields.get("passphrase"))
    return None


def _key_problem(text: str, passphrase: str | None) -> str | None:
    try:
        import paramiko  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        if not text.lstrip().startswith(_KEY_HEADERS):
            return "private_key does not start with a PEM or OpenSSH private key header"
        return None
    errors = []
    for key_class in (paramiko.Ed25519Key, paramiko.RSAKey, paramiko.ECDSAKey):
        try:
            key_class.from_private_key(io.StringIO(text), password=passphrase or None)
            return None
        except paramiko.PasswordRequiredException:
            return "the private key is encrypted and no passphrase is set"
        except paramiko.SSHException as exc:
            errors.append(str(exc))
    return f"private_key could not be read as a private key ({errors[-1]})"

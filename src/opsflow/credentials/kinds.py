"""What each kind of credential holds, and the `Credential` value a run resolves.

`KIND_FIELDS` is the one table of fields per kind: which are secret (masked,
never typed on a command line) and which may be left out.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from opsflow.errors import OpsflowError

#: The kinds of credential there are; a flow declares which kind each credential it names is.
CredentialKind = Literal["basic", "token", "ssh-key", "smtp", "api-key"]


class CredentialError(OpsflowError):
    """A credential could not be found, read, stored or used; the message says what to do."""


class CredentialNotFoundError(CredentialError):
    """No source holds the named credential."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    secret: bool
    optional: bool = False


KIND_FIELDS: Final[dict[str, tuple[FieldSpec, ...]]] = {
    "basic": (FieldSpec("username", secret=False), FieldSpec("password", secret=True)),
    "token": (FieldSpec("token", secret=True),),
    "ssh-key": (
        FieldSpec("username", secret=False),
        FieldSpec("private_key", secret=True),
        FieldSpec("passphrase", secret=True, optional=True),
    ),
    "smtp": (FieldSpec("username", secret=False), FieldSpec("password", secret=True)),
    "api-key": (FieldSpec("key", secret=True),),
}
assert set(KIND_FIELDS) == set(get_args(CredentialKind))

KINDS: Final[tuple[str, ...]] = tuple(KIND_FIELDS)
NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
ENV_PREFIX: Final = "OPSFLOW_CRED_"
# Lines of a multi-line secret (a private key) shorter than this are not masked on their own:
# they would match ordinary output.
_MIN_MASKED_LINE = 16


def check_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise CredentialError(
            f"'{name}' is not a usable credential name; use letters, digits, '-', '_' and '.', "
            "starting with a letter or digit (at most 100 characters)"
        )
    return name


def check_kind(kind: str) -> str:
    if kind not in KIND_FIELDS:
        raise CredentialError(f"unknown credential kind '{kind}'; use one of: {', '.join(KINDS)}")
    return kind


def field_spec(kind: str, name: str) -> FieldSpec:
    for spec in KIND_FIELDS[check_kind(kind)]:
        if spec.name == name:
            return spec
    names = ", ".join(spec.name for spec in KIND_FIELDS[kind])
    raise CredentialError(f"a {kind} credential has no field '{name}'; its fields are: {names}")


def env_name(name: str) -> str:
    """`web-ssh` -> `WEB_SSH`: the NAME part of `OPSFLOW_CRED_<NAME>_<FIELD>`."""
    return re.sub(r"[-.]", "_", name.upper())


def env_var(name: str, field_name: str) -> str:
    return f"{ENV_PREFIX}{env_name(name)}_{field_name.upper()}"


def required_env_vars(name: str, kind: str) -> list[str]:
    return [env_var(name, spec.name) for spec in KIND_FIELDS[kind] if not spec.optional]


@dataclass(frozen=True)
class Credential:
    """A resolved credential: its kind and field values. `source` says where it came from."""

    name: str
    kind: str
    fields: dict[str, str]
    source: str = field(default="", compare=False)

    def missing_fields(self) -> list[str]:
        return [
            spec.name
            for spec in KIND_FIELDS[self.kind]
            if not spec.optional and not self.fields.get(spec.name)
        ]

    def validate(self) -> Credential:
        """Raise a `CredentialError` unless the name, kind and fields make a whole credential."""
        check_name(self.name)
        check_kind(self.kind)
        for key, value in self.fields.items():
            field_spec(self.kind, key)
            if not isinstance(value, str):
                raise CredentialError(f"credential '{self.name}': field {key} is not text")
        missing = self.missing_fields()
        if missing:
            raise CredentialError(
                f"credential '{self.name}' ({self.kind}) has no {' and no '.join(missing)}"
            )
        return self

    def secret_values(self) -> list[str]:
        """Every value a run must mask in its output, longest first."""
        values: set[str] = set()
        for spec in KIND_FIELDS[self.kind]:
            value = self.fields.get(spec.name, "")
            if not spec.secret or not value:
                continue
            values.add(value)
            if "\n" in value.strip():
                values.update(
                    line.strip()
                    for line in value.splitlines()
                    if len(line.strip()) >= _MIN_MASKED_LINE and not line.startswith("-----")
                )
        if self.kind in ("basic", "smtp") and self.fields.get("password"):
            pair = f"{self.fields.get('username', '')}:{self.fields['password']}"
            values.add(base64.b64encode(pair.encode("utf-8")).decode("ascii"))
        return sorted(values, key=lambda value: (-len(value), value))

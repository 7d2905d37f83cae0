"""Named credentials: values in the OS keyring (or environment / a 0600 file), names in flows."""

from __future__ import annotations

from opsflow.credentials.exposure import child_environment, secrets_to_mask
from opsflow.credentials.kinds import (
    KIND_FIELDS,
    KINDS,
    Credential,
    CredentialError,
    CredentialNotFoundError,
    FieldSpec,
    env_var,
)
from opsflow.credentials.store import (
    Entry,
    credentials_file,
    delete,
    index_path,
    keyring_usable,
    list_entries,
    list_names,
    resolve,
    save,
)

__all__ = [
    "KINDS",
    "KIND_FIELDS",
    "Credential",
    "CredentialError",
    "CredentialNotFoundError",
    "Entry",
    "FieldSpec",
    "child_environment",
    "credentials_file",
    "delete",
    "env_var",
    "index_path",
    "keyring_usable",
    "list_entries",
    "list_names",
    "resolve",
    "save",
    "secrets_to_mask",
]

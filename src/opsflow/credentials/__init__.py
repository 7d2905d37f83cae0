"""Named credentials: values in the OS keyring (or environment / a 0600 file), names in flows.

The store and the exposure rules load on first use: the flow model takes its credential kinds
from here, and reading or validating a flow must not import the keyring.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from opsflow.credentials.kinds import (
    KIND_FIELDS,
    KINDS,
    Credential,
    CredentialError,
    CredentialNotFoundError,
    FieldSpec,
    env_var,
)

if TYPE_CHECKING:
    from opsflow.credentials.exposure import child_environment, secrets_to_mask
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

#: Which submodule each name loaded on first use comes from.
_LOADED_ON_USE = {
    **dict.fromkeys(("child_environment", "secrets_to_mask"), "exposure"),
    **dict.fromkeys(
        (
            "Entry",
            "credentials_file",
            "delete",
            "index_path",
            "keyring_usable",
            "list_entries",
            "list_names",
            "resolve",
            "save",
        ),
        "store",
    ),
}


def __getattr__(name: str) -> Any:
    """A name of the store or the exposure rules, loading its module on first use."""
    module = _LOADED_ON_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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

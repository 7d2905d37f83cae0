"""Keeping credential values out of what a run shows or starts: the secrets a run masks from
its first event on, and the environment its child processes get.

A run masks a credential's secret fields as soon as a node resolves it; that is too late
when an earlier step happens to print the value (a script that reads a token file, a
server that echoes a header). So before a run starts it also masks every credential the
flow declares (resolved quietly now; a missing one is reported by the node that needs it)
and every secret held in `OPSFLOW_CRED_*` variables of this process. Child processes
(shell and script steps) never inherit those variables, nor where the credentials file is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opsflow.credentials.kinds import ENV_PREFIX, CredentialError
from opsflow.credentials.store import resolve

#: Variables a child process never inherits, besides every `OPSFLOW_CRED_*` one.
PRIVATE_VARIABLES = frozenset({"OPSFLOW_CREDENTIALS_FILE"})
#: Fields of `OPSFLOW_CRED_<NAME>_<FIELD>` that are not secret.
_PLAIN_FIELDS = ("_USERNAME", "_KIND")


def child_environment() -> dict[str, str]:
    """This process's environment without credentials, for the programs a run starts."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith(ENV_PREFIX) and name.upper() not in PRIVATE_VARIABLES
    }


def secrets_to_mask(declared: Mapping[str, str | None]) -> list[str]:
    """Secret values a run masks from its start: declared credentials (name -> kind) that
    can be resolved now, and the secret fields of `OPSFLOW_CRED_*` variables."""
    values: set[str] = set()
    for name, kind in declared.items():
        try:
            values.update(resolve(name, kind).secret_values())
        except CredentialError:
            continue  # the node that needs it says so, with where it looked
    for variable, value in os.environ.items():
        upper = variable.upper()
        if upper.startswith(ENV_PREFIX) and not upper.endswith(_PLAIN_FIELDS) and value:
            values.add(value)
    return sorted(values, key=lambda value: (-len(value), value))

"""Shared helpers for the catalog tests."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError


def rejection(model: type[BaseModel], data: dict[str, Any]) -> str:
    """The validation errors for `data` as 'field: message' lines, to assert substrings on."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return "\n".join(
        f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in caught.value.errors()
    )

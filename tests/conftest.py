"""Shared test setup: Qt runs offscreen, and flows are built from small dicts."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

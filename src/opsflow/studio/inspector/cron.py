"""The schedule editor: a cron line with a live list of the next fire times (or why it is wrong)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from PySide6.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

from opsflow.catalog.builtin.triggers import ScheduleParams, next_fire_times
from opsflow.studio import theme
from opsflow.studio.inspector.fields import FieldEditor
from opsflow.studio.inspector.schema import FieldInfo

FIRE_TIMES_SHOWN = 3


def describe_schedule(
    cron: str, timezone: str, now: datetime | None = None
) -> tuple[list[datetime], str]:
    """The next fire times of a cron line in a time zone, or the sentence saying what is wrong."""
    try:
        params = ScheduleParams.model_validate({"cron": cron, "timezone": timezone})
    except ValidationError as exc:
        cron_errors = [e for e in exc.errors() if e["loc"] == ("cron",)]
        if cron_errors:
            return [], str(cron_errors[0]["msg"]).removeprefix("Value error, ")
        params = ScheduleParams.model_validate({"cron": cron, "timezone": "UTC"})
    start = now or datetime.now(UTC)
    return next_fire_times(params, start, FIRE_TIMES_SHOWN), ""


class CronEditor(FieldEditor):
    """A cron expression; the label under it lists when the schedule fires next."""

    def __init__(
        self, info: FieldInfo, timezone: Callable[[], str], parent: QWidget | None = None
    ) -> None:
        super().__init__(info, parent)
        self.timezone = timezone
        self.edit = QLineEdit(self)
        self.edit.setToolTip(info.description)
        self.edit.setPlaceholderText("e.g. 0 6 * * mon-fri or @daily")
        self.preview = QLabel(self)
        self.preview.setWordWrap(True)
        self.preview.setStyleSheet(f"color: {theme.current().node_subtext};")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.edit)
        layout.addWidget(self.preview)
        self.edit.textEdited.connect(lambda _text: self._emit())

    def focus_target(self) -> QWidget:
        return self.edit

    def current(self) -> Any:
        return self.edit.text()

    def refresh_preview(self) -> None:
        """Recompute the fire times (the cron line or the time zone changed)."""
        text = self.edit.text()
        if not text.strip():
            self.preview.setText("")
            return
        zone = self.timezone()
        times, error = describe_schedule(text, zone)
        if error:
            self.preview.setText("")
            return
        shown = ", ".join(moment.strftime("%a %d %b %Y %H:%M") for moment in times)
        self.preview.setText(f"Next runs ({times[0].tzname()}): {shown}")

    def _check(self, value: Any) -> tuple[str, str]:
        self.refresh_preview()
        if not isinstance(value, str) or not value.strip():
            return "", ""
        return describe_schedule(value, self.timezone())[1], ""

    def _show(self, value: Any) -> None:
        text = value if isinstance(value, str) else ""
        if self.edit.text() != text:
            self.edit.setText(text)
        self._set_problem(*self._check(text))

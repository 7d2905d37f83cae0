"""File → New from template: start a flow from one of the sample flows shipped with Opsflow.

The templates are the `*.flow.json` files at the top of the sample flows folder: inside
the installed package (`opsflow/sample_flows`, put there by the wheel and the installer
bundle) or, in a source checkout, `sample_flows/` beside `src/`. The new flow is untitled,
so Save asks where to put it, and gets an id of its own derived from the template's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

import opsflow
from opsflow.catalog import Catalog
from opsflow.errors import OpsflowError
from opsflow.flowfile import load_flow
from opsflow.model.flow import Flow
from opsflow.studio import files
from opsflow.validate.subflows import CALLING_TYPES

if TYPE_CHECKING:
    from opsflow.studio.mainwindow import MainWindow

#: Appended to the template's id to make the new flow's id.
ID_SUFFIX = "-copy"


@dataclass(frozen=True)
class Template:
    """One sample flow offered as a starting point."""

    path: Path
    flow: Flow

    @property
    def title(self) -> str:
        return self.flow.name or self.flow.id

    def called_files(self) -> list[str]:
        """The other flow files it runs (sub-flows, for-each bodies), as written."""
        found = [
            n.params["flow"]
            for n in self.flow.nodes
            if n.type in CALLING_TYPES and isinstance(n.params.get("flow"), str)
        ]
        return sorted(set(found))


def templates_folder() -> Path:
    """The sample flows: inside the installed package, or at the top of a checkout."""
    package = Path(opsflow.__file__).resolve().parent
    inside = package / "sample_flows"
    return inside if inside.is_dir() else package.parents[1] / "sample_flows"


def list_templates(catalog: Catalog | None = None, folder: Path | None = None) -> list[Template]:
    """Every readable template, by title; a file this Opsflow cannot read is left out."""
    found: list[Template] = []
    for path in sorted((folder or templates_folder()).glob("*.flow.json")):
        try:
            found.append(Template(path, load_flow(path, catalog)))
        except OpsflowError:
            continue
    return sorted(found, key=lambda t: t.title.lower())


def new_flow_from(template: Template) -> Flow:
    """A copy of the template's flow with an id of its own."""
    flow_id = template.flow.id[: 128 - len(ID_SUFFIX)] + ID_SUFFIX
    return template.flow.model_copy(update={"id": flow_id}, deep=True)


def open_template(window: MainWindow, template: Template) -> MainWindow:
    """Open a new, untitled flow made from `template`: here when this window is empty."""
    flow = new_flow_from(template)
    document = window.document
    if document.path is None and not document.is_modified() and not any(document.nodes()):
        document.replace_flow(flow, None)
        window.first_view()
        target = window
    else:
        target = files.new_window(window, flow, None)  # shows the flow once it is laid out
    calls = template.called_files()
    note = (
        f"; it runs {len(calls)} other flow file(s), which are not copied: "
        "Open sub-flow offers to create them"
        if calls
        else ""
    )
    target.say(f"New flow from the template '{template.title}'; Save asks where to keep it{note}.")
    return target


class TemplateDialog(QDialog):
    """The list of templates with the description of the chosen one."""

    def __init__(self, templates: list[Template], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New from template")
        self.templates = templates
        self.list = QListWidget()
        self.list.setMinimumWidth(260)
        self.list.setSpacing(3)
        for template in templates:
            flow = template.flow
            started = ", ".join(_trigger_kinds(flow)) or "no trigger"
            item = QListWidgetItem(f"{template.title}\n{len(flow.nodes)} nodes · {started}")
            item.setToolTip(template.path.name)
            self.list.addItem(item)
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.list.currentRowChanged.connect(self._show)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        intro = QLabel(
            "Start from a sample flow. The copy is untitled: Save asks where to keep it."
        )
        intro.setWordWrap(True)
        body = QHBoxLayout()
        body.addWidget(self.list, 2)
        body.addWidget(self.details, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(body, 1)
        layout.addWidget(self.buttons)
        self.resize(820, 480)
        if templates:
            self.list.setCurrentRow(0)
        else:
            ok.setEnabled(False)
            self.details.setPlainText(
                f"No templates were found in {templates_folder()}; this installation of "
                "Opsflow is missing its sample flows."
            )

    def chosen(self) -> Template | None:
        row = self.list.currentRow()
        return self.templates[row] if 0 <= row < len(self.templates) else None

    def _show(self, row: int) -> None:
        if not 0 <= row < len(self.templates):
            self.details.clear()
            return
        self.details.setHtml(describe(self.templates[row]))


def describe(template: Template) -> str:
    """The template's description as HTML: what it does, its triggers, nodes and inputs."""
    flow = template.flow
    triggers = _trigger_kinds(flow)
    lines = [
        f"<h3>{_escape(template.title)}</h3>",
        f"<p>{_escape(flow.description) or '<i>No description.</i>'}</p>",
        f"<p><b>{len(flow.nodes)}</b> nodes · started by "
        f"{_escape(', '.join(triggers) or 'nothing')}",
    ]
    if flow.inputs:
        lines.append(f" · inputs: {_escape(', '.join(flow.inputs))}")
    if flow.credentials:
        lines.append(f" · credentials: {_escape(', '.join(sorted(flow.credentials)))}")
    lines.append("</p>")
    calls = template.called_files()
    if calls:
        listed = ", ".join(f"<code>{_escape(c)}</code>" for c in calls)
        lines.append(
            f"<p>It runs other flow files ({listed}); they are not copied with it. After "
            "saving, <i>Open sub-flow</i> on those nodes offers to create them.</p>"
        )
    lines.append(f"<p style='color:gray'>{_escape(template.path.name)}</p>")
    return "".join(lines)


def _trigger_kinds(flow: Flow) -> list[str]:
    """How the flow starts: "webhook", "schedule", ... (built-in trigger types)."""
    return sorted(
        {n.type.removeprefix("trigger.") for n in flow.nodes if n.type.startswith("trigger.")}
    )


def choose(window: MainWindow) -> MainWindow | None:
    """Ask which template to start from, then open it."""
    dialog = TemplateDialog(list_templates(window.document.catalog), window)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    template = dialog.chosen()
    return open_template(window, template) if template is not None else None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

"""Grouping nodes: Edit → Group / Ungroup, a group frame's menu and its collapse button.

Every edit is one undoable command: `ChangeGroups` for making, changing and dissolving
groups, `RemoveItems` for deleting a group with its nodes. Groups live in the flow's
`layout`; nothing here touches what the flow does.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QObject, QPoint, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPixmap
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMenu, QWidget

from opsflow.model.flow import GROUP_COLORS, GroupColor, NodeGroup
from opsflow.studio import theme
from opsflow.studio.canvas.scene import FlowScene
from opsflow.studio.commands import ChangeGroups, RemoveItems
from opsflow.studio.document import FlowDocument


def ask_group_title(parent: QWidget | None, title: str) -> str | None:
    """Ask for a group's title; None when cancelled."""
    text, ok = QInputDialog.getText(
        parent, "Rename group", "Title of the group:", QLineEdit.EchoMode.Normal, title
    )
    return text if ok else None


class GroupEditor(QObject):
    """Group edits of one document, aware of the canvas selection."""

    #: A sentence for the status bar.
    status_message = Signal(str)

    def __init__(
        self, document: FlowDocument, scene: FlowScene, widget: QWidget | None = None
    ) -> None:
        super().__init__(scene)
        self.document = document
        self.scene = scene
        #: The window menus and dialogs are shown over.
        self.widget = widget
        scene.groups.collapse_clicked.connect(self.toggle_collapsed)
        scene.groups.context_menu_requested.connect(self.show_menu)

    # -- what is selected ----------------------------------------------------------------

    def selected_nodes(self) -> list[str]:
        """The selected nodes plus the nodes of the selected groups."""
        found = dict.fromkeys(self.scene.selected_node_ids())
        for group_id in self.scene.groups.selected_group_ids():
            found.update(dict.fromkeys(self._members(group_id)))
        return list(found)

    def _members(self, group_id: str) -> list[str]:
        return [n for n in self.document.group(group_id).nodes if self.document.has_node(n)]

    def _without(self, node_ids: Iterable[str]) -> dict[str, NodeGroup | None]:
        """The changes that take `node_ids` out of their groups (emptied groups go)."""
        leaving = set(node_ids)
        changes: dict[str, NodeGroup | None] = {}
        for group in self.document.groups():
            kept = [n for n in group.nodes if n not in leaving]
            if len(kept) != len(group.nodes):
                changes[group.id] = group.model_copy(update={"nodes": kept}) if kept else None
        return changes

    # -- group and ungroup ---------------------------------------------------------------

    def group_selection(self) -> str | None:
        """Put the selected nodes in a new group (taking them out of any other)."""
        node_ids = self.selected_nodes()
        if not node_ids:
            self.status_message.emit("Select the nodes to group first.")
            return None
        changes = self._without(node_ids)
        group_id = self.document.unique_group_id()
        used = {g.color for g in self.document.groups() if changes.get(g.id, g) is not None}
        color = next((c for c in GROUP_COLORS if c not in used), GROUP_COLORS[0])
        changes[group_id] = NodeGroup(id=group_id, color=color, nodes=sorted(node_ids))
        count = len(node_ids)
        self.document.push(
            ChangeGroups(self.document, changes, f"Group {count} node{'' if count == 1 else 's'}")
        )
        self.select_group(group_id)
        self.status_message.emit(
            "Grouped. Double-click the group's title to name it; drag the title to move it."
        )
        return group_id

    def ungroup_selection(self) -> None:
        """Dissolve the selected groups, or take the selected nodes out of theirs."""
        group_ids = self.scene.groups.selected_group_ids()
        if group_ids:
            self.ungroup(group_ids)
            return
        node_ids = [n for n in self.scene.selected_node_ids() if self.document.group_of(n)]
        if not node_ids:
            self.status_message.emit("Select a group (click its title) or grouped nodes first.")
            return
        self.remove_from_groups(node_ids)

    def ungroup(self, group_ids: Iterable[str]) -> None:
        changes: dict[str, NodeGroup | None] = dict.fromkeys(group_ids)
        text = "Ungroup" if len(changes) == 1 else f"Ungroup {len(changes)} groups"
        self.document.push(ChangeGroups(self.document, changes, text))

    def remove_from_groups(self, node_ids: Iterable[str]) -> None:
        ids = list(node_ids)
        changes = self._without(ids)
        if changes:
            text = f"Remove {len(ids)} node{'' if len(ids) == 1 else 's'} from group"
            self.document.push(ChangeGroups(self.document, changes, text))

    def delete_with_nodes(self, group_id: str) -> None:
        """Delete a group and the nodes in it (with their wires), as one step."""
        members = self._members(group_id)
        stack = self.document.undo_stack
        stack.beginMacro(f"Delete group and {len(members)} node(s)")
        self.document.push(RemoveItems(self.document, members, text="Delete group's nodes"))
        if self.document.has_group(group_id):  # it also named nodes that do not exist
            self.document.push(ChangeGroups(self.document, {group_id: None}, "Ungroup"))
        stack.endMacro()

    # -- change one group ----------------------------------------------------------------

    def _change(self, group: NodeGroup, text: str, **update: object) -> None:
        after = group.model_copy(update=update)
        if after != group:
            self.document.push(ChangeGroups(self.document, {group.id: after}, text))

    def rename(self, group_id: str, title: str) -> None:
        self._change(self.document.group(group_id), "Rename group", title=title.strip())

    def ask_rename(self, group_id: str) -> None:
        title = ask_group_title(self.widget, self.document.group(group_id).title)
        if title is not None:
            self.rename(group_id, title)

    def recolor(self, group_id: str, color: GroupColor) -> None:
        self._change(self.document.group(group_id), "Change group colour", color=color)

    def set_collapsed(self, group_ids: Iterable[str], collapsed: bool) -> None:
        changes: dict[str, NodeGroup | None] = {}
        for group_id in group_ids:
            group = self.document.group(group_id)
            if group.collapsed != collapsed:
                changes[group_id] = group.model_copy(update={"collapsed": collapsed})
        if changes:
            verb = "Collapse" if collapsed else "Expand"
            text = f"{verb} group" if len(changes) == 1 else f"{verb} {len(changes)} groups"
            self.document.push(ChangeGroups(self.document, changes, text))

    def toggle_collapsed(self, group_id: str) -> None:
        self.set_collapsed([group_id], not self.document.group(group_id).collapsed)

    def toggle_selection(self) -> None:
        """Collapse (or expand) the selected groups, or the groups of the selected nodes."""
        group_ids = self.scene.groups.selected_group_ids() or self.scene.groups.groups_holding(
            self.scene.selected_node_ids()
        )
        if not group_ids:
            self.status_message.emit("Select a group, or a node in one, to collapse it.")
            return
        self.set_collapsed(group_ids, not self.document.group(group_ids[0]).collapsed)

    # -- selection -----------------------------------------------------------------------

    def select_group(self, group_id: str) -> None:
        self.scene.clearSelection()
        item = self.scene.groups.items.get(group_id)
        if item is not None:
            item.setSelected(True)

    def select_members(self, group_id: str) -> None:
        self.scene.select_only(self._members(group_id))

    # -- menus ---------------------------------------------------------------------------

    def build_menu(self, group_id: str) -> QMenu:
        group = self.document.group(group_id)
        menu = QMenu(self.widget)
        menu.addAction("Rename…", lambda: self.ask_rename(group_id))
        colors = menu.addMenu("Colour")
        for color in GROUP_COLORS:
            action = QAction(_swatch(theme.current().group_color(color)), color.capitalize(), menu)
            action.setCheckable(True)
            action.setChecked(color == group.color)
            action.triggered.connect(lambda _=False, c=color: self.recolor(group_id, c))
            colors.addAction(action)
        if group.collapsed:
            menu.addAction("Expand", lambda: self.set_collapsed([group_id], False))
        else:
            menu.addAction("Collapse", lambda: self.set_collapsed([group_id], True))
            menu.addAction("Select its nodes", lambda: self.select_members(group_id))
        menu.addSeparator()
        menu.addAction("Ungroup (keep the nodes)", lambda: self.ungroup([group_id]))
        menu.addAction("Delete group and its nodes", lambda: self.delete_with_nodes(group_id))
        return menu

    def show_menu(self, group_id: str, where: QPoint) -> None:
        if not self.document.has_group(group_id):
            return
        self.select_group(group_id)
        self.build_menu(group_id).popup(where)

    def add_node_actions(self, menu: QMenu, node_id: str) -> None:
        """The group entries of a node's context menu."""
        menu.addAction("Group selected nodes", self.group_selection)
        group = self.document.group_of(node_id)
        if group is not None:
            name = f"'{group.title}'" if group.title else "its group"
            menu.addAction(
                f"Remove from {name}",
                lambda: self.remove_from_groups(self.scene.selected_node_ids() or [node_id]),
            )


def _swatch(color: str) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)

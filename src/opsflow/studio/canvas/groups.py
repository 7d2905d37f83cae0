"""Group frames kept in step with the document: one `GroupItem` per group of the layout.

It listens to the document (groups added, changed, removed; nodes and wires coming and
going) after the scene's items have followed the change, and the scene rebuilds it after
its items. It applies what a group means on the canvas: which cards are members, which
are hidden while the group is collapsed, which wires are hidden (both ends inside) and
which end on the collapsed card. Frames follow their members, re-derived once per
event-loop turn however many members moved."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPoint, QTimer, Signal

from opsflow.studio.canvas.edge_item import EdgeItem
from opsflow.studio.canvas.group_item import GroupItem
from opsflow.studio.canvas.node_item import NodeItem

if TYPE_CHECKING:
    from opsflow.studio.canvas.scene import FlowScene


class GroupFrames(QObject):
    """The group frames of one scene."""

    #: The collapse / expand button of a group was clicked (its id).
    collapse_clicked = Signal(str)
    #: A group frame was right-clicked: (group id, global position for a menu).
    context_menu_requested = Signal(str, QPoint)

    def __init__(self, scene: FlowScene) -> None:
        super().__init__(scene)
        self.scene = scene
        self.document = scene.document
        self.items: dict[str, GroupItem] = {}
        self._dirty: set[GroupItem] = set()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._follow_dirty)
        document = self.document
        document.group_added.connect(self._on_group_added)
        document.group_removed.connect(self._on_group_removed)
        document.group_changed.connect(self._apply)
        document.node_added.connect(self._on_node_added)
        document.node_removed.connect(self._on_node_removed)
        document.edge_added.connect(self._on_edge_added)
        document.edge_removed.connect(self._on_edge_removed)

    # -- questions -----------------------------------------------------------------------

    def selected_group_ids(self) -> list[str]:
        return [i.group_id for i in self.scene.selectedItems() if isinstance(i, GroupItem)]

    def groups_holding(self, node_ids: Iterable[str]) -> list[str]:
        """The groups (ids, in document order) that hold any of `node_ids`."""
        wanted = set(node_ids)
        return [g.id for g in self.document.groups() if wanted & set(g.nodes)]

    @staticmethod
    def wire_shown(edge: EdgeItem) -> bool:
        """A wire is hidden only when both its ends are inside one collapsed group."""
        group = edge.source.frame
        return not (group is not None and group is edge.target.frame and group.collapsed)

    # -- the owner of the frames (GroupOwner) ---------------------------------------------

    def frame_dirty(self, item: GroupItem) -> None:
        self._dirty.add(item)
        if not self._timer.isActive():
            self._timer.start()

    def toggle_requested(self, group_id: str) -> None:
        self.collapse_clicked.emit(group_id)

    def menu_requested(self, group_id: str, where: QPoint) -> None:
        self.context_menu_requested.emit(group_id, where)

    # -- document -> frames --------------------------------------------------------------

    def rebuild(self) -> None:
        """Make every frame anew (the scene calls this after making its other items)."""
        for item in self.items.values():
            self.scene.removeItem(item)
        self.items.clear()
        self._dirty.clear()
        for group in self.document.groups():
            self._on_group_added(group.id)

    def _on_group_added(self, group_id: str) -> None:
        item = GroupItem(self.document.group(group_id), self)
        self.scene.addItem(item)
        self.items[group_id] = item
        self._apply(group_id)

    def _on_group_removed(self, group_id: str) -> None:
        item = self.items.pop(group_id)
        self._dirty.discard(item)
        members, item.members = item.members, []
        for member in members:
            if member.frame is item:
                member.frame = None
                member.setVisible(True)
        self._fix_wires(members)
        self.scene.removeItem(item)

    def _apply(self, group_id: str) -> None:
        """Make the frame, its members and their wires say what the group model says."""
        item = self.items.get(group_id)
        if item is None:
            return
        group = self.document.group(group_id)
        members = [self.scene.nodes[n] for n in group.nodes if n in self.scene.nodes]
        kept = set(members)
        left = [m for m in item.members if m not in kept]
        for member in left:
            if member.frame is item:
                member.frame = None
                member.setVisible(True)
        item.set_group(group)
        item.members = members
        for member in members:
            member.frame = item
            if group.collapsed and member.isSelected():
                member.setSelected(False)
            member.setVisible(not group.collapsed)
        item.follow_members()
        self._fix_wires([*left, *members])

    def _fix_wires(self, nodes: Iterable[NodeItem]) -> None:
        for node in nodes:
            for edge in node.edges:
                edge.setVisible(self.wire_shown(edge))
                edge.adjust()

    def _on_node_added(self, node_id: str) -> None:
        group = self.document.group_of(node_id)
        if group is not None:
            self._apply(group.id)

    def _on_node_removed(self, node_id: str) -> None:
        for group_id, item in list(self.items.items()):
            if any(m.node_id == node_id for m in item.members):
                self._apply(group_id)

    def _on_edge_added(self, edge_id: str) -> None:
        edge = self.scene.edges.get(edge_id)
        if edge is None:
            return
        edge.setVisible(self.wire_shown(edge))
        edge.adjust()
        for end in (edge.source, edge.target):
            if end.frame is not None:
                end.frame.update()

    def _on_edge_removed(self, edge_id: str) -> None:
        for item in self.items.values():
            if item.collapsed:
                item.update()  # its port dots may change

    def _follow_dirty(self) -> None:
        dirty, self._dirty = self._dirty, set()
        for item in dirty:
            if item.scene() is self.scene:
                item.follow_members()

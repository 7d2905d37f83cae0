"""A run that ends before the Studio has caught up still shows every event, and ends once.

On a loaded machine the engine can finish a short run before `start()` has
returned to the GUI thread. These tests force that interleaving: the GUI
thread waits for the engine inside `start()` until the run is over.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from opsflow.flowfile import parse_flow
from opsflow.studio.document import FlowDocument
from opsflow.studio.run.session import RunSession, current_user
from tests.flowdocs import edge, flow_doc, node

RUN_TIMEOUT_MS = 5_000
ROUNDS = 20


def instant_flow() -> dict[str, Any]:
    """A manual trigger and two pure nodes: over in a few milliseconds."""
    return flow_doc(
        [
            node("start", "trigger.manual"),
            node("first", "action.set_vars", values={"a": 1}),
            node("second", "action.set_vars", values={"b": 2}),
        ],
        [edge("start", "out", "first"), edge("first", "success", "second")],
        id="instant-flow",
    )


def approval_flow(user: str) -> dict[str, Any]:
    return flow_doc(
        [
            node("start", "trigger.manual"),
            node("ask", "control.approval", approvers=[user], message="Go?"),
            node("done", "action.set_vars", values={"ok": True}),
        ],
        [edge("start", "out", "ask"), edge("ask", "approved", "done")],
        id="instant-approval-flow",
    )


def finish_inside_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the GUI thread hands to the engine is over before the call returns."""
    handed = asyncio.run_coroutine_threadsafe

    def and_wait(work: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop) -> Any:
        future = handed(work, loop)
        if threading.current_thread() is threading.main_thread():
            concurrent.futures.wait([future], timeout=RUN_TIMEOUT_MS / 1000)
            assert future.done(), "the engine did not finish the run"
        return future

    monkeypatch.setattr(asyncio, "run_coroutine_threadsafe", and_wait)


@pytest.fixture
def sessions() -> Iterator[list[RunSession]]:
    made: list[RunSession] = []
    yield made
    for session in made:
        session.shutdown()


def open_session(sessions: list[RunSession], flow: dict[str, Any], journal: Path) -> RunSession:
    session = RunSession(FlowDocument(parse_flow(json.dumps(flow))), journal)
    sessions.append(session)
    return session


class Heard:
    """What a session said, in order."""

    def __init__(self, session: RunSession) -> None:
        self.said: list[tuple[str, Any]] = []
        session.events_added.connect(lambda events: self.said.append(("events", len(events))))
        session.run_ended.connect(lambda *ended: self.said.append(("ended", list(ended))))

    def mark(self, what: str) -> None:
        self.said.append((what, None))

    def ends(self) -> list[Any]:
        return [args for what, args in self.said if what == "ended"]

    def order(self) -> list[str]:
        return [what for what, _ in self.said]


def assert_shown_in_full(session: RunSession, run_id: str) -> None:
    view = session.view
    assert view is not None and view.run_id == run_id
    journal = session.journal().events(run_id)
    assert journal, "the run wrote no events"
    assert view.last_seq == journal[-1].seq, (
        f"the view has {len(view.events)} of the run's {len(journal)} events"
    )
    assert [e.seq for e in view.events] == [e.seq for e in journal]


def test_a_run_over_before_start_returns_keeps_every_event_and_ends_once(
    qtbot: QtBot, tmp_path: Path, sessions: list[RunSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = open_session(sessions, instant_flow(), tmp_path / "journal.sqlite")
    finish_inside_start(monkeypatch)
    heard = Heard(session)
    for _ in range(ROUNDS):
        heard.said.clear()
        run_id = session.run()
        heard.mark("started")
        qtbot.waitUntil(lambda: heard.ends() != [], timeout=RUN_TIMEOUT_MS)
        qtbot.wait(10)  # time for a second, wrong end to arrive
        assert heard.ends() == [[run_id, "succeeded", ""]]
        assert_shown_in_full(session, run_id)
        assert session.view is not None and session.view.phase == "succeeded"
        states = {n: r.state for n, r in session.view.nodes.items()}
        assert states == {"start": "succeeded", "first": "succeeded", "second": "succeeded"}
        # The end comes through the event loop, after start() and after every event.
        order = heard.order()
        assert order[0] == "started" and "events" in order and order[-1] == "ended", order
        assert not session.busy


def test_a_resumed_run_over_before_resume_returns_shows_every_event(
    qtbot: QtBot, tmp_path: Path, sessions: list[RunSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    user = current_user()
    journal = tmp_path / "journal.sqlite"
    first = open_session(sessions, approval_flow(user), journal)
    run_id = first.run()
    qtbot.waitUntil(lambda: first.view is not None and first.view.phase == "waiting")
    sessions.remove(first)
    first.shutdown()  # the window closed while the run waited: it is interrupted
    later = open_session(sessions, approval_flow(user), journal)
    later.decide(run_id, "ask", "approved")

    finish_inside_start(monkeypatch)
    heard = Heard(later)
    later.resume(run_id)
    heard.mark("resumed")
    qtbot.waitUntil(lambda: heard.ends() != [], timeout=RUN_TIMEOUT_MS)
    qtbot.wait(10)
    assert heard.ends() == [[run_id, "succeeded", ""]]
    assert_shown_in_full(later, run_id)
    assert later.view is not None and later.view.nodes["done"].state == "succeeded"
    order = heard.order()
    assert order.index("resumed") < order.index("ended") and order[-1] == "ended", order
    assert not later.busy


DIES_DRIVING = """
import os, sys
from pathlib import Path
from opsflow.engine.events import Event
from opsflow.engine.journal import Journal
from opsflow.engine.owners import set_role
set_role("opsflow run")
journal = Journal(Path(sys.argv[1]))
journal.create_run("orphan", flow_id="instant-flow", flow_path=None, flow_json=sys.argv[2],
                   trigger="start", payload=None, inputs={}, dry_run=False)
journal.append(Event("orphan", 1, "run_started", 1.0))
journal.append(Event("orphan", 2, "node_started", 2.0, "first", {"attempt": 1}))
os._exit(0)  # dies while driving it: nothing ends the run or lets it go
"""


def test_a_past_run_whose_process_is_gone_is_shown_interrupted_not_running(
    sessions: list[RunSession], tmp_path: Path
) -> None:
    import subprocess
    import sys

    from opsflow.flowfile import dump_flow

    journal = tmp_path / "runs.sqlite"
    text = dump_flow(parse_flow(json.dumps(instant_flow())))
    subprocess.run([sys.executable, "-c", DIES_DRIVING, str(journal), text], check=True)
    session = RunSession(FlowDocument(parse_flow(text)), journal)
    sessions.append(session)
    view = session.show_past_run("orphan")
    assert view.phase == "interrupted"
    assert view.error is not None and "opsflow run (pid " in view.error
    assert "is gone" in view.error

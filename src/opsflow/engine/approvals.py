"""Human approval: pausing a branch until someone allowed decides, or the deadline passes.

A decision is accepted only from a listed approver (a user name, or a member
of a `group:NAME` defined in the groups file), with form answers that satisfy
the node's form. Decisions go through the journal's atomic check-and-set, so
the terminal prompt, `opsflow approve` in another process and the Studio can
race without two decisions winning; a runner without a journal keeps them in
memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import platformdirs

from opsflow.engine import notify
from opsflow.engine.inputs import InputError, coerce_value
from opsflow.engine.journal import ApprovalRecord, Journal
from opsflow.errors import OpsflowError
from opsflow.model.flow import FlowInput, Node
from opsflow.nodeapi import NodeOutcome

if TYPE_CHECKING:
    from opsflow.engine.local import ActiveRun

GROUP_PREFIX = "group:"
DECISIONS = ("approved", "rejected")


class ApprovalError(OpsflowError):
    """An answer to an approval that cannot be accepted."""


def groups_path() -> Path:
    """Where group membership for `group:NAME` approvers is kept (OPSFLOW_GROUPS overrides)."""
    override = os.environ.get("OPSFLOW_GROUPS")
    if override:
        return Path(override)
    return platformdirs.user_config_path("opsflow") / "groups.json"


def load_groups(path: Path | None = None) -> dict[str, list[str]]:
    path = path or groups_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ApprovalError(f"{path} cannot be read as a groups file: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(v, list) and all(isinstance(m, str) for m in v) for v in data.values()
    ):
        raise ApprovalError(
            f'{path} must map group names to lists of user names, e.g. {{"it-ops": ["alice"]}}'
        )
    return data


def check_approver(approvers: list[str], by: str) -> None:
    """Refuse `by` unless it is listed, directly or through a group."""
    name = by.strip()
    if not name:
        raise ApprovalError("say who decides with --as NAME")
    if name in approvers:
        return
    groups = [a.removeprefix(GROUP_PREFIX) for a in approvers if a.startswith(GROUP_PREFIX)]
    if groups:
        known = load_groups()
        if any(name in known.get(group, []) for group in groups):
            return
        missing = [g for g in groups if g not in known]
        if missing:
            raise ApprovalError(
                f"'{name}' is not among the approvers ({', '.join(approvers)}), and group "
                f"'{missing[0]}' is not defined in {groups_path()}; define it there"
            )
    raise ApprovalError(f"'{name}' may not decide this approval; approvers: {', '.join(approvers)}")


def check_answers(form: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Convert text answers to the form's types and check them; return the accepted answers."""
    properties: Mapping[str, Any] = (form or {}).get("properties", {})
    unknown = sorted(set(fields) - set(properties))
    if unknown:
        known = ", ".join(properties) or "none"
        raise ApprovalError(f"the form has no field '{unknown[0]}'; its fields are: {known}")
    answers: dict[str, Any] = {}
    for name, prop in properties.items():
        if name in fields:
            answers[name] = _answer(name, prop, fields[name])
        elif prop.get("default") is not None:
            answers[name] = prop["default"]
    for name in (form or {}).get("required", []):
        if answers.get(name) in (None, ""):
            raise ApprovalError(
                f"the form field '{name}' is required; give it with --field {name}=VALUE"
            )
    return answers


def _answer(name: str, prop: Mapping[str, Any], value: Any) -> Any:
    """Convert and check one answer with the same rules as flow inputs, plus text lengths."""
    spec = FlowInput(
        type=prop.get("type", "string"),
        enum=prop.get("enum"),
        pattern=prop.get("pattern"),
        minimum=prop.get("minimum"),
        maximum=prop.get("maximum"),
    )
    try:
        converted = coerce_value(name, spec, value, what="form field")
    except InputError as exc:
        raise ApprovalError(str(exc)) from None
    if isinstance(converted, str):
        if prop.get("minLength") is not None and len(converted) < prop["minLength"]:
            raise ApprovalError(
                f"form field '{name}' needs at least {prop['minLength']} characters"
            )
        if prop.get("maxLength") is not None and len(converted) > prop["maxLength"]:
            raise ApprovalError(f"form field '{name}' takes at most {prop['maxLength']} characters")
    return converted


def decide_in_journal(
    journal: Journal,
    run_id: str,
    node: str,
    decision: str,
    *,
    by: str,
    comment: str = "",
    fields: Mapping[str, Any] | None = None,
) -> ApprovalRecord:
    """Check and record a decision for a run that may be driven by another process."""
    if decision == "approved":
        chosen: Literal["approved", "rejected"] = "approved"
    elif decision == "rejected":
        chosen = "rejected"
    else:
        raise ApprovalError(f"'{decision}' is not a decision; use approve or reject")
    record = journal.approval(run_id, node)
    if record is None:
        raise ApprovalError(f"run {run_id} has no approval at node '{node}'")
    if record.pending:
        added = record.escalated_to if record.escalated_at is not None else None
        check_approver([*record.approvers, *(added if isinstance(added, list) else [])], by)
    answers = check_answers(record.form, fields or {})
    return journal.decide_approval(
        run_id,
        node,
        decision=chosen,
        by=by.strip(),
        comment=comment,
        fields=answers,
    )


def record_decision(
    run: ActiveRun,
    node: str,
    decision: str,
    *,
    by: str,
    comment: str = "",
    fields: Mapping[str, Any] | None = None,
) -> None:
    """A decision made in this process (terminal prompt, Studio) for a run it drives."""
    journal = run.runner.journal
    if journal is not None:
        decide_in_journal(journal, run.id, node, decision, by=by, comment=comment, fields=fields)
        run.decided.set()
        return
    request = run.approval_requests.get(node)
    if request is None or node in run.decisions:
        raise ApprovalError(f"node '{node}' of run {run.id} is not waiting for a decision")
    if decision not in DECISIONS:
        raise ApprovalError(f"'{decision}' is not a decision; use approve or reject")
    check_approver(request["approvers"], by)
    answers = check_answers(request.get("form"), fields or {})
    run.decisions[node] = {
        "decision": decision,
        "by": by.strip(),
        "at": time.time(),
        "comment": comment,
        "fields": answers,
    }
    run.decided.set()


async def wait_for_decision(run: ActiveRun, node: Node, params: dict[str, Any]) -> NodeOutcome:
    """Ask for a decision (once per run, also across resumes) and wait for it or the deadline."""
    if run.options.dry_run:
        notify.log_dry_run(run, node, params)
        run.log(
            node.id,
            "info",
            f"dry run: would ask {', '.join(params['approvers'])}; assuming approved",
        )
        form_model = getattr(run.runner.params[node.id], "form", None)
        form = form_model.to_json_schema() if form_model is not None else {}
        defaults = {
            name: prop["default"]
            for name, prop in (form.get("properties") or {}).items()
            if "default" in prop
        }
        # Shaped like a real decision, so later steps can be rendered in the dry run.
        return NodeOutcome(
            {
                "dry_run": True,
                "decision": "approved",
                "by": None,
                "at": None,
                "comment": "",
                "fields": defaults,
                "would_ask": params["approvers"],
            },
            "approved",
        )
    form_model = getattr(run.runner.params[node.id], "form", None)
    params = {**params, "form": form_model.to_json_schema() if form_model is not None else None}
    journal = run.runner.journal
    existing = journal.approval(run.id, node.id) if journal is not None else None
    now = time.time()
    if existing is not None:
        deadline, escalated = existing.deadline, existing.escalated_at is not None
    else:
        timeout = params.get("timeout_s")
        deadline = now + float(timeout) if timeout else None
        escalated = False
        run.emit(
            "approval_requested",
            node.id,
            {
                "approvers": params["approvers"],
                "message": params["message"],
                "form": params.get("form"),
                "deadline": deadline,
            },
        )
    requested_at = existing.requested_at if existing is not None else now
    escalate_after = params.get("escalate_after_min")
    escalate_at = requested_at + float(escalate_after) * 60 if escalate_after else None
    run.approval_requests[node.id] = params
    run.emit("node_waiting", node.id, {"reason": "approval", "until": deadline})
    run.waiting_approval.add(node.id)
    run.approval_started.set()
    run.flush()
    sending: set[asyncio.Task[None]] = set()
    if existing is None:  # asked before this resume: the approvers were told then
        _tell(run, node, params, sending, deadline=deadline)
    try:
        while True:
            decided = _decision(run, node.id)
            if decided is not None:
                await _settle(sending)
                run.emit("approval_decided", node.id, decided)
                run.flush()
                return NodeOutcome(decided, decided["decision"])
            now = time.time()
            if deadline is not None and now >= deadline:
                timed_out: dict[str, Any] = {
                    "decision": "timeout",
                    "by": None,
                    "at": now,
                    "comment": "",
                    "fields": {},
                }
                await _settle(sending)
                run.emit("approval_decided", node.id, timed_out)
                return NodeOutcome(timed_out, "timeout")
            if escalate_at is not None and not escalated and now >= escalate_at:
                escalated = True
                added = list(params.get("escalate_to", []))
                run.approval_requests[node.id] = {
                    **params,
                    "approvers": [*params["approvers"], *added],
                }
                run.emit("approval_escalated", node.id, {"to": added})
                run.flush()
                _tell(run, node, params, sending, deadline=deadline, escalated_to=added)
            await _sleep_until_news(run, [t for t in (deadline, escalate_at) if t is not None])
    finally:
        run.waiting_approval.discard(node.id)
        if run.left_waiting:  # `opsflow run` without a terminal: people must hear of it now
            await _settle(sending)
        for task in sending:  # aborted or interrupted: the messages are no longer awaited
            task.cancel()


def _tell(
    run: ActiveRun,
    node: Node,
    params: dict[str, Any],
    sending: set[asyncio.Task[None]],
    *,
    deadline: float | None,
    escalated_to: list[str] | None = None,
) -> None:
    """Start sending the request or escalation to the node's notify targets, beside the wait."""
    moment: notify.Moment = "request" if escalated_to is None else "escalation"
    targets = notify.targets_for(params, moment)
    if not targets:
        return
    notice = notify.compose(run, node, params, deadline=deadline, escalated_to=escalated_to)
    task = asyncio.ensure_future(notify.notify(run, node, notice, targets))
    sending.add(task)
    task.add_done_callback(sending.discard)


async def _settle(sending: set[asyncio.Task[None]]) -> None:
    """Let messages still on their way finish (each network wait is bounded) before going on."""
    if sending:
        await asyncio.wait(set(sending))


def _decision(run: ActiveRun, node: str) -> dict[str, Any] | None:
    journal = run.runner.journal
    if journal is None:
        return run.decisions.get(node)
    record = journal.approval(run.id, node)
    if record is None or record.decision is None or record.decision == "timeout":
        return None
    return {
        "decision": record.decision,
        "by": record.decided_by,
        "at": record.decided_at,
        "comment": record.comment or "",
        "fields": record.fields or {},
    }


async def _sleep_until_news(run: ActiveRun, moments: list[float]) -> None:
    """Wait for an in-process decision, the next poll of the journal, or a deadline."""
    delay = run.options.approval_poll_s if run.runner.journal is not None else 3600.0
    future = [m - time.time() for m in moments if m > time.time()]
    if future:
        delay = min(delay, *future)
    run.decided.clear()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(run.decided.wait(), max(delay, 0.0))

"""Poll triggers: a task per trigger that checks a URL every `interval_s` and starts a run when
the target goes down or comes back up, as its `fire_on` asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

import requests
import urllib3.exceptions
from requests.auth import AuthBase, HTTPBasicAuth

from opsflow.catalog.builtin.checks import check_http_url
from opsflow.catalog.builtin.triggers import PollParams
from opsflow.credentials import resolve
from opsflow.errors import OpsflowError
from opsflow.executors.http import request_error, without_userinfo
from opsflow.expr import ExpressionError
from opsflow.expr.evaluate import build_context, render_template
from opsflow.model.flow import Flow

if TYPE_CHECKING:
    from opsflow.serve.host import Fire

State = Literal["unknown", "up", "down"]
#: The header an api-key credential is sent in (as `action.http` does by default).
API_KEY_HEADER = "X-API-Key"
USER_AGENT = "opsflow-poll"


@dataclass(frozen=True)
class Check:
    """The answer to one check: a status, or an error sentence when there was none or it was
    not healthy."""

    status: int | None
    error: str | None
    checked_at: datetime

    @property
    def healthy(self) -> bool:
        return self.error is None


class PollTrigger:
    """Checks one URL for one poll trigger and starts a run on the transitions `fire_on` names.

    The target is up after one healthy check and down after `failures_before_down` failed
    checks in a row; before the first verdict it is unknown. A target already down at start
    counts as going down (one run with fire_on down or change); one up at start does not fire.
    Payload: {"url", "state", "previous", "status", "error", "checked_at"}. `interval_s`
    overrides the trigger's interval (tests, which cannot wait the 5 s minimum).
    """

    def __init__(
        self,
        label: str,
        params: PollParams,
        fire: Fire,
        *,
        flow: Flow,
        node: str,
        say: Callable[[str], None],
        interval_s: float | None = None,
    ) -> None:
        self.label = label
        self.params = params
        self.fire = fire
        self.say = say
        self.interval_s = params.interval_s if interval_s is None else interval_s
        self.url = _rendered_url(flow, node, params.url)
        #: The URL as shown in lines and payloads: without user:password.
        self.shown = without_userinfo(self.url)
        self.auth, self.headers = _credential(flow, node, params.credential)
        self.state: State = "unknown"
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    def describe(self) -> str:
        fires = "down or up" if self.params.fire_on == "change" else self.params.fire_on
        return f"poll  {self.label}  every {self.interval_s:g}s {self.shown} (fires on {fires})"

    def start(self) -> None:
        self._task = asyncio.create_task(self._serve(), name=f"poll {self.label}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            await self.observe(await asyncio.to_thread(self.check))
            await asyncio.sleep(max(0.0, self.interval_s - (loop.time() - began)))

    def check(self) -> Check:
        """GET the URL once (blocking; run it in a thread)."""
        at = datetime.now(UTC)
        timeout = self.params.timeout_s
        try:
            with warnings.catch_warnings():
                # verify_tls off is the user's explicit choice; it is not worth a warning per check.
                warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                with requests.get(
                    self.url,
                    headers={"User-Agent": USER_AGENT, **self.headers},
                    auth=self.auth,
                    timeout=(timeout, timeout),
                    verify=self.params.verify_tls,
                    allow_redirects=False,  # 3xx is judged as is, and no secret follows it
                    stream=True,  # the body is not needed
                ) as response:
                    status, reason = response.status_code, response.reason
        except (requests.RequestException, OSError, UnicodeError) as exc:
            return Check(None, str(request_error(exc, self.url, timeout)), at)
        if self.params.is_healthy(status):
            return Check(status, None, at)
        return Check(status, f"answered {status} {reason}".rstrip(), at)

    async def observe(self, check: Check) -> None:
        """Move the state machine on by one check; start a run if `fire_on` asks for it."""
        previous = self.state
        if check.healthy:
            self.failures = 0
            self.state = "up"
        else:
            self.failures += 1
            if self.failures >= self.params.failures_before_down:
                self.state = "down"
        if self.state == previous:
            return
        detail = f"answered {check.status}" if check.healthy else check.error
        self.say(f"{self.label} {self.shown} is {self.state} ({detail})")
        if self._fires(previous, self.state):
            await self.fire(
                {
                    "url": self.shown,
                    "state": self.state,
                    "previous": previous,
                    "status": check.status,
                    "error": check.error,
                    "checked_at": check.checked_at.isoformat(timespec="seconds"),
                }
            )

    def _fires(self, previous: State, state: State) -> bool:
        if state == "down":
            return self.params.fire_on in ("down", "change")
        return previous == "down" and self.params.fire_on in ("up", "change")


def _rendered_url(flow: Flow, node: str, url: str) -> str:
    """The URL with its template rendered against the flow's vars (the only names known)."""
    context = build_context(trigger=None, inputs={}, nodes={}, vars=flow.vars, run={})
    where = f"poll trigger '{node}' of flow '{flow.id}'"
    try:
        rendered = render_template(url, context)
    except ExpressionError as exc:
        raise OpsflowError(
            f"{where}: params.url cannot be rendered ({exc}); a poll URL may use only vars"
        ) from None
    try:
        check_http_url(str(rendered), "url")
    except ValueError as exc:
        raise OpsflowError(f"{where}: {exc}") from None
    return str(rendered)


def _credential(flow: Flow, node: str, name: str | None) -> tuple[AuthBase | None, dict[str, str]]:
    """The auth and headers a check sends for the trigger's credential."""
    if name is None:
        return None, {}
    declared = flow.credentials.get(name)
    credential = resolve(name, declared.kind if declared else None)
    missing = credential.missing_fields()
    if missing:
        raise OpsflowError(
            f"credential '{name}' of poll trigger '{node}' in flow '{flow.id}' has no "
            f"{', '.join(missing)}; set it with `opsflow credentials set {name}`"
        )
    fields = credential.fields
    if credential.kind == "basic":
        return HTTPBasicAuth(fields["username"], fields.get("password", "")), {}
    if credential.kind == "token":
        return None, {"Authorization": f"Bearer {fields['token']}"}
    if credential.kind == "api-key":
        return None, {API_KEY_HEADER: fields["key"]}
    raise OpsflowError(
        f"credential '{name}' of poll trigger '{node}' in flow '{flow.id}' is a "
        f"{credential.kind} credential; a poll check sends basic, token or api-key credentials"
    )

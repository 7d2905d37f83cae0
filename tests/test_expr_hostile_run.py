"""The hostile template corpus in a real `opsflow run` process: every template is refused with a
one-line error naming its node and the limit, and the process stays small and quick.

One flow holds the whole corpus, one `action.set_vars` node per template, chained through their
`error` (and `success`) ports so that each node is tried after the one before; the last one's
failure fails the run. The process's peak memory is its own maximum resident set size, as the
kernel reports it to the parent that reaps it, and is also read from its status (`VmHWM`)
while it runs. Each template's evaluation time is the time between the event before its
node's failure and that failure.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from opsflow.flowfile import parse_flow
from opsflow.validate import validate_flow
from tests.flowdocs import edge, flow_doc, node, write
from tests.test_expr_hostile import CONTEXT, ENDLESS, HOSTILE, STEPS

MAX_PEAK_BYTES = 300 * 1024 * 1024
MAX_EVALUATION_S = 2.0
#: The child may not map more than this, so a regression fails the test, not the machine.
ADDRESS_SPACE_BYTES = 4 * 1024**3

STATUS = Path("/proc/self/status")
pytestmark = pytest.mark.skipif(not STATUS.exists(), reason="reads a process's status")


def corpus_flow() -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """The flow, and for each hostile node its template and the pattern its refusal matches.

    Templates the validator already refuses (a reference to a node that is not there) would
    keep the whole flow from running; they are left out, and there are few.
    """
    pairs = HOSTILE + [(source, STEPS) for source in ENDLESS]
    templates = {f"h{index:03}": pair for index, pair in enumerate(pairs)}
    nodes = [node("start", "trigger.manual")]
    nodes += [
        {**node(node_id, "action.set_vars", values={"x": source}), "join": "any"}
        for node_id, (source, _) in templates.items()
    ]
    document = flow_doc(nodes, [])
    flow = parse_flow(json.dumps(document), "corpus.flow.json")
    refused = {d.node for d in validate_flow(flow) if d.severity == "error"}
    assert len(refused) <= 3, refused
    kept = [node_id for node_id in templates if node_id not in refused]
    document["nodes"] = [n for n in nodes if n["id"] not in refused]
    edges = [edge("start", "out", kept[0])]
    for source, target in itertools.pairwise(kept):
        edges += [edge(source, "error", target), edge(source, "success", target)]
    document["edges"] = edges
    return document, {node_id: templates[node_id] for node_id in kept}


def limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))


# Runs `opsflow ARGS` and, at exit, writes the process's own peak resident memory (VmHWM,
# which starts afresh at exec; the kernel's ru_maxrss would also count the pages of the
# forked test process before exec).
REPORTING_PEAK = """
import atexit, sys
def report():
    with open("/proc/self/status", encoding="ascii") as status:
        peak = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(path, "w", encoding="ascii") as out:
        out.write(peak)
atexit.register(report)
path, sys.argv = sys.argv[1], ["opsflow", *sys.argv[2:]]
from opsflow.cli.main import main
sys.exit(main())
"""


def run_measured(args: list[str], folder: Path, timeout_s: float) -> tuple[int, str, str, int, int]:
    """Run `opsflow ARGS`; its exit code, stdout, stderr, and peak memory in bytes (what
    the process reported at exit, and the last `VmHWM` read while it ran)."""
    out_path, err_path, peak_path = folder / "stdout", folder / "stderr", folder / "peak"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        child = subprocess.Popen(
            [sys.executable, "-c", REPORTING_PEAK, str(peak_path), *args],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            preexec_fn=limit_address_space,
        )
    deadline, hwm = time.monotonic() + timeout_s, 0
    status = rusage = None
    while status is None:
        try:
            lines = (STATUS.parent.parent / str(child.pid) / "status").read_text().splitlines()
            hwm = max([hwm] + [int(ln.split()[1]) * 1024 for ln in lines if ln[:6] == "VmHWM:"])
        except (OSError, ValueError, IndexError):
            pass  # it is exiting
        pid, status, rusage = os.wait4(child.pid, os.WNOHANG)
        if pid == 0:
            status = None
            if time.monotonic() > deadline:
                os.kill(child.pid, signal.SIGKILL)
                os.wait4(child.pid, 0)
                pytest.fail(f"opsflow run did not finish within {timeout_s} s")
            time.sleep(0.02)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert rusage is not None
    return (
        child.returncode,
        out_path.read_text(encoding="utf-8"),
        err_path.read_text(encoding="utf-8"),
        int(peak_path.read_text(encoding="ascii")) * 1024,  # kilobytes
        hwm,
    )


def test_the_hostile_corpus_in_a_real_run(tmp_path: Path) -> None:
    document, templates = corpus_flow()
    path = write(tmp_path / "corpus.flow.json", document)
    payload = json.dumps(CONTEXT["trigger"])
    started = time.monotonic()
    args = ["run", str(path), "--store", str(tmp_path / "j.sqlite"), "--json"]
    code, stdout, stderr, peak, hwm = run_measured(
        [*args, "--payload", payload], tmp_path, timeout_s=120
    )
    wall = time.monotonic() - started
    assert "Traceback" not in stdout + stderr, stderr[-3000:]
    events = [json.loads(line) for line in stdout.splitlines()]
    assert events and events[-1]["kind"] == "run_finished", stderr[-3000:]
    assert code == 1, stderr[-3000:]

    # every hostile node failed, with one line that names the limit
    failed = {e["node"]: e for e in events if e["kind"] == "node_failed"}
    succeeded = [
        e["node"] for e in events if e["kind"] == "node_succeeded" and e["node"] != "start"
    ]
    assert not succeeded, [templates[n][0] for n in succeeded]
    assert set(failed) == set(templates), sorted(set(templates) - set(failed))
    prefix = "cannot render its parameters: values.x: "
    for node_id, event in failed.items():
        error = event["data"]["error"]
        assert "\n" not in error and error.startswith(prefix), (node_id, error)
        assert re.search(templates[node_id][1], error), (templates[node_id][0], error)

    # the run fails on the last one, saying which node and why, in one line
    last = list(templates)[-1]
    outcome = events[-1]["data"]
    assert outcome["outcome"] == "failed"
    assert outcome["error"] == f"node '{last}' failed: {failed[last]['data']['error']}"

    # each evaluation was quick, and the process stayed small
    seconds = {}
    for before, event in itertools.pairwise(events):
        if event["kind"] == "node_failed":
            seconds[event["node"]] = event["at"] - before["at"]
    slowest = max(seconds, key=seconds.__getitem__)
    report = (
        f"{len(templates)} templates in {wall:.1f} s; peak memory {peak / 2**20:.0f} MiB "
        f"(VmHWM {hwm / 2**20:.0f} MiB); slowest {seconds[slowest]:.2f} s: "
        f"{templates[slowest][0][:80]!r}"
    )
    print(report)
    assert seconds[slowest] < MAX_EVALUATION_S, report
    assert max(peak, hwm) < MAX_PEAK_BYTES, report

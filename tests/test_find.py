"""Finding nodes by text: what matches, where, and in which order."""

from __future__ import annotations

from opsflow.catalog import default_catalog
from opsflow.find import Match, find_nodes, node_texts
from opsflow.model.flow import Flow


def sample() -> Flow:
    return Flow.model_validate(
        {
            "id": "find-me",
            "nodes": [
                {"id": "start", "type": "trigger.manual", "title": "Start by hand"},
                {
                    "id": "shell",
                    "type": "action.shell",
                    "description": "Restarts NGINX when the check fails",
                    "params": {
                        "command": ["systemctl", "restart", "nginx"],
                        "env": {"UNIT": "nginx.service"},
                        "timeout_s": 30,
                    },
                },
                {
                    "id": "http",
                    "type": "action.http",
                    "title": "Check health",
                    "params": {"url": "https://web01.example.com/health", "verify_tls": False},
                },
                {"id": "unplaced", "type": "action.wait", "params": {"seconds": 30}},
                {
                    "id": "if",
                    "type": "condition.if",
                    "params": {"condition": "nodes.http.output.status != 200"},
                },
            ],
            "layout": {
                "nodes": {
                    "start": {"x": 0, "y": 100},
                    "http": {"x": 240, "y": 100},
                    "if": {"x": 480, "y": 100},
                    "shell": {"x": 480, "y": -20},
                }
            },
        }
    )


def ids(matches: list[Match]) -> list[str]:
    return [m.node for m in matches]


def test_matches_come_in_reading_order_with_the_first_field_that_matched() -> None:
    assert find_nodes(sample(), "HTTP") == [
        Match("http", "id", "http"),
        Match("if", "params.condition", "nodes.http.output.status != 200"),
    ]


def test_id_title_type_description_and_every_parameter_are_searched_ignoring_case() -> None:
    flow = sample()
    assert find_nodes(flow, "by HAND") == [Match("start", "title", "Start by hand")]
    assert find_nodes(flow, "condition.") == [Match("if", "type", "condition.if")]
    assert find_nodes(flow, "ngINX") == [
        Match("shell", "description", "Restarts NGINX when the check fails")
    ]
    assert find_nodes(flow, "restart") == [
        Match("shell", "description", "Restarts NGINX when the check fails")
    ]
    assert find_nodes(flow, "systemctl") == [Match("shell", "params.command[0]", "systemctl")]
    assert find_nodes(flow, "timeout_s") == []  # parameter names are not searched
    assert find_nodes(flow, "UNIT") == [Match("shell", "params.env.UNIT", "UNIT")]
    assert find_nodes(flow, ".service") == [Match("shell", "params.env.UNIT", "nginx.service")]
    assert find_nodes(flow, "web01") == [
        Match("http", "params.url", "https://web01.example.com/health")
    ]
    # Numbers and booleans as JSON writes them; the unplaced node comes last.
    assert find_nodes(flow, "30") == [
        Match("shell", "params.timeout_s", "30"),
        Match("unplaced", "params.seconds", "30"),
    ]
    assert find_nodes(flow, "false") == [Match("http", "params.verify_tls", "false")]


def test_with_a_catalog_the_type_title_is_searched_too() -> None:
    flow = sample()
    assert find_nodes(flow, "shell command") == []
    title = default_catalog().get("action.shell")
    assert title is not None
    query = title.title.upper()
    assert find_nodes(flow, query, default_catalog()) == [Match("shell", "type", title.title)]


def test_a_blank_query_matches_nothing_and_surrounding_spaces_are_ignored() -> None:
    flow = sample()
    assert find_nodes(flow, "") == []
    assert find_nodes(flow, "   ") == []
    assert ids(find_nodes(flow, "  start ")) == ["start", "shell"]  # shell: "Restarts"
    assert find_nodes(flow, "no such text") == []


def test_node_texts_lists_every_searchable_text_once_in_report_order() -> None:
    node = sample().node_map()["shell"]
    assert list(node_texts(node)) == [
        ("id", "shell"),
        ("type", "action.shell"),
        ("description", "Restarts NGINX when the check fails"),
        ("params.command[0]", "systemctl"),
        ("params.command[1]", "restart"),
        ("params.command[2]", "nginx"),
        ("params.env.UNIT", "UNIT"),
        ("params.env.UNIT", "nginx.service"),
        ("params.timeout_s", "30"),
    ]

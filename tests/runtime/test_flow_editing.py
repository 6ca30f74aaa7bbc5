"""Flow-document edits as the canvas asks for them: what is refused, and that an edit never changes the document it
was given."""

import json

import pytest

from runtime.flow_editing import EditRefused, add_node, connect, delete_elements, move_nodes, set_node_data


def doc(*nodes: tuple[str, str, dict], edges: tuple[tuple[str, str, str], ...] = ()) -> dict:
    return {"schema": 1, "nodes": [{"id": i, "type": t, "position": {"x": 260 * n, "y": 0}, "data": d}
                                   for n, (i, t, d) in enumerate(nodes)],
            "edges": [{"id": f"e{n}", "source": s, "source_handle": h, "target": t}
                      for n, (s, h, t) in enumerate(edges, 1)]}


START, END = ("start", "start", {}), ("end", "end", {})
MESSAGE = ("hi", "send_message", {"text": "Hi", "buttons": []})


@pytest.mark.parametrize(("document", "source", "handle", "target", "reason"), [
    (doc(START, MESSAGE), "hi", "next", "start", "Nothing can lead into the Start step"),
    (doc(START, MESSAGE, END, edges=(("start", "next", "hi"),)), "start", "next", "end", "already leads somewhere"),
    (doc(START, MESSAGE), "hi", "b1", "start", "has no “b1” exit"),
    (doc(START), "start", "next", "gone", "no longer exists"),
])
def test_connections_the_canvas_refuses(document: dict, source: str, handle: str, target: str, reason: str) -> None:
    with pytest.raises(EditRefused, match=reason):
        connect(document, source, handle, target)


def test_edits_leave_the_previous_document_alone() -> None:
    before = doc(START, MESSAGE, END, edges=(("start", "next", "hi"), ("hi", "next", "end")))
    snapshot = json.dumps(before)
    moved = move_nodes(before, [{"id": "hi", "x": 300.4, "y": 90}])
    assert moved["nodes"][1]["position"] == {"x": 300, "y": 90}
    assert moved["nodes"][0] is before["nodes"][0]  # unchanged steps are shared, not copied
    assert [e["id"] for e in delete_elements(before, ["hi"])["edges"]] == []
    assert [e["id"] for e in delete_elements(before, [], ["e2"])["edges"]] == ["e1"]
    with_button = set_node_data(before, "hi", {"text": "Hi", "buttons": [{"id": "b1", "title": "Go"}]})
    assert with_button["edges"][1]["source_handle"] == "b1"  # the plain exit's connection moved to the button
    two = set_node_data(with_button, "hi", {"text": "Hi", "buttons": [{"id": "b2", "title": "No"}, {"id": "b3"}]})
    assert [e["id"] for e in two["edges"]] == ["e1"]  # b1 is gone and no single exit replaced it
    assert json.dumps(before) == snapshot


def test_a_new_step_never_lands_on_another() -> None:
    document = doc(START, MESSAGE)  # at x 0 and 260, y 0
    placed, node_id = add_node(document, "delay", {"x": 10, "y": 5})
    assert node_id == "delay_1" and placed["nodes"][-1]["position"] == {"x": 10, "y": 115}
    assert add_node(placed, "delay", {"x": 600, "y": 0})[0]["nodes"][-1]["position"] == {"x": 600, "y": 0}
    assert add_node(placed, "delay", {"x": 600, "y": 0})[1] == "delay_2"

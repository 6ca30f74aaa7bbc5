"""Edits of a flow document, as the canvas and the inspector ask for them (no UI here): add, move, connect, delete,
change a node's settings. Each returns a new document and raises EditRefused, in the admin's words, for an edit that
would break the document; validation (runtime/validation.py) judges everything else."""

import copy
from collections.abc import Iterable, Mapping

from runtime.node_types import NODE_TYPES

NODE_SPACE = (240, 110)  # room a node takes on the canvas (.rf-node is 210 px wide, about 60–100 px high)


class EditRefused(ValueError):
    """An edit the canvas asked for that would break the document; the message is for the admin."""


# Every edit returns a new document and never changes the one it is given: the unchanged nodes and edges are shared
# with the previous document (and the undo history), so an edit of a large flow costs little.


def add_node(document: Mapping, node_type: str, position: Mapping) -> tuple[dict, str]:
    """The document with a new node of `node_type` (default settings) at `position`, nudged off any node already
    there; returns it and the new node's id."""
    if node_type not in NODE_TYPES:
        raise EditRefused(f"There is no step type “{node_type}”.")
    taken = {node["id"] for node in document["nodes"]}
    node_id = next(f"{node_type}_{n}" for n in range(1, len(taken) + 2) if f"{node_type}_{n}" not in taken)
    x, y = _free_spot(document, round(position.get("x", 0)), round(position.get("y", 0)))
    node = {"id": node_id, "type": node_type, "position": {"x": x, "y": y},
            "data": NODE_TYPES[node_type].default_data()}
    return {**document, "nodes": [*document["nodes"], node]}, node_id


def _free_spot(document: Mapping, x: int, y: int) -> tuple[int, int]:
    """(x, y) when no node sits there, else the nearest place below, right, above or left where none does."""
    taken = [(node["position"]["x"], node["position"]["y"]) for node in document["nodes"]]
    width, height = NODE_SPACE
    for step in range(40):
        for dx, dy in ((0, step), (step, 0), (0, -step), (-step, 0)) if step else ((0, 0),):
            spot = (x + dx * width, y + dy * height)
            if all(abs(spot[0] - ox) >= width or abs(spot[1] - oy) >= height for ox, oy in taken):
                return spot
    return x, y


def move_nodes(document: Mapping, moves: Iterable[Mapping]) -> dict:
    where = {move["id"]: {"x": round(move["x"]), "y": round(move["y"])} for move in moves}
    nodes = [{**node, "position": where[node["id"]]} if node["id"] in where else node for node in document["nodes"]]
    return {**document, "nodes": nodes}


def connect(document: Mapping, source: str, handle: str, target: str) -> dict:
    """The document with the edge source/handle → target; refused when that exit is taken or the target cannot be
    entered. Validation judges everything else (loops, dead ends)."""
    nodes = {node["id"]: node for node in document["nodes"]}
    if source not in nodes or target not in nodes:
        raise EditRefused("That step no longer exists.")
    spec = NODE_TYPES.get(nodes[source]["type"])
    if spec is not None and handle not in spec.exits(nodes[source].get("data")):
        raise EditRefused(f"{spec.title} has no “{handle}” exit.")
    if nodes[target]["type"] == "start":
        raise EditRefused("Nothing can lead into the Start step; connect it to the first step instead.")
    if any(edge["source"] == source and edge["source_handle"] == handle for edge in document["edges"]):
        raise EditRefused("That exit already leads somewhere. Delete its connection first.")
    taken = {edge["id"] for edge in document["edges"]}
    edge_id = next(f"e{n}" for n in range(1, len(taken) + 2) if f"e{n}" not in taken)
    edge = {"id": edge_id, "source": source, "source_handle": handle, "target": target}
    return {**document, "edges": [*document["edges"], edge]}


def delete_elements(document: Mapping, node_ids: Iterable[str] = (), edge_ids: Iterable[str] = ()) -> dict:
    """The document without these nodes (and every edge touching them) and these edges."""
    gone, cut = set(node_ids), set(edge_ids)
    return {**document, "nodes": [node for node in document["nodes"] if node["id"] not in gone],
            "edges": [edge for edge in document["edges"]
                      if edge["id"] not in cut and edge["source"] not in gone and edge["target"] not in gone]}


def set_node_data(document: Mapping, node_id: str, data: Mapping) -> dict:
    """The document with the node's settings replaced. When one exit is swapped for another (a message's first
    button replaces its plain next step) the connection moves along; connections from exits that are gone go too."""
    old = next(node for node in document["nodes"] if node["id"] == node_id)
    new_node = {**old, "data": copy.deepcopy(dict(data))}
    nodes = [new_node if node["id"] == node_id else node for node in document["nodes"]]
    spec = NODE_TYPES.get(old["type"])
    if spec is None:
        return {**document, "nodes": nodes}
    before, after = spec.exits(old["data"]), spec.exits(new_node["data"])
    gone, new = [e for e in before if e not in after], [e for e in after if e not in before]
    moved = {gone[0]: new[0]} if len(gone) == len(new) == 1 else {}
    edges = [{**edge, "source_handle": moved[edge["source_handle"]]}
             if edge["source"] == node_id and edge["source_handle"] in moved else edge for edge in document["edges"]]
    return {**document, "nodes": nodes,
            "edges": [edge for edge in edges if edge["source"] != node_id or edge["source_handle"] in after]}

"""Canvas render time: a 300-node flow in the flow editor against the bare canvas, both in headless Chromium.

The app runs as `referflow serve` in a subprocess (as tests/e2e does) on a database holding the referral program and
a generated 300-node flow. The baseline, fair to the editor, is an empty NiceGUI page
(bench/support/bare_canvas_page.py, its own NiceGUI server in a subprocess) showing only the same canvas component
with the same nodes and edges, in a box the size of the editor's canvas: NiceGUI's own start-up is on both sides, so
the ratio is what the editor adds (its frame, palette, inspector, problems, validation and data). For reference it
also times Vue Flow alone on a static page (the same bundle mounted with plain `createApp`, no NiceGUI). A run ends
when all 300 node elements are in the page and a click on a node selects it. The pages take turns; the first round
warms the browser cache and is not counted. Each page is timed from the navigation to the selected node, as a user
would wait for it.
Also prints the server time to apply one edit (move a node: new document, validation, canvas view, saved draft).
Ends with `editor/baseline ratio: X.XX` (editor against the bare NiceGUI canvas page, best runs; target ≤ 1.2).
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from contextlib import AbstractContextManager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nicegui
from playwright.sync_api import Page, sync_playwright

from bench.support.app_process import serving, serving_app
from builder.canvas import BUNDLE, canvas_view
from runtime.flow_editing import move_nodes
from runtime.node_types import NODE_TYPES
from runtime.publishing import FlowChecks, names_of
from runtime.validation import WorkspaceIndex
from storage.db import open_database
from storage.fields_tags import load_choices
from storage.flows import create_flow, save_draft
from storage.models import Flow
from storage.workspace_io import import_workspace
from tests.helpers import subprocess_env

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "referral_program.json"
PASSWORD = "bench-password-123"
CHROMIUM_ARGS = ["--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--no-sandbox"]
KINDS = ["send_message", "ask", "condition", "set_field", "tag", "send_message", "delay", "randomizer",
         "notify_referrer", "send_referral_link"]


def main() -> None:
    options = _options()
    if not BUNDLE.is_file():
        sys.exit("The canvas bundle is missing: run 'make assets' first.")
    folder = Path(tempfile.mkdtemp(prefix="referflow-canvas-bench-"))
    try:
        flow_id, nodes, edges = build_database(folder / "referflow.db", options.nodes)
        static_url = serve_baseline(folder / "baseline", nodes, edges)
        graph_file = folder / "graph.json"
        graph_file.write_text(json.dumps({"nodes": nodes, "edges": edges}, ensure_ascii=False,
                                         separators=(",", ":")), encoding="utf-8")
        with run_app(folder) as app_url, run_bare_page(folder, graph_file) as bare_url:
            times = measure(app_url, flow_id, bare_url, static_url, options)
        edit = measure_edit(folder / "referflow.db", flow_id, options.rounds)
        report(options, times, edit)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7, help="counted page loads of each kind")
    return parser.parse_args()


# ---------------------------------------------------------------------------------------------- the data


def build_database(path: Path, size: int) -> tuple[int, list[dict], list[dict]]:
    """The referral program plus a flow of `size` nodes; returns its id and the canvas view of it."""
    database = open_database(url=f"sqlite:///{path}")
    try:
        with database.write_session() as session:
            import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
            flow_id = create_flow(session=session, name="Big flow", document=build_flow(size)).id
        document = build_flow(size)
        with database.session() as session:
            index = workspace_index(session)
            problems = FlowChecks(flow_id).problems(session=session, document=document, index=index)
        nodes, edges = canvas_view(document, index, problems)
    finally:
        database.dispose()
    return flow_id, nodes, edges


def build_flow(size: int) -> dict:
    """A start, then rows of ten steps of every kind, each leading to the next; conditions and buttons branch to the
    row below. Laid out on the editor's grid (260 × 160)."""
    nodes = [{"id": "n0", "type": "start", "position": {"x": 0, "y": 0}, "data": {}}]
    for i in range(1, size):
        kind = "end" if i == size - 1 else KINDS[i % len(KINDS)]
        data = NODE_TYPES[kind].default_data() | _settings(kind, i)
        nodes.append({"id": f"n{i}", "type": kind, "position": {"x": 260 * (i % 10), "y": 160 * (i // 10)},
                      "data": data})
    edges = []
    for node in nodes[:-1]:
        number = int(node["id"][1:])
        for k, handle in enumerate(NODE_TYPES[node["type"]].exits(node["data"])):
            target = number + 1 if k == 0 else min(size - 1, number + 10)
            edges.append({"id": f"e{len(edges) + 1}", "source": node["id"], "source_handle": handle,
                          "target": f"n{target}"})
    return {"schema": 1, "nodes": nodes, "edges": edges}


def _settings(kind: str, i: int) -> dict:
    return {
        "send_message": {"text": f"Message {i} for {{{{first_name}}}}",
                         "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"}] if i % 20 == 0
                         else []},
        "ask": {"text": "How many friends will you invite?", "field_id": 1},
        "condition": {"rules": [{"field_id": 1, "op": ">=", "value": 3}]},
        "set_field": {"field_id": 1, "op": "increase", "value": 1},
        "tag": {"tag_id": 2},
        "notify_referrer": {"text": "{{referred.first_name}} joined!"},
        "send_referral_link": {"entry_point_id": 1},
    }.get(kind, {})


def workspace_index(session) -> WorkspaceIndex:
    return names_of(load_choices(session=session))


# ---------------------------------------------------------------------------------------------- the two pages


def serve_baseline(folder: Path, nodes: list[dict], edges: list[dict]) -> str:
    """Vue Flow alone: the bundle and NiceGUI's Vue build as static files, the graph inline in the page."""
    folder.mkdir()
    shutil.copy(BUNDLE, folder / "flow_canvas.js")
    shutil.copy(Path(nicegui.__file__).parent / "static" / "vue.esm-browser.prod.js", folder / "vue.js")
    graph = json.dumps({"graph": json.dumps({"nodes": nodes, "edges": edges})})  # the props NiceGUI would send
    (folder / "index.html").write_text(BASELINE_PAGE.replace("GRAPH", graph), encoding="utf-8")
    handler = partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/index.html"


BASELINE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Vue Flow alone</title>
<script type="importmap">{"imports": {"vue": "./vue.js"}}</script></head>
<body style="margin:0">
<div id="app" style="width:1040px;height:620px;margin:120px 0 0 200px"></div>
<script type="module">
import { createApp, h } from "vue";
import FlowCanvas from "./flow_canvas.js";
const graph = GRAPH;
createApp({ render: () => h(FlowCanvas, graph) }).mount("#app");
</script></body></html>
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def run_app(folder: Path) -> AbstractContextManager[str]:
    """`referflow serve` on a free port, like the browser tests' live_app."""
    env = subprocess_env(REFERFLOW_ADMIN_PASSWORD=PASSWORD, REFERFLOW_STORAGE_SECRET="bench-secret")
    return serving_app(db=folder / "referflow.db", env=env, log_path=folder / "server.log")


def run_bare_page(folder: Path, graph_file: Path) -> AbstractContextManager[str]:
    """bench/support/bare_canvas_page.py: NiceGUI with nothing but the canvas, on a free port."""
    page = ROOT / "bench" / "support" / "bare_canvas_page.py"
    return serving(lambda port: [sys.executable, str(page), str(graph_file), str(port)], env=subprocess_env(),
                   log_path=folder / "bare-page.log")


PAGES = ("editor", "bare", "static")


def measure(app_url: str, flow_id: int, bare_url: str, static_url: str,
            options: argparse.Namespace) -> dict[str, list[float]]:
    """Load times of each page: the flow editor, the bare NiceGUI canvas page, Vue Flow alone."""
    urls = {"editor": f"{app_url}/flows/{flow_id}", "bare": bare_url, "static": static_url}
    times: dict[str, list[float]] = {page: [] for page in PAGES}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ.get("REFERFLOW_CHROMIUM", "/usr/bin/chromium"),
                                             headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        sign_in(context.new_page(), app_url)
        for round_ in range(options.rounds + 1):  # round 0 warms the cache
            for name in PAGES:
                page = context.new_page()
                seconds = time_until_interactive(page, urls[name], options.nodes)
                page.close()
                if round_:
                    times[name].append(seconds)
        browser.close()
    return times


def sign_in(page: Page, url: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Admin password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Log out").wait_for()
    page.close()


COUNT_NODES = "(document.querySelector('.rf-host')?.shadowRoot?.querySelectorAll('.vue-flow__node').length ?? 0)"


def time_until_interactive(page: Page, url: str, nodes: int) -> float:
    started = time.perf_counter()
    page.goto(url, wait_until="commit")
    page.wait_for_function(COUNT_NODES + f" === {nodes}", timeout=60_000, polling="raf")
    page.locator('.vue-flow__node[data-id="n1"]').click()
    page.wait_for_selector('.vue-flow__node.selected[data-id="n1"]', timeout=30_000)
    return time.perf_counter() - started


# ---------------------------------------------------------------------------------------------- one edit


def measure_edit(path: Path, flow_id: int, rounds: int) -> list[float]:
    """What the editor's server side does for one move: the new document, validation (the flow and the workspace),
    the canvas view, and the saved draft."""
    database = open_database(url=f"sqlite:///{path}")
    times = []
    try:
        with database.session() as session:
            index = workspace_index(session)
            stored = session.get(Flow, flow_id)
            document, version = stored.draft, stored.version
        checks = FlowChecks(flow_id)  # as one editor session keeps them
        for n in range(rounds * 4):
            started = time.perf_counter()
            document = move_nodes(document, [{"id": "n150", "x": 1000 + n, "y": 2400}])
            with database.session() as session:
                problems = checks.problems(session=session, document=document, index=index)
            canvas_view(document, index, problems)
            with database.write_session() as session:
                version = save_draft(session=session, flow_id=flow_id, document=document, base_version=version).version
            times.append(time.perf_counter() - started)
    finally:
        database.dispose()
    return times


def report(options: argparse.Namespace, times: dict[str, list[float]], edit: list[float]) -> None:
    """Best and median of each; the ratio is taken on the best runs (a shared machine only ever adds time)."""
    print(f"flow: {options.nodes} nodes in headless Chromium, {options.rounds} loads of each page after one warm-up")
    print(f"{'page':<34}{'best':>8}{'median':>9}   runs")
    names = {"static": "Vue Flow alone (static page)", "bare": "bare canvas (empty NiceGUI page)",
             "editor": "flow editor (NiceGUI page)"}
    for key in ("static", "bare", "editor"):
        runs = times[key]
        print(f"{names[key]:<34}{min(runs):>7.2f}s{statistics.median(runs):>8.2f}s   "
              + ", ".join(f"{t:.2f}" for t in runs))
    print(f"server time for one edit (move): {statistics.median(edit) * 1000:.1f} ms median of {len(edit)} "
          "(new document, validation of the flow and the workspace, canvas view, saved draft)")
    editor, bare, static = times["editor"], times["bare"], times["static"]
    print(f"editor/static Vue Flow ratio: {min(editor) / min(static):.2f} (NiceGUI's start-up included)")
    print(f"editor/baseline ratio (medians): {statistics.median(editor) / statistics.median(bare):.2f}")
    print(f"editor/baseline ratio: {min(editor) / min(bare):.2f} (baseline: the bare canvas on an empty NiceGUI page; "
          "target ≤ 1.2)")


if __name__ == "__main__":
    main()

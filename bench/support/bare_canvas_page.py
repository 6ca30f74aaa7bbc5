"""The canvas benchmark's fair baseline: an empty NiceGUI page showing only the bare flow canvas (Vue Flow in the
same component the editor uses) with a given graph, in a box the size of the editor's canvas. No frame, palette,
inspector, problems list, validation, database or sign-in: what the editor adds to NiceGUI's own start-up is what the
benchmark compares.

    python bench/support/bare_canvas_page.py GRAPH.json PORT
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nicegui import ui

from builder.canvas import FlowCanvas


def main() -> None:
    graph_file, port = Path(sys.argv[1]), int(sys.argv[2])
    graph = graph_file.read_text(encoding="utf-8")

    @ui.page("/")
    def bare() -> None:
        with ui.element("div").style("position: relative; width: 1040px; height: 620px; margin: 64px 0 0 200px"):
            canvas = FlowCanvas().classes("absolute-full")
            canvas._props["graph"] = graph  # the whole graph in the first render, as the editor's first show()

    ui.run(host="127.0.0.1", port=port, title="Bare canvas", reload=False, show=False, show_welcome_message=False)


if __name__ in {"__main__", "__mp_main__"}:
    main()

// The flow canvas: Vue Flow drawing the nodes and edges that Python sends, and reporting what the admin does.
// Python holds the document of record; this component only draws it, applies positions and selection locally while
// the admin drags or clicks, and emits every structural change (add, move, connect, delete) for Python to decide.
import { Teleport, h, markRaw, nextTick, onBeforeUnmount, onMounted, ref, shallowRef, watch } from "vue";
import { ConnectionMode, Handle, MarkerType, Position, VueFlow, getRectOfNodes, useVueFlow } from "@vue-flow/core";
import { Background } from "@vue-flow/background";
import { Controls } from "@vue-flow/controls";
import { MiniMap } from "@vue-flow/minimap";
import coreCss from "@vue-flow/core/dist/style.css";
import themeCss from "@vue-flow/core/dist/theme-default.css";
import controlsCss from "@vue-flow/controls/dist/style.css";
import minimapCss from "@vue-flow/minimap/dist/style.css";
import canvasCss from "./flow_canvas.css";

export const NODE_MIME = "application/x-referflow-node"; // what the palette puts in dataTransfer
const NODE_WIDTH = 210; // .rf-node width in flow_canvas.css
const MAP_LINGER_MS = 1800; // how long the minimap stays after the view stops moving
const BADGE_COLORS = { error: "#dc2626", warning: "#ea580c" };
let instances = 0;

const CSS = [coreCss, themeCss, controlsCss, minimapCss, canvasCss].join("\n");

// The canvas lives in a shadow root: the page's own styles (Quasar, Tailwind) neither restyle it nor make the
// browser recompute styles for thousands of canvas elements, and the page's Tailwind observer does not rescan them.
function attachShadowCanvas(host) {
  const root = host.shadowRoot ?? host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = CSS;
  const mount = document.createElement("div");
  mount.className = "rf-mount";
  root.replaceChildren(style, mount);
  return mount;
}

// One step of a flow: icon, title, summary, a badge when validation found problems, and its handles.
const StepNode = markRaw({
  name: "RfStepNode",
  inheritAttrs: false,
  props: ["id", "data", "selected"],
  render() {
    const data = this.data || {};
    const exits = data.exits || [];
    const inline = exits.length === 1 && !exits[0].label; // a lone unnamed exit sits on the title row
    const problems = data.problems || [];
    return h("div", {
      class: ["rf-node", `rf-node--${data.kind}`, data.badge && `rf-node--${data.badge}`, data.lit && "rf-node--lit"],
      "data-node-id": this.id,
      "data-kind": data.kind,
    }, [
      h("div", { class: "rf-node__head" }, [
        data.target ? h(Handle, { type: "target", position: Position.Left, class: "rf-handle rf-handle--in" }) : null,
        h("span", { class: "material-icons rf-node__icon" }, data.icon),
        h("span", { class: "rf-node__title" }, data.title),
        inline ? sourceHandle(exits[0]) : null,
      ]),
      data.badge ? h("span", {
        class: `rf-node__badge rf-node__badge--${data.badge}`, "data-badge": data.badge, title: problems.join("\n"),
      }, String(problems.length || "!")) : null,
      data.summary ? h("div", { class: "rf-node__summary", title: data.summary }, data.summary) : null,
      !inline && exits.length ? h("div", { class: "rf-node__exits" }, exits.map((exit) =>
        h("div", { class: "rf-exit", "data-exit": exit.id }, [
          h("span", { class: "rf-exit__label", title: exit.label }, exit.label),
          sourceHandle(exit),
        ]))) : null,
    ]);
  },
});

// Ctrl+Z / Ctrl+Y outside a text input is the canvas's undo and redo (Python handles the keys). The browser would
// also replay its own undo of the last text typed anywhere on the page (the flow name box, reverted and saved):
// that default is cancelled. Inside an input the keys are left alone, and Python's keyboard ignores them there.
function keepUndoOffInputs(event) {
  if (!(event.ctrlKey || event.metaKey) || !["z", "y"].includes(event.key.toLowerCase())) return;
  const target = event.composedPath()[0];
  const typing = target?.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target?.tagName);
  if (!typing) event.preventDefault();
}

function sourceHandle(exit) {
  // connectable: 1 — a handle that already has its edge cannot start another (one exit, one next step)
  return h(Handle, {
    id: exit.id, type: "source", position: Position.Right, connectable: 1, class: "rf-handle rf-handle--out",
    isValidConnection: acceptsConnection,
  });
}

function acceptsConnection(connection, { edges, targetNode }) {
  if (!targetNode?.data?.target) return false; // a start step has no way in
  return !edges.some((e) => e.source === connection.source && e.sourceHandle === connection.sourceHandle);
}

export default {
  name: "FlowCanvas",
  props: {
    graph: { type: String, default: '{"nodes":[],"edges":[]}' }, // JSON: {nodes, edges} in Vue Flow's shape
    editable: { type: Boolean, default: true },
  },
  emits: ["nodes_moved", "deleted", "connected", "selected", "node_dropped", "viewport", "ready"],
  setup(props, { emit }) {
    const flowId = `referflow-canvas-${++instances}`;
    const host = shallowRef(null);
    const shadowMount = shallowRef(null);
    const mapShown = ref(false);
    const store = useVueFlow(flowId);
    store.applyDefault.value = false; // positions and selection are applied here, structure by Python
    setGraph(props.graph);
    const pending = { removedNodes: new Set(), removedEdges: new Set(), scheduled: false };
    let lastSelection = "";
    let connecting = null;
    let fitted = false;
    let userMoved = false;

    store.onNodesChange((changes) => {
      store.applyNodeChanges(changes.filter((c) => c.type !== "remove" && c.type !== "add"));
      changes.filter((c) => c.type === "remove").forEach((c) => pending.removedNodes.add(c.id));
      afterChanges();
    });
    store.onEdgesChange((changes) => {
      store.applyEdgeChanges(changes.filter((c) => c.type !== "remove" && c.type !== "add"));
      changes.filter((c) => c.type === "remove").forEach((c) => pending.removedEdges.add(c.id));
      afterChanges();
    });
    store.onNodeDragStop(({ nodes }) => {
      emit("nodes_moved", { moves: nodes.map((n) => ({ id: n.id, x: Math.round(n.position.x), y: Math.round(n.position.y) })) });
    });
    store.onConnectStart((params) => { connecting = { ...params, done: false }; });
    store.onConnect((c) => {
      if (connecting) connecting.done = true;
      emit("connected", { source: c.source, source_handle: c.sourceHandle, target: c.target });
    });
    store.onConnectEnd((event) => setTimeout(() => connectOnNodeBody(event), 0));
    store.onNodesInitialized(() => {
      if (fitted) return;
      fitted = true;
      store.fitView({ padding: 0.1, maxZoom: 1 }).then(() => emit("ready", {}));
    });
    // The page may still be settling its layout after the first fit: keep the flow fitted until the admin pans,
    // zooms or touches the canvas at all (a drop, a drag): after that a resize (the problems list growing under the
    // canvas) must not make the view jump.
    store.onMoveStart(({ event }) => { if (event?.sourceEvent) userMoved = true; });
    watch(() => [store.dimensions.value.width, store.dimensions.value.height], () => {
      if (fitted && !userMoved) store.fitView({ padding: 0.1, maxZoom: 1 });
    });
    // Every way the view changes (wheel, drag, the zoom buttons, fitting) ends up here, once it settles.
    let settle = null;
    watch(() => [store.viewport.value.x, store.viewport.value.y, store.viewport.value.zoom], () => {
      clearTimeout(settle);
      settle = setTimeout(reportViewport, 200);
    });
    watch(() => props.graph, setGraph);

    function setGraph(text) {
      const { nodes, edges } = JSON.parse(text);
      store.setNodes(nodes);
      store.setEdges(edges.map(drawnEdge));
    }

    // Several changes arrive for one gesture (Delete removes nodes, then their edges): report them once.
    function afterChanges() {
      if (pending.scheduled) return;
      pending.scheduled = true;
      queueMicrotask(() => {
        pending.scheduled = false;
        if (pending.removedNodes.size || pending.removedEdges.size) {
          emit("deleted", { nodes: [...pending.removedNodes], edges: [...pending.removedEdges] });
          pending.removedNodes.clear();
          pending.removedEdges.clear();
        }
        const nodes = store.getSelectedNodes.value.map((n) => n.id);
        const edges = store.getSelectedEdges.value.map((e) => e.id);
        const key = JSON.stringify([nodes, edges]);
        if (key !== lastSelection) {
          lastSelection = key;
          emit("selected", { nodes, edges });
        }
      });
    }

    // Dropping a connection anywhere on a node's body connects to that node, not only on its small handle.
    function connectOnNodeBody(event) {
      const start = connecting;
      connecting = null;
      if (!start || start.done || start.handleType !== "source" || !event) return;
      const point = event.changedTouches?.[0] ?? event;
      const root = shadowMount.value?.getRootNode() ?? document; // inside the shadow root, not the page's host
      const element = root.elementFromPoint(point.clientX, point.clientY)?.closest(".vue-flow__node");
      const target = element && store.findNode(element.dataset.id);
      if (!target || target.id === start.nodeId) return;
      const connection = { source: start.nodeId, sourceHandle: start.handleId, target: target.id };
      if (acceptsConnection(connection, { edges: store.edges.value, targetNode: target })) {
        emit("connected", { source: start.nodeId, source_handle: start.handleId, target: target.id });
      }
    }

    // The minimap helps only when part of the flow is out of view; otherwise it would just cover steps.
    function updateMiniMap() {
      const nodes = store.getNodes.value;
      const { x, y, zoom } = store.viewport.value;
      const { width, height } = store.dimensions.value;
      if (!nodes.length || !width) return;
      const r = getRectOfNodes(nodes);
      const left = -x / zoom, top = -y / zoom, right = left + width / zoom, bottom = top + height / zoom;
      mapShown.value = r.x < left || r.y < top || r.x + r.width > right || r.y + r.height > bottom;
    }

    // The minimap shows while the admin moves around a flow larger than the view, and a little after; resting, it
    // would cover the steps in its corner.
    let mapTimer = null;
    let mapHovered = false;
    function showMiniMapForAWhile() {
      updateMiniMap();
      clearTimeout(mapTimer);
      if (mapShown.value) mapTimer = setTimeout(hideMiniMap, MAP_LINGER_MS);
    }
    function hideMiniMap() {
      if (mapHovered) mapTimer = setTimeout(hideMiniMap, MAP_LINGER_MS);
      else mapShown.value = false;
    }
    function hoverMiniMap(over) { mapHovered = over; }

    function reportViewport() {
      if (userMoved) showMiniMapForAWhile();
      const { x, y, zoom } = store.viewport.value;
      const { width, height } = store.dimensions.value;
      const center = { x: (width / 2 - x) / zoom, y: (height / 2 - y) / zoom };
      emit("viewport", { zoom, new_node_at: { x: Math.round(center.x - NODE_WIDTH / 2), y: Math.round(center.y - 30) } });
    }

    function onDragOver(event) {
      if (!props.editable || !event.dataTransfer?.types?.includes(NODE_MIME)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    }

    function onDrop(event) {
      const type = event.dataTransfer?.getData(NODE_MIME);
      if (!props.editable || !type) return;
      event.preventDefault();
      userMoved = true;
      const point = store.screenToFlowCoordinate({ x: event.clientX, y: event.clientY });
      emit("node_dropped", { type, x: Math.round(point.x - NODE_WIDTH / 2), y: Math.round(point.y - 20) });
    }

    // Python → canvas: the nodes that changed (whole views), the ids that went away, and the full edge list.
    function applyGraph(patch) {
      const changed = new Map((patch.nodes || []).map((node) => [node.id, node]));
      const removed = new Set(patch.removed || []);
      if (changed.size || removed.size) {
        const updated = [...changed.keys()];
        store.setNodes((current) => {
          const next = [];
          for (const node of current) {
            if (removed.has(node.id)) continue;
            next.push(changed.get(node.id) ?? node);
            changed.delete(node.id);
          }
          return next.concat([...changed.values()]);
        });
        nextTick(() => { store.updateNodeInternals(updated); });
      }
      if (patch.edges) store.setEdges(patch.edges.map(drawnEdge));
    }

    function selectNodes(ids) {
      const nodes = ids.map((id) => store.findNode(id)).filter(Boolean);
      store.removeSelectedElements();
      if (nodes.length) store.addSelectedNodes(nodes);
      return nodes.length;
    }

    function focusNode(id) {
      const node = store.findNode(id);
      if (!node) return false;
      selectNodes([id]);
      const { width, height } = node.dimensions;
      const zoom = Math.max(store.viewport.value.zoom, 0.8);
      store.setCenter(node.computedPosition.x + width / 2, node.computedPosition.y + height / 2, { zoom, duration: 300 });
      return true;
    }

    // A node the admin just added must not sit under the settings panel (`covered` px on the right of the
    // canvas) or outside the view: pan just enough to show it, without zooming.
    function revealNode(id, covered) {
      userMoved = true;
      return nextTick().then(() => {
        const node = store.findNode(id);
        if (!node) return false;
        const { x, y, zoom } = store.viewport.value;
        const { width, height } = store.dimensions.value;
        const w = (node.dimensions.width || NODE_WIDTH) * zoom, h = (node.dimensions.height || 70) * zoom;
        const left = node.computedPosition.x * zoom + x, top = node.computedPosition.y * zoom + y;
        const margin = 24;
        let dx = 0, dy = 0;
        if (left + w > width - covered - margin) dx = width - covered - margin - (left + w);
        if (left + dx < margin) dx = margin - left;
        if (top + h > height - margin) dy = height - margin - (top + h);
        if (top + dy < margin) dy = margin - top;
        if (dx || dy) store.setViewport({ x: x + dx, y: y + dy, zoom }); // at once: the admin acts on it next
        return true;
      });
    }

    function fitView() {
      return store.fitView({ padding: 0.15, maxZoom: 1, duration: 300 }).then(() => true);
    }

    onMounted(() => {
      shadowMount.value = attachShadowCanvas(host.value);
      if (props.editable) document.addEventListener("keydown", keepUndoOffInputs, true);
    });
    onBeforeUnmount(() => document.removeEventListener("keydown", keepUndoOffInputs, true));

    const onPointerDown = () => { userMoved = true; };
    return { flowId, host, shadowMount, mapShown, onDragOver, onDrop, onPointerDown, hoverMiniMap, applyGraph,
             selectNodes, focusNode, revealNode, fitView };
  },
  render() {
    const canvas = this.shadowMount ? h(Teleport, { to: this.shadowMount }, [this.renderCanvas()]) : null;
    return h("div", { ref: "host", class: "rf-host", style: "width: 100%; height: 100%" }, [canvas]);
  },
  methods: {
    renderCanvas() {
      const editable = this.editable;
      return h("div", { class: "rf-canvas", onDragover: this.onDragOver, onDrop: this.onDrop,
        onPointerdown: this.onPointerDown }, [
        h(VueFlow, {
          id: this.flowId,
          nodeTypes: { step: StepNode },
          applyDefault: false,
          connectionMode: ConnectionMode.Strict,
          deleteKeyCode: editable ? ["Delete", "Backspace"] : null,
          nodesDraggable: editable,
          nodesConnectable: editable,
          edgesUpdatable: false,
          minZoom: 0.1,
          maxZoom: 2,
          connectionRadius: 30,
          elevateEdgesOnSelect: true,
        }, {
          default: () => [
            h(Background, { gap: 20, patternColor: "#cbd5e1" }),
            h(Controls, { showInteractive: false }),
            this.mapShown ? h(MiniMap, { position: "bottom-left", class: "rf-minimap", pannable: true, zoomable: true,
              nodeColor: miniMapColor, nodeStrokeWidth: 2, width: 180, height: 120,
              onMouseenter: () => this.hoverMiniMap(true), onMouseleave: () => this.hoverMiniMap(false) }) : null,
          ],
        }),
      ]);
    },
  },
};

// Orthogonal edges with rounded corners and an arrowhead: branches that fan out from one step stay easy to follow.
function drawnEdge(edge) {
  return { ...edge, type: "smoothstep", markerEnd: MarkerType.ArrowClosed, pathOptions: { borderRadius: 10, offset: 24 } };
}

function miniMapColor(node) {
  return BADGE_COLORS[node.data?.badge] || (node.data?.kind === "start" ? "#4f46e5" : "#94a3b8");
}

"""The catalog's dependency graph as an SVG drawn on the server: who depends on whom, what is not Ready,
which channel routes and which sandboxes reach each capability.

Pure: :func:`build` turns capability, channel-exposure and sandbox objects into nodes and edges,
:func:`layout` gives each node a column (callers left of what they call) and a row, and the
``graph.svg`` template draws them. Called by :mod:`platform_api.portal.pages_catalog` with the objects the
viewer may see. A node that is not Ready says so in words, not only in colour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from platform_api.authz import team_of_capability
from platform_api.services.common import condition

__all__ = ["MAX_NODES", "Edge", "Graph", "Node", "build", "layout"]

Obj = dict[str, Any]
MAX_NODES = 150  # beyond this a drawing helps nobody: the page asks to narrow the search
COL_WIDTH, ROW_HEIGHT, NODE_WIDTH, NODE_HEIGHT, MARGIN = 230, 66, 190, 50, 10


@dataclass
class Node:
    id: str
    kind: str  # capability | missing | channel | sandbox
    label: str
    detail: str
    state: str  # ready | notready | unknown | missing | other
    href: str | None = None
    title: str = ""
    col: int = 0
    row: int = 0

    @property
    def x(self) -> int:
        return MARGIN + self.col * COL_WIDTH

    @property
    def y(self) -> int:
        return MARGIN + self.row * ROW_HEIGHT


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str  # depends | routes | reaches


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    @property
    def width(self) -> int:
        return 2 * MARGIN + (max((n.col for n in self.nodes.values()), default=0)) * COL_WIDTH + NODE_WIDTH

    @property
    def height(self) -> int:
        return 2 * MARGIN + (max((n.row for n in self.nodes.values()), default=0)) * ROW_HEIGHT + NODE_HEIGHT

    def not_ready(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.state in ("notready", "missing")]


def _cap_id(namespace: str, name: str) -> str:
    return f"cap:{namespace}/{name}"


def _cap_node(obj: Obj) -> Node:
    meta = obj.get("metadata", {})
    ns, name = str(meta.get("namespace") or ""), str(meta.get("name"))
    ready = condition(obj, "Ready")
    if ready is None or ready.get("status") not in ("True", "False"):
        state, detail = "unknown", "Ready: unknown"
    elif ready.get("status") == "True":
        state, detail = "ready", "Ready"
    else:
        state, detail = "notready", f"NOT Ready: {ready.get('reason') or 'no reason'}"
    team = team_of_capability(obj) or ns
    return Node(id=_cap_id(ns, name), kind="capability", label=name, detail=detail, state=state,
                href=f"/portal/capabilities/{team}/{name}", title=f"{ns}/{name} of team {team}: {detail}")


def build(capabilities: list[Obj], sandboxes: list[Obj]) -> Graph:
    """Nodes and edges of ``capabilities``, their dependencies, the channels exposing them and ``sandboxes``."""
    graph = Graph()
    for obj in capabilities:
        node = _cap_node(obj)
        graph.nodes[node.id] = node
    for obj in capabilities:
        meta = obj.get("metadata", {})
        ns = str(meta.get("namespace") or "")
        me = _cap_id(ns, str(meta.get("name")))
        for dep in (obj.get("spec") or {}).get("dependencies") or []:
            if not isinstance(dep, dict) or not dep.get("name"):
                continue
            target = _cap_id(str(dep.get("namespace") or ns), str(dep["name"]))
            if target not in graph.nodes:
                graph.nodes[target] = Node(id=target, kind="missing", label=str(dep["name"]),
                                           detail="not in this view or missing", state="missing")
            graph.edges.append(Edge(me, target, "depends"))
        for exposure in (obj.get("status") or {}).get("exposedOn") or []:
            if isinstance(exposure, dict) and exposure.get("channel"):
                cid = f"chan:{exposure['channel']}"
                graph.nodes.setdefault(cid, Node(id=cid, kind="channel", label=str(exposure["channel"]),
                                                 detail="channel", state="other"))
                graph.edges.append(Edge(cid, me, "routes"))
    for sbx in sandboxes:
        sid = f"sbx:{sbx.get('metadata', {}).get('name')}"
        for ref in (sbx.get("spec") or {}).get("allowedCapabilities") or []:
            if not isinstance(ref, dict):
                continue
            target = _cap_id(str(ref.get("namespace") or ""), str(ref.get("name")))
            if target in graph.nodes:
                graph.nodes.setdefault(sid, Node(id=sid, kind="sandbox", label=sid[4:], detail="partner sandbox",
                                                 state="other"))
                graph.edges.append(Edge(sid, target, "reaches"))
    return layout(graph)


def layout(graph: Graph) -> Graph:
    """Channels and sandboxes in column 0; a capability one column right of its rightmost caller."""
    col = {nid: (0 if n.kind in ("channel", "sandbox") else 1) for nid, n in graph.nodes.items()}
    for _ in range(len(graph.nodes)):  # longest-path relaxation; bounded, so a dependency cycle cannot loop
        changed = False
        for edge in graph.edges:
            if col[edge.target] < col[edge.source] + 1 and col[edge.source] + 1 <= len(graph.nodes):
                col[edge.target] = col[edge.source] + 1
                changed = True
        if not changed:
            break
    rows: dict[int, int] = {}
    for nid in sorted(graph.nodes, key=lambda i: (col[i], i)):
        node = graph.nodes[nid]
        node.col = col[nid]
        node.row = rows.get(node.col, 0)
        rows[node.col] = node.row + 1
    return graph

"""Cells of the built-in printers too long to sit in `tables.py`: Events, Services, selectors, pod templates.

Called by `tables.py` when it builds a Table for `kubectl get`. Each function mirrors the
printer of the same column in k8s.io/kubernetes pkg/printers/internalversion/printers.go
(`printEvent`, `printService`, `printDeployment`) and the formatting helpers they use
(`metav1.FormatLabelSelector`, `labels.FormatLabels`, `translateTimestampSince`). Pure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

__all__ = ["EVENT_COLUMNS", "containers", "human_age", "images", "label_map", "label_selector", "pod_readiness_gates",
           "pod_ready", "pod_restarts", "service_external_ip", "service_ports"]

Obj = dict[str, Any]


def human_age(timestamp: str | None) -> str:
    """kubectl's HumanDuration of the time since `timestamp`."""
    if not timestamp:
        return "<unknown>"
    try:
        then = dt.datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))  # also MicroTime (eventTime)
        if then.tzinfo is None:
            then = then.replace(tzinfo=dt.UTC)
    except ValueError:
        return "<invalid>"
    s = int((dt.datetime.now(dt.UTC) - then).total_seconds())
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    m, h, d = s // 60, s // 3600, s // 86400
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if h < 3:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y"


def _since(timestamp: Any) -> str:
    """translateTimestampSince: "<unknown>" for a zero time."""
    return human_age(timestamp) if timestamp else "<unknown>"


def label_map(selector: Any) -> str:
    """labels.FormatLabels: "k=v,k2=v2" sorted by key, "<none>" when empty."""
    if not isinstance(selector, dict) or not selector:
        return "<none>"
    return ",".join(f"{k}={selector[k]}" for k in sorted(selector))


def label_selector(selector: Any) -> str:
    """metav1.FormatLabelSelector: requirements sorted by key, "<none>" for an empty selector."""
    if not isinstance(selector, dict):
        return "<none>"
    reqs: list[tuple[str, str]] = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key", ""), expr.get("operator", ""), sorted(expr.get("values") or ())
        text = {"In": f"{key} in ({','.join(values)})", "NotIn": f"{key} notin ({','.join(values)})",
                "Exists": key, "DoesNotExist": f"!{key}"}.get(op, f"{key} {op}")
        reqs.append((key, text))
    if not reqs:
        return "<none>"
    return ",".join(text for _, text in sorted(reqs, key=lambda r: r[0]))


def _pod_containers(o: Obj) -> list[Obj]:
    spec = ((o.get("spec") or {}).get("template") or {}).get("spec") or {}
    return [c for c in spec.get("containers") or () if isinstance(c, dict)]


def containers(o: Obj) -> str:
    return ",".join(str(c.get("name", "")) for c in _pod_containers(o))


def images(o: Obj) -> str:
    return ",".join(str(c.get("image", "")) for c in _pod_containers(o))


def service_external_ip(o: Obj) -> str:
    """getServiceExternalIP: external IPs, load balancer ingress or <pending>, the external name, or <none>."""
    spec, status = o.get("spec") or {}, o.get("status") or {}
    kind = spec.get("type", "ClusterIP")
    external = list(spec.get("externalIPs") or ())
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    if kind == "LoadBalancer":
        ingress = [i.get("ip") or i.get("hostname") or "" for i in (status.get("loadBalancer") or {}).get("ingress") or ()]
        found = [*ingress, *external]
        return ",".join(found) if found else "<pending>"
    return ",".join(external) if external else "<none>"


def service_ports(o: Obj) -> str:
    """makePortString: "80/TCP", "80:30080/TCP" with a node port, "<none>" without ports."""
    out = []
    for p in (o.get("spec") or {}).get("ports") or ():
        node = f":{p['nodePort']}" if p.get("nodePort") else ""
        out.append(f"{p.get('port')}{node}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def pod_ready(o: Obj) -> str:
    """printPod's READY: ready containers over containers."""
    statuses = (o.get("status") or {}).get("containerStatuses") or ()
    total = len((o.get("spec") or {}).get("containers") or ())
    return f"{sum(1 for s in statuses if isinstance(s, dict) and s.get('ready'))}/{total}"


def pod_restarts(o: Obj) -> str:
    statuses = (o.get("status") or {}).get("containerStatuses") or ()
    return str(sum(int(s.get("restartCount") or 0) for s in statuses if isinstance(s, dict)))


def pod_readiness_gates(o: Obj) -> str:
    gates = (o.get("spec") or {}).get("readinessGates") or ()
    if not gates:
        return "<none>"
    conditions = {c.get("type"): c.get("status") for c in (o.get("status") or {}).get("conditions") or ()}
    return f"{sum(1 for g in gates if conditions.get(g.get('conditionType')) == 'True')}/{len(gates)}"


def _event_last_seen(o: Obj) -> str:
    series = o.get("series") or {}
    last = series.get("lastObservedTime") or o.get("lastTimestamp") or o.get("eventTime")
    count = int(o.get("count") or 0)
    if count > 1:
        first = o.get("firstTimestamp") or o.get("eventTime")
        return f"{_since(last)} (x{count} over {_since(first)})"
    return _since(last)


def _event_source(o: Obj) -> str:
    source = o.get("source") or {}
    component = source.get("component") or o.get("reportingComponent") or ""
    host = source.get("host") or o.get("reportingInstance") or ""
    return f"{component}, {host}" if host else component


def _event_object(o: Obj) -> str:
    involved = o.get("involvedObject") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _column(name: str, *, priority: int = 0, fmt: str = "", type_: str = "string") -> dict[str, Any]:
    return {"name": name, "type": type_, "format": fmt, "description": "", "priority": priority}


# printEvent's columns: no Name/Age at priority 0 (kubectl shows LAST SEEN, TYPE, REASON, OBJECT, MESSAGE).
EVENT_COLUMNS: list[tuple[dict[str, Any], Callable[[Obj], Any]]] = [
    (_column("Last Seen"), _event_last_seen),
    (_column("Type"), lambda o: o.get("type", "")),
    (_column("Reason"), lambda o: o.get("reason", "")),
    (_column("Object"), _event_object),
    (_column("Subobject", priority=1), lambda o: (o.get("involvedObject") or {}).get("fieldPath", "")),
    (_column("Source", priority=1), _event_source),
    (_column("Message"), lambda o: str(o.get("message", "")).strip()),
    (_column("First Seen", priority=1), lambda o: _since(o.get("firstTimestamp") or o.get("eventTime"))),
    (_column("Count", priority=1), lambda o: int(o.get("count") or 0)),
    (_column("Name", priority=1, fmt="name"), lambda o: o["metadata"].get("name", "")),
]

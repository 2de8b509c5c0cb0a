"""Per-route checks of a Channel: may this route be rendered, and is it Ready?

Pure over the operator's stores (raw capability bodies), no I/O. Called by the channel reconciler
for every route and by `render.channel.exposures_for`. A route is *renderable* when its
capabilities exist, may be exposed on this channel type and its canary is coherent; it is *Ready*
when it is renderable and every capability it routes to is Ready.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from finplane.models.channel import Route
from finplane.status.vocabulary import is_ready  # the one Ready reader (re-exported here)

__all__ = ["PUBLIC_TYPES", "RouteVerdict", "check_route", "exposure_refused", "is_ready"]

Obj = dict[str, Any]
Key = tuple[str, str]
#: Channel types reachable from outside the institution: `restricted` data is never routed there.
PUBLIC_TYPES = frozenset({"mobile", "web", "open-api", "iot"})


@dataclass(frozen=True)
class RouteVerdict:
    """Outcome of the checks of one route."""

    renderable: bool
    ready: bool
    reason: str
    message: str


def exposure_refused(channel_type: str, capability: Obj) -> bool:
    """A `restricted` capability on a public channel (until a CompliancePolicy waiver allows it)."""
    classification = (capability.get("spec") or {}).get("dataClassification")
    return channel_type in PUBLIC_TYPES and classification == "restricted"


def check_route(*, channel_type: str, route: Route, capabilities: Mapping[Key, Obj]) -> RouteVerdict:
    """The first problem of the route, in the order a user fixes them, or Ready/NotReady."""
    refs = [("capability", route.capability)] + ([("canary", route.canary.capability)] if route.canary else [])
    canary = route.canary
    if canary is not None:
        if canary.capability == route.capability:
            return RouteVerdict(False, False, "CanaryWeightInvalid",
                                "the canary is the route's own capability, so the weights split nothing; "
                                "point canary.capability at the other version")
        if canary.capability.namespace != route.capability.namespace:
            return RouteVerdict(False, False, "CanaryWeightInvalid",
                                f"the canary must be in namespace {route.capability.namespace} like the route's "
                                "capability (one route object splits traffic between Services of one namespace)")
    missing = [f"{ref.namespace}/{ref.name}" for _, ref in refs if (ref.namespace, ref.name) not in capabilities]
    if missing:
        return RouteVerdict(False, False, "CapabilityMissing",
                            f"BusinessCapability {', '.join(missing)} does not exist; create it or fix the route")
    refused = [f"{ref.namespace}/{ref.name}" for _, ref in refs
               if exposure_refused(channel_type, capabilities[(ref.namespace, ref.name)])]
    if refused:
        return RouteVerdict(False, False, "ExposureRefused",
                            f"{', '.join(refused)} is classified restricted and cannot be exposed on the public "
                            f"{channel_type} channel without a CompliancePolicy waiver")
    unready = [f"{ref.namespace}/{ref.name}" for _, ref in refs if not is_ready(capabilities[(ref.namespace, ref.name)])]
    if unready:
        return RouteVerdict(True, False, "CapabilityNotReady", f"not Ready yet: {', '.join(unready)}")
    weight = f" ({canary.weight}% to the canary)" if canary is not None and canary.weight is not None else ""
    return RouteVerdict(True, True, "RouteReady", f"routed to {route.capability.namespace}/{route.capability.name}"
                        + weight)

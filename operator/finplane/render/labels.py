"""The labels every child carries, so that policies, channels and the catalog can select them.

Pure; called by every renderer.
"""

from __future__ import annotations

from finplane.names import MANAGED_BY_LABEL, MANAGED_BY_VALUE

__all__ = ["MANAGED_BY", "capability_labels", "selector_labels"]

MANAGED_BY = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}


def selector_labels(name: str) -> dict[str, str]:
    """The immutable labels a Deployment selects its pods by (never change them after creation)."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": name}


def capability_labels(*, name: str, team: str, domain: str, classification: str, version: str | None) -> dict[str, str]:
    labels = {
        **selector_labels(name),
        "app.kubernetes.io/component": "business-capability",
        "app.kubernetes.io/part-of": domain,
        **MANAGED_BY,
        "finplane.io/capability": name,
        "finplane.io/team": team,
        "finplane.io/domain": domain,
        "finplane.io/data-classification": classification,
    }
    if version:
        labels["app.kubernetes.io/version"] = version[:63]
    return labels

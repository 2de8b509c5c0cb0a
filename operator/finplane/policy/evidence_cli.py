"""Kept for the importers of `LOG_NAME` (the compliance reconciler, the platform API's audit log).

The `finplane evidence` commands moved to `finplane.commands.evidence`; `LOG_NAME` lives in
`finplane.policy.evidence`. Import it from there; this module goes once nothing imports it.
"""

from __future__ import annotations

from finplane.policy.evidence import LOG_NAME

__all__ = ["LOG_NAME"]

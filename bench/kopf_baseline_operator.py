"""The straightforward kopf operator a user would write instead of Finplane: the baseline of bench/baseline.py.

One create/update handler per BusinessCapability renders the same 6 children Finplane renders
(`finplane.render.capability`, stamped with the same owner reference and hash), applies each once
with server-side apply, and marks the capability Ready in the same patch kopf writes its own
progress with. Everything else is kopf's defaults: its progress and diff-base annotations, its
"Handler succeeded" events, no watches of the children (so no drift repair and no rollout
tracking: Ready comes before the Deployment is available). Run by bench/baseline.py as
`python -m kopf run --standalone --liveness URL bench/kopf_baseline_operator.py -n NS`; the
children are applied over a plain aiohttp session (no proxy lookups), as a user's own client would.
"""

from __future__ import annotations

import json
import os
from typing import Any

import aiohttp
import kopf

from finplane.kube.resources import resource_for
from finplane.models.business_capability import BusinessCapabilitySpec
from finplane.reconcile.children import stamp
from finplane.render.capability import render_capability
from finplane.settings import Settings

SETTINGS = Settings()
SERVER = os.environ["BASELINE_SERVER"]  # the embedded API server's URL (plain HTTP on 127.0.0.1)
_session: aiohttp.ClientSession | None = None


@kopf.on.cleanup()
async def _close(**_: Any) -> None:
    if _session is not None:
        await _session.close()


@kopf.on.create("finplane.io", "v1alpha1", "businesscapabilities")
@kopf.on.update("finplane.io", "v1alpha1", "businesscapabilities")
async def apply_children(body: kopf.Body, spec: kopf.Spec, name: str, namespace: str, patch: kopf.Patch,
                         **_: Any) -> None:
    global _session
    if _session is None:
        _session = aiohttp.ClientSession(SERVER, headers={"User-Agent": "kopf-baseline/1"})
    owner = {"apiVersion": body["apiVersion"], "kind": body["kind"],
             "metadata": {"name": name, "uid": body["metadata"]["uid"]}}
    model = BusinessCapabilitySpec.model_validate(dict(spec))
    for child in render_capability(name=name, namespace=namespace, spec=model, settings=SETTINGS):
        child = stamp(child, owner)
        res = resource_for(child["apiVersion"], child["kind"])
        async with _session.patch(res.path(namespace=namespace, name=child["metadata"]["name"]),
                                  data=json.dumps(child), params={"fieldManager": "kopf-baseline", "force": "true"},
                                  headers={"Content-Type": "application/apply-patch+yaml"}) as resp:
            if resp.status >= 400:
                raise kopf.TemporaryError(f"apply {child['kind']}: {resp.status} {await resp.text()}", delay=1)
    patch.status["observedGeneration"] = body["metadata"].get("generation")
    patch.status["conditions"] = [{"type": "Ready", "status": "True", "reason": "Applied", "message": "",
                                   "lastTransitionTime": "2026-01-01T00:00:00Z"}]

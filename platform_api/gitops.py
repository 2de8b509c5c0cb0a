"""Objects Git owns: detect them (Argo CD, Flux) and, when told to, refuse the API's writes to them with 409.

Called by `platform_api.deps` (the write gateway every route gets): with `gitops_writes=refuse`
(FINPLANE_API_GITOPS_WRITES), `GitOwnedGuard` wraps the writer so that a replace, merge patch or delete
of a finplane.io object that a GitOps tool manages is answered 409 `ManagedByGitOps`, naming the tool
and the application, before anything is written. The live object (read through the writer, not the
caller's body) decides, so a caller cannot drop the tracking label to get past it. Creating objects is
never refused: a new name has no Git owner yet. Other kinds (the API's own waiver ConfigMaps) pass.

Detection (docs/gitops.md): Argo CD's `argocd.argoproj.io/tracking-id` annotation (annotation tracking,
the default since Argo CD 3.0) or one of `gitops_tracking_labels` (label tracking; Argo CD's default label
is `app.kubernetes.io/instance`, which Finplane's own children carry, so it is not listed by default);
Flux's `kustomize.toolkit.fluxcd.io/name` or `helm.toolkit.fluxcd.io/name` labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from finplane.kube import errors as kerr
from platform_api.problems import Problem
from platform_api.state import Writer

__all__ = ["ARGOCD_TRACKING_ID", "FLUX_LABELS", "GitOwnedGuard", "git_owner"]

Obj = dict[str, Any]
ARGOCD_TRACKING_ID = "argocd.argoproj.io/tracking-id"
#: Flux labels: the Kustomization or HelmRelease (name, namespace) that applied the object.
FLUX_LABELS = (("kustomize.toolkit.fluxcd.io", "Kustomization"), ("helm.toolkit.fluxcd.io", "HelmRelease"))
GROUP = "finplane.io/"


def git_owner(obj: Mapping[str, Any] | None, *, tracking_labels: Iterable[str] = ()) -> str | None:
    """Which GitOps tool manages `obj` ("Argo CD application payments", "Flux Kustomization flux-system/apps")."""
    meta = (obj or {}).get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    tracking = annotations.get(ARGOCD_TRACKING_ID)
    if isinstance(tracking, str) and tracking:
        return f"Argo CD application {tracking.split(':', 1)[0]}"
    for label in tracking_labels:
        if labels.get(label):
            return f"Argo CD application {labels[label]}"
    for prefix, kind in FLUX_LABELS:
        name = labels.get(f"{prefix}/name")
        if name:
            where = labels.get(f"{prefix}/namespace")
            return f"Flux {kind} {where + '/' if where else ''}{name}"
    return None


class GitOwnedGuard:
    """A `Writer` that refuses changes to Git-owned finplane.io objects (409) and passes everything else on."""

    def __init__(self, inner: Writer, *, tracking_labels: Iterable[str] = ()) -> None:
        self.inner = inner
        self.tracking_labels = tuple(tracking_labels)

    async def _refuse_if_owned(self, api_version: str, kind: str, name: str, namespace: str | None,
                               action: str) -> None:
        if not api_version.startswith(GROUP):
            return
        try:
            live = await self.inner.get(api_version, kind, name, namespace)
        except kerr.NotFound:
            return  # the write itself answers 404
        owner = git_owner(live, tracking_labels=self.tracking_labels)
        if owner is not None:
            where = f"{namespace}/{name}" if namespace else name
            raise Problem(409, f"{kind} {where} is managed from Git by {owner}: the platform API does not {action} "
                               "it; change it in its Git repository (docs/gitops.md).",
                          slug="managed-by-gitops", reason="ManagedByGitOps")

    async def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> Obj:
        return await self.inner.get(api_version, kind, name, namespace)

    async def create(self, body: Obj) -> Obj:
        return await self.inner.create(body)

    async def replace(self, body: Obj) -> Obj:
        meta = body.get("metadata") or {}
        await self._refuse_if_owned(body.get("apiVersion", ""), body.get("kind", ""), meta.get("name", ""),
                                    meta.get("namespace"), "change")
        return await self.inner.replace(body)

    async def patch_merge(self, api_version: str, kind: str, name: str, patch: Obj,
                          namespace: str | None = None) -> Obj:
        await self._refuse_if_owned(api_version, kind, name, namespace, "change")
        return await self.inner.patch_merge(api_version, kind, name, patch, namespace)

    async def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> None:
        await self._refuse_if_owned(api_version, kind, name, namespace, "delete")
        await self.inner.delete(api_version, kind, name, namespace)
